#include "dhcp/v6/server.hpp"

#include <stdexcept>
#include <string_view>

#include "netstack/base/byte_order.hpp"

namespace usernet::dhcp6 {

namespace {
constexpr std::uint8_t kDuidLinkLayer = 3;
constexpr std::uint8_t kHardwareEthernet = 1;
constexpr std::uint8_t kRelayForward = 12, kRelayReply = 13;
constexpr std::uint16_t kIaPrefixDelegation = 25;
constexpr std::size_t kIaAddressFixed = 24;  // address, preferred and valid lifetimes

/// The addresses inside an IA_NA's IAADDR options (malformed ones skipped).
std::vector<Ipv6> ia_addresses(const IdentityAssociation& ia) {
  std::vector<Ipv6> out;
  for (const Option& o : ia.options) {
    if (o.code != static_cast<std::uint16_t>(OptionCode::ia_address) || o.body.size() < kIaAddressFixed) continue;
    Ipv6 a;
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = o.body[i];
    out.push_back(a);
  }
  return out;
}

/// Every IA_NA of the message, parsed; nullopt when one is malformed.
std::optional<std::vector<IdentityAssociation>> identity_associations(const Message& m) {
  std::vector<IdentityAssociation> out;
  for (const Option& o : m.options) {
    if (o.code != static_cast<std::uint16_t>(OptionCode::ia_na)) continue;
    auto ia = parse_ia_na(o.body);
    if (!ia) return std::nullopt;
    out.push_back(std::move(*ia));
  }
  return out;
}

void write_status(Writer& w, StatusCode code, std::string_view text) {
  w.begin(OptionCode::status_code);
  w.u16(static_cast<std::uint16_t>(code));
  w.bytes(ByteSpan(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  w.end();
}

std::vector<std::uint8_t> body_of(const Option* o) { return {o->body.begin(), o->body.end()}; }
}  // namespace

Status Config::validate() const {
  if (pool_size > 0 && (!prefix.contains(pool_first) || pool_size > 1U << 16))
    return Error{"the DHCPv6 pool must lie in " + prefix.to_string() + " and hold at most 65536 addresses"};
  if (preferred_lifetime_s == 0 || preferred_lifetime_s > valid_lifetime_s)
    return Error{"the DHCPv6 preferred lifetime must be non-zero and at most the valid lifetime"};
  if (!encode_domain_list(search_domains)) return Error{"a DHCPv6 search domain is not a valid DNS name"};
  return {};
}

Server::Server(Config config) : config_(std::move(config)), pool_(config_.pool_first, config_.pool_size) {
  if (const Status valid = config_.validate(); !valid) throw std::invalid_argument(valid.error());
  duid_ = {0, kDuidLinkLayer, 0, kHardwareEthernet};
  duid_.insert(duid_.end(), config_.server_mac.begin(), config_.server_mac.end());
  domain_list_ = *encode_domain_list(config_.search_domains);
}

std::optional<std::vector<std::uint8_t>> Server::drop(Drop reason) {
  counters_.drops[static_cast<std::size_t>(reason)]++;
  return std::nullopt;
}

std::optional<Drop> Server::check_identifiers(const Message& m, MessageType type) const {
  const Option* client = m.find(OptionCode::client_id);
  const Option* server = m.find(OptionCode::server_id);
  const bool ours = server != nullptr && body_of(server) == duid_;
  switch (type) {
    case MessageType::information_request:  // RFC 8415 §16.12
      if (server != nullptr && !ours) return Drop::bad_server_id;
      if (m.count(OptionCode::ia_na) + m.count(OptionCode::ia_ta) > 0) return Drop::unexpected_ia;
      for (const Option& o : m.options)
        if (o.code == kIaPrefixDelegation) return Drop::unexpected_ia;
      return std::nullopt;
    case MessageType::solicit:  // §16.2, §16.5, §16.7: no server chosen yet
    case MessageType::confirm:
    case MessageType::rebind:
      if (client == nullptr) return Drop::missing_client_id;
      if (server != nullptr) return Drop::bad_server_id;
      return std::nullopt;
    default:  // REQUEST, RENEW, RELEASE, DECLINE: to us by name
      if (client == nullptr) return Drop::missing_client_id;
      if (server == nullptr) return Drop::missing_server_id;
      if (!ours) return Drop::bad_server_id;
      return std::nullopt;
  }
}

void Server::add_common(Writer& w, const Message& m) const {
  if (const Option* client = m.find(OptionCode::client_id)) w.option(OptionCode::client_id, client->body);
  w.option(OptionCode::server_id, duid_);
  if (!config_.dns_servers.empty()) {
    w.begin(OptionCode::dns_servers);
    for (const Ipv6& server : config_.dns_servers) w.bytes(server);
    w.end();
  }
  if (!domain_list_.empty()) w.option(OptionCode::domain_list, domain_list_);
}

void Server::write_ia(Writer& w, std::uint32_t iaid, const std::optional<Ipv6>& address, StatusCode status) {
  w.begin(OptionCode::ia_na);
  w.u32(iaid);
  // T1 and T2 at RFC 8415 §21.4's recommended 0.5 and 0.8 of the preferred lifetime.
  w.u32(address ? config_.preferred_lifetime_s / 2 : 0);
  w.u32(address ? config_.preferred_lifetime_s / 5 * 4 : 0);
  if (address) {
    w.begin(OptionCode::ia_address);
    w.bytes(*address);
    w.u32(config_.preferred_lifetime_s);
    w.u32(config_.valid_lifetime_s);
    w.end();
  } else {
    write_status(w, status, status == StatusCode::no_binding ? "no binding for this IA" : "no addresses available");
  }
  w.end();
}

void Server::answer_addresses(Writer& w, const Message& m, bool bind, std::uint64_t now_ms) {
  const std::vector<std::uint8_t> duid = body_of(m.find(OptionCode::client_id));
  const auto associations = identity_associations(m);  // checked well-formed by handle()
  for (const IdentityAssociation& ia : *associations) {
    const BindingKey key{duid, ia.iaid};
    std::optional<Ipv6> address;
    for (const Ipv6& wanted : ia_addresses(ia))  // a hint, honoured when free (§18.3.1)
      if (!address && pool_.available_to(key, wanted, now_ms)) address = wanted;
    if (!address) address = pool_.choose(key, now_ms);
    if (!address) {
      counters_.no_addresses++;
      write_ia(w, ia.iaid, std::nullopt, StatusCode::no_addresses_available);
      continue;
    }
    pool_.assign(key, *address, bind, now_ms,
                 bind ? std::uint64_t{config_.valid_lifetime_s} * 1000 : config_.offer_hold_ms);
    if (bind) counters_.addresses_bound++;
    write_ia(w, ia.iaid, address, StatusCode::success);
  }
}

void Server::answer_extend(Writer& w, const Message& m, std::uint64_t now_ms) {
  const std::vector<std::uint8_t> duid = body_of(m.find(OptionCode::client_id));
  const auto associations = identity_associations(m);  // checked well-formed by handle()
  for (const IdentityAssociation& ia : *associations) {
    const BindingKey key{duid, ia.iaid};
    std::optional<Ipv6> address;
    if (auto binding = pool_.binding_of(key, now_ms); binding && binding->bound) address = binding->address;
    for (const Ipv6& held : ia_addresses(ia))  // authoritative: an address we forgot, if free
      if (!address && pool_.available_to(key, held, now_ms)) address = held;
    if (!address) {
      write_ia(w, ia.iaid, std::nullopt, StatusCode::no_binding);
      continue;
    }
    pool_.assign(key, *address, true, now_ms, std::uint64_t{config_.valid_lifetime_s} * 1000);
    write_ia(w, ia.iaid, address, StatusCode::success);
  }
}

void Server::answer_release(Writer& w, const Message& m, bool decline, std::uint64_t now_ms) {
  const std::vector<std::uint8_t> duid = body_of(m.find(OptionCode::client_id));
  const auto associations = identity_associations(m);  // checked well-formed by handle()
  for (const IdentityAssociation& ia : *associations) {
    for (const Ipv6& address : ia_addresses(ia)) {
      const BindingKey key{duid, ia.iaid};
      if (decline)
        pool_.decline(key, address, now_ms, config_.decline_hold_ms);
      else
        pool_.release(key, address);
    }
  }
  write_status(w, StatusCode::success, decline ? "declined" : "released");
}

std::optional<std::vector<std::uint8_t>> Server::answer_confirm(Writer& w, const Message& m) {
  std::size_t addresses = 0;
  bool on_link = true;
  const auto associations = identity_associations(m);  // checked well-formed by handle()
  for (const IdentityAssociation& ia : *associations) {
    for (const Ipv6& address : ia_addresses(ia)) {
      ++addresses;
      on_link = on_link && config_.prefix.contains(address);
    }
  }
  if (addresses == 0) return drop(Drop::nothing_to_confirm);  // §18.3.3: nothing to say
  if (on_link)
    write_status(w, StatusCode::success, "on link");
  else
    write_status(w, StatusCode::not_on_link, "not on this link");
  counters_.replies++;
  return w.take();
}

std::optional<std::vector<std::uint8_t>> Server::handle(ByteSpan payload, std::uint64_t now_ms) {
  counters_.received++;
  const auto m = parse_message(payload);
  if (!m) return drop(Drop::malformed);
  if (m->type >= 1 && m->type <= 11) counters_.by_type[m->type]++;
  const auto type = static_cast<MessageType>(m->type);
  if (type == MessageType::advertise || type == MessageType::reply || type == MessageType::reconfigure ||
      m->type == kRelayForward || m->type == kRelayReply)
    return drop(Drop::server_message);
  if (m->type == 0 || m->type > kRelayReply) return drop(Drop::unknown_type);
  if (auto bad = check_identifiers(*m, type)) return drop(*bad);
  if (!identity_associations(*m)) return drop(Drop::malformed);

  const bool rapid = type == MessageType::solicit && m->find(OptionCode::rapid_commit) != nullptr;
  Writer w(type == MessageType::solicit && !rapid ? MessageType::advertise : MessageType::reply, m->transaction_id);
  add_common(w, *m);
  switch (type) {
    case MessageType::solicit:
      if (config_.pool_size == 0 || m->count(OptionCode::ia_na) == 0) {
        // §18.3.9: no addresses for this client at all: say so once, not per IA.
        counters_.no_addresses++;
        write_status(w, StatusCode::no_addresses_available, "no addresses available");
        break;
      }
      if (rapid) w.option(OptionCode::rapid_commit, {});
      answer_addresses(w, *m, rapid, now_ms);
      break;
    case MessageType::request:
      answer_addresses(w, *m, true, now_ms);
      break;
    case MessageType::renew:
    case MessageType::rebind:
      answer_extend(w, *m, now_ms);
      break;
    case MessageType::release:
    case MessageType::decline:
      answer_release(w, *m, type == MessageType::decline, now_ms);
      break;
    case MessageType::confirm:
      return answer_confirm(w, *m);
    default:  // information-request
      w.begin(OptionCode::information_refresh_time);
      w.u32(config_.information_refresh_s);
      w.end();
      break;
  }
  if (type == MessageType::solicit && !rapid)
    counters_.advertises++;
  else
    counters_.replies++;
  return w.take();
}

std::vector<Lease> Server::leases(std::uint64_t now_ms) const {
  std::vector<Lease> out;
  for (const auto& [key, binding] : pool_.bound(now_ms))
    out.push_back(Lease{binding.address, key.first, key.second, binding.expires_ms});
  return out;
}

}  // namespace usernet::dhcp6
