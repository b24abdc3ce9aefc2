// config/loader.cpp - (being written)
#include "config/loader.hpp"
