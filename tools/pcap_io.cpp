// tools/pcap_io.cpp - classic pcap reader/writer (see the header).
#include "tools/pcap_io.hpp"

#include <cerrno>
#include <cstring>

namespace peregrine::tools {

namespace {

constexpr uint32_t kMagicMicro = 0xa1b2c3d4;
constexpr uint32_t kMagicNano = 0xa1b23c4d;

uint32_t bswap32(uint32_t v) {
    return __builtin_bswap32(v);
}
uint32_t rd32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
void wr32(uint8_t* p, uint32_t v) {
    std::memcpy(p, &v, 4);
}
void wr16(uint8_t* p, uint16_t v) {
    std::memcpy(p, &v, 2);
}

}  // namespace

PcapReader::~PcapReader() {
    if (f_) std::fclose(f_);
}

bool PcapReader::open(const std::string& path, std::string& err) {
    path_ = path;
    f_ = std::fopen(path.c_str(), "rb");
    if (!f_) {
        err = path + ": " + std::strerror(errno);
        return false;
    }
    uint8_t h[24];
    if (std::fread(h, 1, sizeof h, f_) != sizeof h) {
        err = path + ": not a pcap file: shorter than the 24-byte global header";
        return false;
    }
    uint32_t magic = rd32(h);
    if (magic == kMagicMicro || magic == kMagicNano) {
        swap_ = false;
    } else if (bswap32(magic) == kMagicMicro || bswap32(magic) == kMagicNano) {
        swap_ = true;
        magic = bswap32(magic);
    } else {
        err = path + ": not a classic pcap file (bad magic; pcapng is not supported)";
        return false;
    }
    nano_ = magic == kMagicNano;
    auto v32 = [&](const uint8_t* p) { return swap_ ? bswap32(rd32(p)) : rd32(p); };
    snaplen_ = v32(h + 16);
    linktype_ = v32(h + 20) & 0x0fffffff;  // upper bits: FCS length flags
    return true;
}

PcapReader::Status PcapReader::next(PcapRecord& rec, std::string& err) {
    uint8_t h[16];
    const size_t n = std::fread(h, 1, sizeof h, f_);
    if (n == 0 && std::feof(f_)) return Status::eof;
    const std::string where = path_ + ": record " + std::to_string(count_ + 1);
    if (n != sizeof h) {
        err = where + ": truncated record header (" + std::to_string(n) + " < 16 bytes)";
        return Status::error;
    }
    auto v32 = [&](const uint8_t* p) { return swap_ ? bswap32(rd32(p)) : rd32(p); };
    rec.ts_sec = v32(h);
    rec.ts_frac = v32(h + 4);
    const uint32_t incl = v32(h + 8);
    rec.orig_len = v32(h + 12);
    if (incl > kMaxRecord) {
        err = where + ": captured length " + std::to_string(incl) + " exceeds " +
              std::to_string(kMaxRecord);
        return Status::error;
    }
    rec.data.resize(incl);
    if (incl && std::fread(rec.data.data(), 1, incl, f_) != incl) {
        err =
            where + ": truncated packet data (file ends before " + std::to_string(incl) + " bytes)";
        return Status::error;
    }
    ++count_;
    return Status::record;
}

PcapWriter::~PcapWriter() {
    std::string ignored;
    close(ignored);
}

bool PcapWriter::open(const std::string& path, uint32_t linktype, std::string& err, bool nanosecond,
                      uint32_t snaplen) {
    path_ = path;
    snaplen_ = snaplen;
    f_ = std::fopen(path.c_str(), "wb");
    if (!f_) {
        err = path + ": " + std::strerror(errno);
        return false;
    }
    uint8_t h[24] = {};
    wr32(h, nanosecond ? kMagicNano : kMagicMicro);
    wr16(h + 4, 2);
    wr16(h + 6, 4);
    wr32(h + 16, snaplen);
    wr32(h + 20, linktype);
    if (std::fwrite(h, 1, sizeof h, f_) != sizeof h) {
        err = path + ": write failed: " + std::strerror(errno);
        return false;
    }
    return true;
}

bool PcapWriter::write(uint32_t ts_sec, uint32_t ts_frac, std::span<const uint8_t> data,
                       std::string& err) {
    if (!f_) {
        err = path_ + ": not open";
        return false;
    }
    const auto len = static_cast<uint32_t>(data.size());
    const uint32_t incl = len < snaplen_ ? len : snaplen_;
    uint8_t h[16];
    wr32(h, ts_sec);
    wr32(h + 4, ts_frac);
    wr32(h + 8, incl);
    wr32(h + 12, len);
    if (std::fwrite(h, 1, sizeof h, f_) != sizeof h ||
        std::fwrite(data.data(), 1, incl, f_) != incl) {
        err = path_ + ": write failed: " + std::strerror(errno);
        return false;
    }
    return true;
}

bool PcapWriter::close(std::string& err) {
    if (!f_) return true;
    const bool ok = std::fclose(f_) == 0;
    f_ = nullptr;
    if (!ok) err = path_ + ": close failed: " + std::strerror(errno);
    return ok;
}

std::optional<std::span<const uint8_t>> ipv4_in_frame(uint32_t linktype,
                                                      std::span<const uint8_t> frame) {
    size_t off = 0;
    if (linktype == kLinkEthernet) {
        if (frame.size() < 14) return std::nullopt;
        uint16_t et = uint16_t(frame[12] << 8 | frame[13]);
        off = 14;
        if (et == 0x8100) {
            if (frame.size() < 18) return std::nullopt;
            et = uint16_t(frame[16] << 8 | frame[17]);
            off = 18;
        }
        if (et != 0x0800) return std::nullopt;
    } else if (linktype != kLinkRaw && linktype != kLinkIpv4 && linktype != kLinkRawBsd) {
        return std::nullopt;
    }
    auto ip = frame.subspan(off);
    if (ip.size() < 20 || (ip[0] >> 4) != 4 || (ip[0] & 0x0f) < 5) return std::nullopt;
    const size_t total = size_t(ip[2] << 8 | ip[3]);
    if (total < size_t(ip[0] & 0x0f) * 4 || total > ip.size()) return std::nullopt;
    return ip.first(total);
}

}  // namespace peregrine::tools
