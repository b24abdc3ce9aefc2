// config/summary.cpp - (being written)
#include "config/loader.hpp"
