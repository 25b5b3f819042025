// --pcap FILE: every frame the switch accepts, written in the classic libpcap format
// (LINKTYPE_ETHERNET, microsecond timestamps, little-endian), readable by tcpdump,
// tshark and Wireshark. The header encoders are pure; the writer buffers with stdio
// and is flushed by its owner (once a second and at exit).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "netstack/base/ethernet.hpp"
#include "netstack/base/result.hpp"

namespace usernet {

/// LINKTYPE_ETHERNET in the pcap global header.
inline constexpr std::uint32_t kPcapLinktypeEthernet = 1;
/// The classic pcap magic (microsecond timestamps).
inline constexpr std::uint32_t kPcapMagicMicroseconds = 0xa1b2c3d4;

/// The 24-byte global header: magic, version 2.4, zone 0, sigfigs 0, snaplen, linktype.
std::vector<std::uint8_t> pcap_file_header(std::uint32_t snaplen);
/// The 16-byte record header of one frame: seconds, microseconds, captured, original length.
std::vector<std::uint8_t> pcap_record_header(std::uint64_t time_us, std::uint32_t captured, std::uint32_t original);

struct PcapCounters {
  std::uint64_t frames = 0;
  std::uint64_t bytes = 0;
  std::uint64_t truncated = 0;  // frames longer than the snap length (cut)
  std::uint64_t errors = 0;     // write failures (the capture stops after the first)
};

class PcapWriter {
 public:
  /// Creates (truncates) `path` mode 0600 and writes the global header, or says why the
  /// file cannot be written.
  static Result<std::unique_ptr<PcapWriter>> open(const std::string& path, std::uint32_t snaplen);
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  /// Appends one frame captured at `time_us` (microseconds since the epoch). False once
  /// the file has failed (disk full...): the capture is then over, the daemon goes on.
  bool write(ByteSpan frame, std::uint64_t time_us);
  /// Pushes buffered records to the file so readers see them.
  void flush();
  const PcapCounters& counters() const { return counters_; }
  bool failed() const { return failed_; }

 private:
  PcapWriter(std::FILE* file, std::uint32_t snaplen) : file_(file), snaplen_(snaplen) {}
  std::FILE* file_;
  std::uint32_t snaplen_;
  bool failed_ = false;
  PcapCounters counters_;
};

/// Microseconds since the epoch now (CLOCK_REALTIME), for record timestamps.
std::uint64_t pcap_now_us();

}  // namespace usernet
