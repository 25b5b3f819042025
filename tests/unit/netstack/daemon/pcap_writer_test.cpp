#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "netstack/daemon/pcap_writer.hpp"

using namespace usernet;

TEST_CASE("pcap headers are the classic little-endian layout") {
  const auto file = pcap_file_header(65535);
  CHECK(file == std::vector<std::uint8_t>{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                          0xff, 0xff, 0, 0, 1, 0, 0, 0});
  const auto record = pcap_record_header(1700000000123456ull, 60, 1514);
  CHECK(record == std::vector<std::uint8_t>{0x00, 0xf1, 0x53, 0x65, 0x40, 0xe2, 0x01, 0x00, 60, 0, 0, 0,
                                            0xea, 0x05, 0, 0});
}

TEST_CASE("the writer appends records and cuts frames at the snap length") {
  char path[] = "/tmp/usernet-pcap-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  {
    auto opened = PcapWriter::open(path, 100);
    REQUIRE(opened);
    const auto& writer = *opened;
    std::vector<std::uint8_t> small(60, 0xab), big(300, 0xcd);
    CHECK(writer->write(small, 1));
    CHECK(writer->write(big, 2));
    writer->flush();
    CHECK(writer->counters().frames == 2);
    CHECK(writer->counters().truncated == 1);
    CHECK(writer->counters().bytes == 160);
  }
  std::ifstream in(path, std::ios::binary);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(bytes.size() == 24 + 16 + 60 + 16 + 100);
  CHECK(bytes[24 + 16 + 60 + 8] == 100);  // captured length of the cut frame
  CHECK(bytes[24 + 16 + 60 + 12] == 0x2c);  // original length 300 = 0x12c
  std::remove(path);
  const auto failed = PcapWriter::open("/nonexistent-dir/x.pcap", 100);
  REQUIRE_FALSE(failed);
  CHECK(failed.error().find("/nonexistent-dir/x.pcap") != std::string::npos);
}
