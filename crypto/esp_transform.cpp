// crypto/esp_transform.cpp - (being written)
