// dataplane/pkt_parse.cpp - (being written)
