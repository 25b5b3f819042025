#include "dhcp/reply_builder.hpp"

#include <algorithm>
#include <bitset>

namespace usernet::dhcp {

namespace {

/// The options of one reply being written, never growing past its budget.
class OptionWriter {
 public:
  OptionWriter(std::vector<std::uint8_t>& out, std::size_t budget)
      : out_(out), start_(out.size()), budget_(budget) {}

  /// True when an option with `data_size` value bytes would still fit.
  bool fits(std::size_t data_size) const {
    return out_.size() - start_ + encoded_option_size(data_size) <= budget_;
  }
  /// Appends the option if it fits; reports whether it did.
  bool add(OptionCode code, std::span<const std::uint8_t> data) {
    if (!fits(data.size())) return false;
    append_option(out_, code, data);
    return true;
  }

 private:
  std::vector<std::uint8_t>& out_;
  std::size_t start_;
  std::size_t budget_;
};

/// Codes the client listed in option 55; every code when it sent no list (old BOOTP-style
/// clients then still get the full configuration).
std::bitset<256> requested_codes(const Message& request) {
  std::bitset<256> codes;
  const auto list = request.options.find(OptionCode::parameter_request_list);
  if (!list) return codes.set();
  for (const std::uint8_t code : *list) codes.set(code);
  return codes;
}

bool is_requested(const std::bitset<256>& codes, OptionCode code) {
  return codes.test(static_cast<std::uint8_t>(code));
}

}  // namespace

ReplyBuilder::ReplyBuilder(const Config& config)
    : server_id_(config.server_id),
      mtu_(config.mtu),
      lease_time_s_(config.lease_time_s),
      search_domains_(config.search_domains),
      subnet_mask_(encode_u32(config.netmask())),
      router_(encode_u32(config.gateway)),
      dns_servers_(encode_ipv4_list(config.dns_servers)),
      domain_name_(config.domain_name.begin(), config.domain_name.end()),
      interface_mtu_(encode_u16(config.mtu)),
      broadcast_address_(encode_u32(config.broadcast())),
      domain_search_(encode_domain_search(config.search_domains).value_or(std::vector<std::uint8_t>{})) {
  if (!config.classless_routes.empty()) {
    std::vector<ClasslessRoute> routes = config.classless_routes;
    const bool has_default = std::any_of(routes.begin(), routes.end(),
                                         [](const ClasslessRoute& r) { return r.prefix_length == 0; });
    if (!has_default) routes.push_back({0, 0, config.gateway});
    classless_routes_ = encode_classless_routes(routes);
  }
}

std::size_t ReplyBuilder::max_payload(const Message& request) const {
  std::size_t datagram = kMinimumDatagramSize;
  if (const auto asked = request.options.find_u16(OptionCode::max_message_size)) {
    datagram = std::max<std::size_t>(datagram, *asked);
  }
  datagram = std::min(datagram, std::max<std::size_t>(mtu_, kMinimumDatagramSize));
  return datagram - kIpUdpHeaderSize;
}

void ReplyBuilder::append_configuration(const Message& request, const ReplySpec& spec,
                                        std::size_t budget, std::vector<std::uint8_t>& out) const {
  OptionWriter writer(out, budget);
  const auto requested = requested_codes(request);
  // Highest priority first: what a client cannot configure itself without.
  if (spec.with_lease) writer.add(OptionCode::lease_time, encode_u32(lease_time_s_));
  writer.add(OptionCode::subnet_mask, subnet_mask_);
  writer.add(OptionCode::router, router_);
  writer.add(OptionCode::domain_name_server, dns_servers_);
  if (spec.with_lease) {
    writer.add(OptionCode::renewal_time, encode_u32(lease_time_s_ / 2));
    writer.add(OptionCode::rebinding_time,
               encode_u32(static_cast<std::uint32_t>(std::uint64_t{lease_time_s_} * 7 / 8)));
  }
  // Sent unasked too: udhcpc does not request MTU or search list but uses them.
  writer.add(OptionCode::interface_mtu, interface_mtu_);
  if (!domain_name_.empty()) writer.add(OptionCode::domain_name, domain_name_);
  // Only on request.
  if (is_requested(requested, OptionCode::broadcast_address)) {
    writer.add(OptionCode::broadcast_address, broadcast_address_);
  }
  if (!classless_routes_.empty() && is_requested(requested, OptionCode::classless_static_route)) {
    writer.add(OptionCode::classless_static_route, classless_routes_);
  }
  // Last, as it is the longest: the search list, shortened by whole domains if it must be.
  if (domain_search_.empty() || writer.add(OptionCode::domain_search, domain_search_)) return;
  for (std::size_t count = search_domains_.size() - 1; count > 0; --count) {
    const auto shorter = encode_domain_search(std::span(search_domains_).first(count));
    if (shorter && writer.add(OptionCode::domain_search, *shorter)) return;
  }
}

std::vector<std::uint8_t> ReplyBuilder::build(const Message& request, const ReplySpec& spec) const {
  Header header;
  header.op = static_cast<std::uint8_t>(BootOp::reply);
  header.htype = request.header.htype;
  header.hlen = request.header.hlen;
  header.xid = request.header.xid;
  header.flags = request.header.flags;
  header.ciaddr = spec.type == MessageType::ack ? request.header.ciaddr : 0;
  header.yiaddr = spec.your_ip;
  header.giaddr = request.header.giaddr;
  header.chaddr = request.header.chaddr;

  std::vector<std::uint8_t> out(field::options);
  write_header(header, out);
  // Everything after the cookie except the End option.
  const std::size_t budget = max_payload(request) - field::options - 1;
  OptionWriter writer(out, budget);
  writer.add(OptionCode::message_type, std::vector<std::uint8_t>{static_cast<std::uint8_t>(spec.type)});
  writer.add(OptionCode::server_id, encode_u32(server_id_));
  // RFC 6842: a client identifier is echoed back.
  if (const auto client_id = request.options.find(OptionCode::client_id)) {
    writer.add(OptionCode::client_id, *client_id);
  }
  if (spec.type == MessageType::nak) {
    if (!spec.message.empty()) {
      writer.add(OptionCode::message,
                 std::vector<std::uint8_t>(spec.message.begin(), spec.message.end()));
    }
  } else {
    append_configuration(request, spec, budget - (out.size() - field::options), out);
  }
  out.push_back(static_cast<std::uint8_t>(OptionCode::end));
  if (out.size() < kMinimumBootpSize) out.resize(kMinimumBootpSize, 0);
  return out;
}

}  // namespace usernet::dhcp
