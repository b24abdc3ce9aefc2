// tools/pcap_io.hpp - minimal classic-pcap reader/writer (no libpcap), for tools and
// benchmarks that replay or capture packets. Every length read from a file is checked
// before use; errors say what was wrong and where.
//
//   PcapReader r;  std::string err;
//   if (!r.open("in.pcap", err)) ...;
//   PcapRecord rec;  while (r.next(rec, err) == PcapReader::Status::record) { ... }
//
//   PcapWriter w;  w.open("out.pcap", kLinkRaw, err);  w.write(rec.ts_sec, rec.ts_frac, bytes,
//   err);
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace peregrine::tools {

inline constexpr uint32_t kLinkEthernet = 1;
inline constexpr uint32_t kLinkRaw = 101;       // LINKTYPE_RAW: starts with an IPv4/IPv6 header
inline constexpr uint32_t kLinkIpv4 = 228;      // LINKTYPE_IPV4
inline constexpr uint32_t kLinkRawBsd = 12;     // DLT_RAW on some BSDs
inline constexpr uint32_t kMaxRecord = 262144;  // larger captured lengths are rejected as corrupt

struct PcapRecord {
    uint32_t ts_sec = 0;
    uint32_t ts_frac = 0;  // microseconds, or nanoseconds if the file is nanosecond
    uint32_t orig_len = 0;
    std::vector<uint8_t> data;
};

class PcapReader {
  public:
    enum class Status { record, eof, error };
    PcapReader() = default;
    PcapReader(const PcapReader&) = delete;
    PcapReader& operator=(const PcapReader&) = delete;
    ~PcapReader();

    bool open(const std::string& path, std::string& err);
    Status next(PcapRecord& rec, std::string& err);
    uint32_t linktype() const { return linktype_; }
    bool nanosecond() const { return nano_; }
    uint64_t records_read() const { return count_; }

  private:
    std::FILE* f_ = nullptr;
    std::string path_;
    bool swap_ = false;
    bool nano_ = false;
    uint32_t linktype_ = 0;
    uint32_t snaplen_ = 0;
    uint64_t count_ = 0;
};

class PcapWriter {
  public:
    PcapWriter() = default;
    PcapWriter(const PcapWriter&) = delete;
    PcapWriter& operator=(const PcapWriter&) = delete;
    ~PcapWriter();

    bool open(const std::string& path, uint32_t linktype, std::string& err, bool nanosecond = false,
              uint32_t snaplen = 65535);
    bool write(uint32_t ts_sec, uint32_t ts_frac, std::span<const uint8_t> data, std::string& err);
    bool close(std::string& err);  // flushes; also done by the destructor (errors lost)

  private:
    std::FILE* f_ = nullptr;
    std::string path_;
    uint32_t snaplen_ = 65535;
};

// The IPv4 packet carried by a frame of the given link type (Ethernet: ethertype
// 0x0800, one optional 802.1Q tag), trimmed to the IPv4 total length (drops
// Ethernet padding). nullopt if the frame holds no well-formed IPv4 header.
std::optional<std::span<const uint8_t>> ipv4_in_frame(uint32_t linktype,
                                                      std::span<const uint8_t> frame);

}  // namespace peregrine::tools
