// DNS protocol constants (RFC 1035, 2308, 6891) shared by the codec, the zones, the cache
// and the server engine. Values outside the named enumerators are legal on the wire and are
// carried through unchanged (the enums have a fixed underlying type).
#pragma once

#include <cstddef>
#include <cstdint>

namespace usernet::dns {

/// Resource record TYPE / question QTYPE values that the code refers to by name.
enum class RecordType : std::uint16_t {
  a = 1,
  ns = 2,
  md = 3,
  mf = 4,
  cname = 5,
  soa = 6,
  mb = 7,
  mg = 8,
  mr = 9,
  ptr = 12,
  minfo = 14,
  mx = 15,
  txt = 16,
  rp = 17,
  afsdb = 18,
  rt = 21,
  px = 26,
  aaaa = 28,
  srv = 33,
  dname = 39,
  opt = 41,
  rrsig = 46,
  https = 65,
  ixfr = 251,
  axfr = 252,
  any = 255,
  caa = 257,
};

/// CLASS / QCLASS values. For OPT the class field carries the UDP payload size instead.
enum class RecordClass : std::uint16_t { in = 1, ch = 3, hs = 4, none = 254, any = 255 };

/// Header OPCODE (4 bits).
enum class Opcode : std::uint8_t { query = 0, iquery = 1, status = 2, notify = 4, update = 5 };

/// RCODE; values above 15 need the EDNS extended RCODE bits.
enum class Rcode : std::uint16_t {
  no_error = 0,
  format_error = 1,
  server_failure = 2,
  name_error = 3,  // NXDOMAIN
  not_implemented = 4,
  refused = 5,
  bad_version = 16,  // EDNS version not supported (RFC 6891)
};

/// Transport a query arrived on; decides the size an answer may have.
enum class Transport { udp, tcp };

inline constexpr std::size_t kHeaderSize = 12;
inline constexpr std::size_t kMaxNameLength = 255;  // wire octets, root label included
inline constexpr std::size_t kMaxLabelLength = 63;
inline constexpr std::size_t kClassicUdpSize = 512;  // UDP limit without EDNS (RFC 1035 4.2.1)
inline constexpr std::size_t kMaxMessageSize = 65535;  // TCP two-byte length prefix
inline constexpr std::uint16_t kCompressionPointerLimit = 0x3fff;  // 14-bit offsets

}  // namespace usernet::dns
