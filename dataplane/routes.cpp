// dataplane/routes.cpp - (being written)
