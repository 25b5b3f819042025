#include "dhcp/v6/message.hpp"

#include <algorithm>

#include "netstack/base/byte_order.hpp"
#include "netstack/base/domain_name.hpp"

namespace usernet::dhcp6 {

namespace {
constexpr std::size_t kHeaderSize = 4;
constexpr std::size_t kOptionHeader = 4;
constexpr std::size_t kIaNaFixed = 12;
}  // namespace

std::optional<std::vector<Option>> parse_options(ByteSpan bytes) {
  std::vector<Option> options;
  std::size_t at = 0;
  while (at < bytes.size()) {
    if (bytes.size() - at < kOptionHeader) return std::nullopt;
    const std::uint16_t code = load_be16(&bytes[at]);
    const std::size_t length = load_be16(&bytes[at + 2]);
    if (length > bytes.size() - at - kOptionHeader) return std::nullopt;
    options.push_back(Option{code, bytes.subspan(at + kOptionHeader, length)});
    at += kOptionHeader + length;
  }
  return options;
}

const Option* Message::find(OptionCode code) const {
  for (const Option& o : options)
    if (o.code == static_cast<std::uint16_t>(code)) return &o;
  return nullptr;
}

std::size_t Message::count(OptionCode code) const {
  std::size_t n = 0;
  for (const Option& o : options) n += o.code == static_cast<std::uint16_t>(code) ? 1 : 0;
  return n;
}

std::optional<Message> parse_message(ByteSpan payload) {
  if (payload.size() < kHeaderSize) return std::nullopt;
  auto options = parse_options(payload.subspan(kHeaderSize));
  if (!options) return std::nullopt;
  Message m;
  m.type = payload[0];
  m.transaction_id = (std::uint32_t{payload[1]} << 16) | (std::uint32_t{payload[2]} << 8) | payload[3];
  m.options = std::move(*options);
  return m;
}

std::optional<IdentityAssociation> parse_ia_na(ByteSpan body) {
  if (body.size() < kIaNaFixed) return std::nullopt;
  auto options = parse_options(body.subspan(kIaNaFixed));
  if (!options) return std::nullopt;
  return IdentityAssociation{load_be32(&body[0]), load_be32(&body[4]), load_be32(&body[8]), std::move(*options)};
}

Writer::Writer(MessageType type, std::uint32_t transaction_id)
    : out_{static_cast<std::uint8_t>(type), static_cast<std::uint8_t>(transaction_id >> 16),
           static_cast<std::uint8_t>(transaction_id >> 8), static_cast<std::uint8_t>(transaction_id)} {}

void Writer::option(OptionCode code, ByteSpan body) {
  begin(code);
  bytes(body);
  end();
}

void Writer::begin(OptionCode code) {
  u16(static_cast<std::uint16_t>(code));
  open_.push_back(out_.size());
  u16(0);
}

void Writer::end() {
  const std::size_t at = open_.back();
  open_.pop_back();
  const std::size_t length = out_.size() - at - 2;
  out_[at] = static_cast<std::uint8_t>(length >> 8);
  out_[at + 1] = static_cast<std::uint8_t>(length);
}

void Writer::u16(std::uint16_t value) { append_be16(out_, value); }

void Writer::u32(std::uint32_t value) { append_be32(out_, value); }

void Writer::bytes(ByteSpan value) { out_.insert(out_.end(), value.begin(), value.end()); }

std::vector<std::uint8_t> Writer::take() { return std::move(out_); }

std::string describe_client(const std::vector<std::uint8_t>& duid) {
  constexpr std::uint16_t kLinkLayerPlusTime = 1, kLinkLayer = 3, kEthernet = 1;
  if (duid.size() >= 4 && load_be16(&duid[2]) == kEthernet) {
    const std::uint16_t type = load_be16(&duid[0]);
    const std::size_t mac_at = type == kLinkLayerPlusTime ? 8 : type == kLinkLayer ? 4 : 0;
    if (mac_at != 0 && duid.size() == mac_at + 6) {
      MacAddress mac;
      std::copy_n(duid.begin() + static_cast<std::ptrdiff_t>(mac_at), mac.size(), mac.begin());
      return format_mac(mac);
    }
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text = "duid:";
  for (std::uint8_t byte : duid) {
    text.push_back(kHex[byte >> 4]);
    text.push_back(kHex[byte & 0x0f]);
  }
  return text;
}

std::optional<std::vector<std::uint8_t>> encode_domain_list(const std::vector<std::string>& domains) {
  std::vector<std::uint8_t> wire;
  for (const std::string& domain : domains) {
    const auto name = encode_domain_name(domain);
    if (!name) return std::nullopt;
    wire.insert(wire.end(), name->begin(), name->end());
  }
  return wire;
}

}  // namespace usernet::dhcp6
