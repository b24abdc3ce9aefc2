// control/peer_policy.cpp - (being written)
