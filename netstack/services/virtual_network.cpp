#include "netstack/services/virtual_network.hpp"

namespace usernet {

Status validate(const NetworkConfig& c) {
  if (c.mtu < 576 || c.mtu > 65520) return Error{"mtu must be between 576 and 65520"};
  if (c.subnet.prefix_length > 30) return Error{"subnet must have room for hosts (/30 or larger)"};
  auto usable = [&](Ipv4 ip) {
    return c.subnet.contains(ip) && ip != c.subnet.network && ip != c.subnet.broadcast();
  };
  if (!usable(c.gateway_ip)) return Error{"gateway-ip must be a host address inside the subnet"};
  if (!usable(c.host_alias)) return Error{"host-ip must be a host address inside the subnet"};
  if (c.host_alias == c.gateway_ip) return Error{"host-ip must differ from gateway-ip"};
  if (!usable(c.first_guest_ip) || c.first_guest_ip == c.gateway_ip || c.first_guest_ip == c.host_alias)
    return Error{"the first guest address must be a free host address inside the subnet"};
  if (c.router_ip && (!usable(*c.router_ip) || *c.router_ip == c.first_guest_ip))
    return Error{"router-ip must be a host address inside the subnet other than the first guest's"};
  return {};
}

AddressMap VirtualNetwork::make_address_map(const NetworkConfig& config) {
  AddressMap map;
  if (config.host_loopback) {
    map.add_translation(config.host_alias, make_ipv4(127, 0, 0, 1));
    map.add_translation(config.ipv6_host_alias, *parse_ipv6("::1"));
  } else {
    map.add_gateway_alias(config.host_alias);
  }
  if (config.router() != config.gateway_ip && !map.is_virtual(config.router())) map.add_gateway_alias(config.router());
  map.set_guest_prefix(config.ipv6_prefix);
  if (config.nat64_prefix) map.set_nat64(*config.nat64_prefix, config.subnet);
  for (const auto& [virtual_ip, real_ip] : config.extra_translations) map.add_translation(virtual_ip, real_ip);
  map.set_allow_link_local(config.allow_link_local);
  map.set_deny_all(config.nat_disabled);
  map.set_outbound(config.outbound);
  return map;
}

VirtualNetwork::VirtualNetwork(uv_loop_t* loop, const NetworkConfig& config)
    : loop_(loop), config_(config), end_of_turn_(loop), lwip_(loop, end_of_turn_),
      addresses_(make_address_map(config)), switch_(config.max_frame()),
      gateway_(switch_, config.subnet, config.gateway_ip, config.gateway_mac, config.mtu, addresses_),
      nat_(loop, end_of_turn_, gateway_, addresses_, services_, config.nat) {
  gateway_.set_interceptor(&nat_);
  // A guest that detached or came back on another port leaves no flows holding fds.
  switch_.set_address_gone_observer([this](const IpAddress& guest) { nat_.guest_left(guest); });
}

VirtualNetwork::~VirtualNetwork() {
  switch_.set_address_gone_observer(nullptr);
  gateway_.set_interceptor(nullptr);
}

}  // namespace usernet
