// control/event_loop.hpp - the control core's single-threaded event loop.
//
// Sleeps in epoll_wait until a file descriptor is readable or the earliest timer
// is due; never busy-polls. Timers are events: a handle {slot, generation} is
// returned by add_timer(); a cancelled or fired timer's handle resolves to
// nothing, so stale handles in deferred work are harmless (STYLE.md rule 10).
// Periodic work (draining the data plane's punt rings, RCU reclamation) is an
// ordinary repeating timer.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

namespace peregrine::control {

using MonoMs = int64_t;  // monotonic milliseconds (CLOCK_MONOTONIC)
MonoMs monotonic_ms();

struct TimerHandle {
    uint32_t slot = UINT32_MAX;
    uint32_t generation = 0;
};

class EventLoop {
public:
    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;
    bool ok() const { return epfd_ >= 0; }

    // Call `fn` when `fd` is readable (level-triggered). Returns false on error.
    bool watch(int fd, std::function<void()> fn);
    void unwatch(int fd);

    // One-shot timer at now+delay; `period` > 0 makes it repeat.
    TimerHandle add_timer(MonoMs delay, std::function<void()> fn, MonoMs period = 0);
    void cancel(TimerHandle h);

    // Run until stop() (from a callback or a signal handler via stop_fd()).
    void run();
    void stop() { stopping_ = true; }
    // Process what is due now, waiting at most `max_wait` ms; for tests.
    void run_once(MonoMs max_wait);

private:
    struct Timer {
        uint32_t generation = 0;
        bool active = false;
        MonoMs due = 0;
        MonoMs period = 0;
        std::function<void()> fn;
    };
    void fire_due(MonoMs now);
    MonoMs next_due() const;

    int epfd_ = -1;
    bool stopping_ = false;
    std::map<int, std::function<void()>> fds_;
    std::vector<Timer> timers_;
    std::vector<uint32_t> free_slots_;
    std::multimap<MonoMs, uint32_t> queue_;  // due -> slot (stale entries skipped)
};

}  // namespace peregrine::control
