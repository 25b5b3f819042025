#include "netstack/daemon/pcap_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace usernet {

namespace {
constexpr std::uint16_t kPcapVersionMajor = 2;
constexpr std::uint16_t kPcapVersionMinor = 4;

/// Appends `value` little-endian in `bytes` bytes.
void put_le(std::vector<std::uint8_t>& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}
}  // namespace

std::vector<std::uint8_t> pcap_file_header(std::uint32_t snaplen) {
  std::vector<std::uint8_t> out;
  put_le(out, kPcapMagicMicroseconds, 4);
  put_le(out, kPcapVersionMajor, 2);
  put_le(out, kPcapVersionMinor, 2);
  put_le(out, 0, 4);  // thiszone: UTC
  put_le(out, 0, 4);  // sigfigs
  put_le(out, snaplen, 4);
  put_le(out, kPcapLinktypeEthernet, 4);
  return out;
}

std::vector<std::uint8_t> pcap_record_header(std::uint64_t time_us, std::uint32_t captured, std::uint32_t original) {
  std::vector<std::uint8_t> out;
  put_le(out, static_cast<std::uint32_t>(time_us / 1000000), 4);
  put_le(out, static_cast<std::uint32_t>(time_us % 1000000), 4);
  put_le(out, captured, 4);
  put_le(out, original, 4);
  return out;
}

Result<std::unique_ptr<PcapWriter>> PcapWriter::open(const std::string& path, std::uint32_t snaplen) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  std::FILE* file = fd >= 0 ? ::fdopen(fd, "wb") : nullptr;
  if (file == nullptr) {
    Error failure{"--pcap " + path + ": " + std::strerror(errno)};
    if (fd >= 0) ::close(fd);
    return failure;
  }
  const auto header = pcap_file_header(snaplen);
  if (std::fwrite(header.data(), 1, header.size(), file) != header.size() || std::fflush(file) != 0) {
    Error failure{"--pcap " + path + ": " + std::strerror(errno)};
    std::fclose(file);
    return failure;
  }
  return std::unique_ptr<PcapWriter>(new PcapWriter(file, snaplen));
}

PcapWriter::~PcapWriter() { std::fclose(file_); }

bool PcapWriter::write(ByteSpan frame, std::uint64_t time_us) {
  if (failed_) return false;
  const auto original = static_cast<std::uint32_t>(frame.size());
  const std::uint32_t captured = original > snaplen_ ? snaplen_ : original;
  if (captured < original) counters_.truncated++;
  const auto header = pcap_record_header(time_us, captured, original);
  if (std::fwrite(header.data(), 1, header.size(), file_) != header.size() ||
      std::fwrite(frame.data(), 1, captured, file_) != captured) {
    failed_ = true;
    counters_.errors++;
    return false;
  }
  counters_.frames++;
  counters_.bytes += captured;
  return true;
}

void PcapWriter::flush() {
  if (!failed_ && std::fflush(file_) != 0) {
    failed_ = true;
    counters_.errors++;
  }
}

std::uint64_t pcap_now_us() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1000000 + static_cast<std::uint64_t>(now.tv_nsec) / 1000;
}

}  // namespace usernet
