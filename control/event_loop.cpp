// control/event_loop.cpp
#include "control/event_loop.hpp"

#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace peregrine::control {

MonoMs monotonic_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return MonoMs(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

EventLoop::EventLoop() : epfd_(epoll_create1(EPOLL_CLOEXEC)) {}
EventLoop::~EventLoop() {
    if (epfd_ >= 0) close(epfd_);
}

bool EventLoop::watch(int fd, std::function<void()> fn) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
    fds_[fd] = std::move(fn);
    return true;
}

void EventLoop::unwatch(int fd) {
    epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    fds_.erase(fd);
}

TimerHandle EventLoop::add_timer(MonoMs delay, std::function<void()> fn, MonoMs period) {
    uint32_t slot;
    if (!free_slots_.empty()) {
        slot = free_slots_.back();
        free_slots_.pop_back();
    } else {
        slot = uint32_t(timers_.size());
        timers_.emplace_back();
    }
    Timer& t = timers_[slot];
    t.active = true;
    t.due = monotonic_ms() + (delay < 0 ? 0 : delay);
    t.period = period;
    t.fn = std::move(fn);
    queue_.emplace(t.due, slot);
    return {slot, t.generation};
}

void EventLoop::cancel(TimerHandle h) {
    if (h.slot >= timers_.size()) return;
    Timer& t = timers_[h.slot];
    if (!t.active || t.generation != h.generation) return;  // stale handle: nothing
    t.active = false;
    t.fn = nullptr;
    ++t.generation;
    free_slots_.push_back(h.slot);
}

MonoMs EventLoop::next_due() const {
    for (const auto& [due, slot] : queue_) {
        const Timer& t = timers_[slot];
        if (t.active && t.due == due) return due;
    }
    return -1;
}

void EventLoop::fire_due(MonoMs now) {
    while (!queue_.empty() && queue_.begin()->first <= now) {
        const auto [due, slot] = *queue_.begin();
        queue_.erase(queue_.begin());
        Timer& t = timers_[slot];
        if (!t.active || t.due != due) continue;  // cancelled or re-armed: stale entry
        auto fn = t.fn;  // the callback may cancel its own timer
        if (t.period > 0) {
            t.due = now + t.period;
            queue_.emplace(t.due, slot);
        } else {
            t.active = false;
            t.fn = nullptr;
            ++t.generation;
            free_slots_.push_back(slot);
        }
        fn();
    }
}

void EventLoop::run_once(MonoMs max_wait) {
    MonoMs wait = max_wait;
    const MonoMs due = next_due();
    if (due >= 0) {
        const MonoMs until = due - monotonic_ms();
        wait = until < 0 ? 0 : (wait < 0 || until < wait ? until : wait);
    }
    epoll_event evs[16];
    const int n = epoll_wait(epfd_, evs, 16, int(wait));
    for (int i = 0; i < n; ++i) {
        auto it = fds_.find(evs[i].data.fd);
        if (it != fds_.end()) {
            auto fn = it->second;
            fn();
        }
    }
    fire_due(monotonic_ms());
}

void EventLoop::run() {
    stopping_ = false;
    while (!stopping_) run_once(-1);
}

}  // namespace peregrine::control
