#include "dhcp/server.hpp"

#include <algorithm>
#include <stdexcept>

namespace usernet::dhcp {

namespace {

/// `config` itself, or std::invalid_argument when validate() rejects it.
Config checked(Config config) {
  if (const Status valid = validate(config); !valid) throw std::invalid_argument("DHCP config: " + valid.error());
  return config;
}

}  // namespace

Server::Server(Config config)
    : config_(checked(std::move(config))), table_(config_), builder_(config_) {}

Status Server::set_search_domains(std::vector<std::string> domains) {
  Config changed = config_;
  changed.domain_name = domains.empty() ? std::string() : domains.front();
  changed.search_domains = std::move(domains);
  if (Status valid = validate(changed); !valid) return valid;
  config_.domain_name = changed.domain_name;
  config_.search_domains = std::move(changed.search_domains);
  builder_ = ReplyBuilder(config_);
  return {};
}

std::optional<Reply> Server::handle(std::span<const std::uint8_t> payload, std::uint64_t now_ms) {
  ++counters_.received;
  auto parsed = parse_request(payload);
  if (const auto* reason = std::get_if<DropReason>(&parsed)) return drop(*reason);
  const Message& request = std::get<Message>(parsed);
  ++counters_.by_type[static_cast<std::size_t>(request.type)];
  switch (request.type) {
    case MessageType::discover: return on_discover(request, now_ms);
    case MessageType::request: return on_request(request, now_ms);
    case MessageType::decline: return on_decline(request, now_ms);
    case MessageType::release: return on_release(request, now_ms);
    case MessageType::inform: return on_inform(request);
    case MessageType::offer:
    case MessageType::ack:
    case MessageType::nak: break;  // parse_request refuses these
  }
  return drop(DropReason::server_message);
}

std::optional<Reply> Server::drop(DropReason reason) {
  ++counters_.drops[static_cast<std::size_t>(reason)];
  return std::nullopt;
}

Reply Server::make_reply(const Message& request, const ReplySpec& spec) {
  Reply reply;
  reply.payload = builder_.build(request, spec);
  reply.type = spec.type;
  // RFC 2131 §4.1 with giaddr always 0: a NAK is broadcast; otherwise a client that has an
  // address (ciaddr) gets it by unicast; one still without an address by broadcast.
  reply.broadcast = spec.type == MessageType::nak || request.header.ciaddr == 0;
  reply.unicast_ip = reply.broadcast ? 0 : request.header.ciaddr;
  switch (spec.type) {
    case MessageType::offer: ++counters_.offers; break;
    case MessageType::nak: ++counters_.naks; break;
    default: ++counters_.acks; break;
  }
  return reply;
}

std::string Server::host_name_of(const Message& request) {
  const auto option = request.options.find(OptionCode::host_name);
  if (!option) return {};
  std::string label = host_name_label(*option);
  if (label.empty()) ++counters_.invalid_host_names;
  return label;
}

std::optional<Reply> Server::on_discover(const Message& request, std::uint64_t now_ms) {
  const MacAddress mac = request.header.client_mac();
  const auto ip = table_.choose(mac, request.options.find_ipv4(OptionCode::requested_ip), now_ms);
  if (!ip) {
    if (!pool_exhausted_reported_) pool_exhausted_pending_ = true;
    return drop(DropReason::pool_exhausted);
  }
  pool_exhausted_reported_ = false;
  table_.reserve(mac, *ip, now_ms, config_.offer_hold_ms);
  return make_reply(request, {MessageType::offer, *ip, true, {}});
}

std::optional<Reply> Server::on_request(const Message& request, std::uint64_t now_ms) {
  const MacAddress mac = request.header.client_mac();
  const auto server_id = request.options.find_ipv4(OptionCode::server_id);
  const auto requested_ip = request.options.find_ipv4(OptionCode::requested_ip);
  if (server_id && *server_id != config_.server_id) {
    // SELECTING another server's offer: ours is declined (RFC 2131 §4.3.2), no reply.
    table_.withdraw_offer(mac, now_ms);
    return drop(DropReason::other_server);
  }
  // SELECTING and INIT-REBOOT name the address in option 50; RENEWING and REBINDING in
  // ciaddr. Both forms get the same answer; only the destination differs (make_reply).
  std::uint32_t ip = 0;
  if (requested_ip) {
    ip = *requested_ip;
  } else if (request.header.ciaddr != 0) {
    ip = request.header.ciaddr;
  } else {
    return drop(DropReason::missing_address);
  }
  if (!table_.can_bind(mac, ip, now_ms)) {
    return make_reply(request, {MessageType::nak, 0, false, "requested address not available"});
  }
  table_.bind(mac, ip, host_name_of(request), now_ms, std::uint64_t{config_.lease_time_s} * 1000);
  pool_exhausted_reported_ = false;
  return make_reply(request, {MessageType::ack, ip, true, {}});
}

std::optional<Reply> Server::on_decline(const Message& request, std::uint64_t now_ms) {
  const auto server_id = request.options.find_ipv4(OptionCode::server_id);
  if (server_id && *server_id != config_.server_id) return drop(DropReason::other_server);
  const auto ip = request.options.find_ipv4(OptionCode::requested_ip);
  if (!ip) return drop(DropReason::missing_address);
  if (!table_.decline(request.header.client_mac(), *ip, now_ms, config_.decline_hold_ms)) {
    return drop(DropReason::unknown_lease);
  }
  ++counters_.declines;
  return std::nullopt;
}

std::optional<Reply> Server::on_release(const Message& request, std::uint64_t now_ms) {
  const auto server_id = request.options.find_ipv4(OptionCode::server_id);
  if (server_id && *server_id != config_.server_id) return drop(DropReason::other_server);
  if (request.header.ciaddr == 0) return drop(DropReason::missing_address);
  if (!table_.release(request.header.client_mac(), request.header.ciaddr, now_ms)) {
    return drop(DropReason::unknown_lease);
  }
  ++counters_.releases;
  return std::nullopt;
}

std::optional<Reply> Server::on_inform(const Message& request) {
  // The client configured its address itself: configuration only, no yiaddr, no lease.
  return make_reply(request, {MessageType::ack, 0, false, {}});
}

std::vector<Lease> Server::leases(std::uint64_t now_ms) const { return table_.active(now_ms); }

bool Server::take_pool_exhausted_event() {
  if (!pool_exhausted_pending_) return false;
  pool_exhausted_pending_ = false;
  pool_exhausted_reported_ = true;
  return true;
}

Status Server::add_static_lease(const StaticLease& lease) {
  Config candidate = config_;
  std::erase_if(candidate.static_leases, [&](const StaticLease& s) { return s.mac == lease.mac; });
  if (Status bindable = validate_static_lease(candidate, lease); !bindable) return bindable;
  candidate.static_leases.push_back(lease);
  config_.static_leases = std::move(candidate.static_leases);
  table_.add_static(lease);
  return {};
}

bool Server::remove_static_lease(const MacAddress& mac) {
  std::erase_if(config_.static_leases, [&](const StaticLease& s) { return s.mac == mac; });
  return table_.remove_static(mac);
}

}  // namespace usernet::dhcp
