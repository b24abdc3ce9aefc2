// dataplane/replay_window.cpp - (being written)
