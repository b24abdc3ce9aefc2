// dataplane/esp_codec.cpp - (being written)
