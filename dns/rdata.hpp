// Layout of RDATA that embeds domain names: which types carry names, where, and whether
// they may be compressed. Used to expand compressed names when parsing (RFC 3597 section 4:
// decompress well-known types, and RP, AFSDB, RT, PX, SRV) and to compress names again when
// encoding (only for the RFC 1035 types, the only ones where that is allowed).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "dns/name.hpp"
#include "dns/protocol.hpp"

namespace usernet::dns {

/// Copies the RDATA of a `type` record located at message[offset, offset+length) into
/// self-contained form, expanding compressed names. Types without names are copied as-is.
/// nullopt when a name is malformed or the fields do not add up to `length`.
std::optional<std::vector<std::uint8_t>> expand_rdata(RecordType type, std::span<const std::uint8_t> message,
                                                      std::size_t offset, std::size_t length);

/// Appends self-contained RDATA (as produced by expand_rdata) to `out`, compressing its
/// names through `compressor` when the type allows it.
void write_rdata(RecordType type, std::span<const std::uint8_t> rdata, std::vector<std::uint8_t>& out,
                 NameCompressor& compressor);

}  // namespace usernet::dns
