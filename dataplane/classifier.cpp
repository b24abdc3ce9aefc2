// dataplane/classifier.cpp - (being written)
