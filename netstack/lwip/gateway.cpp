#include "netstack/lwip/gateway.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <stdexcept>

#include "netstack/lwip/arp_responder.hpp"

extern "C" {
#include "lwip/etharp.h"
#include "lwip/ip6.h"
#include "lwip/ip6_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "netif/ethernet.h"
}

extern "C" int usernet_ip4_input_hook(struct pbuf* p, struct netif* inp) {
  auto* gateway = usernet::Gateway::from_netif(inp);
  if (gateway == nullptr || gateway->interceptor() == nullptr) return 0;
  return gateway->interceptor()->intercept(p, inp) ? 1 : 0;
}

extern "C" int usernet_ip6_input_hook(struct pbuf* p, struct netif* inp) {
  auto* gateway = usernet::Gateway::from_netif(inp);
  if (gateway == nullptr || gateway->interceptor() == nullptr) return 0;
  return gateway->interceptor()->intercept_ipv6(p, inp) ? 1 : 0;
}

namespace usernet {

namespace {
ip4_addr_t to_lwip4(Ipv4 address) {
  ip4_addr_t out;
  out.addr = htonl(address);
  return out;
}
}  // namespace

Gateway::Gateway(Switch& sw, Ipv4Subnet subnet, Ipv4 address, MacAddress mac, unsigned mtu,
                 const AddressMap& addresses)
    : switch_(sw), subnet_(subnet), address_(address), mac_(mac), mtu_(mtu), addresses_(addresses),
      netif_(std::make_unique<netif>()) {
  std::memset(netif_.get(), 0, sizeof(netif));
  const ip4_addr_t ip = to_lwip4(address);
  const ip4_addr_t mask = to_lwip4(subnet.netmask());
  const ip4_addr_t gw = to_lwip4(0);
  if (netif_add(netif_.get(), &ip, &mask, &gw, this, &Gateway::netif_init, ethernet_input) == nullptr)
    throw std::runtime_error("lwIP netif_add failed");
  netif_set_default(netif_.get());
  netif_set_up(netif_.get());
  netif_set_link_up(netif_.get());
  port_id_ = switch_.attach(*this);
  // No guest may send as the gateway (it would take its traffic).
  switch_.reserve_mac(mac_, port_id_);
  // Nor answer ARP for, or send from, the addresses the gateway answers for.
  switch_.reserve_ip(address_, mac_);
  for (const auto& [virtual_ip, real_ip] : addresses_.translations()) switch_.reserve_ip(virtual_ip, mac_);
}

Gateway::~Gateway() {
  switch_.detach(port_id_);
  netif_remove(netif_.get());
}

Gateway* Gateway::from_netif(netif* n) { return n ? static_cast<Gateway*>(n->state) : nullptr; }

err_t Gateway::netif_init(netif* n) {
  auto* self = static_cast<Gateway*>(n->state);
  n->name[0] = 'u';
  n->name[1] = 'n';
  n->hwaddr_len = ETH_HWADDR_LEN;
  std::memcpy(n->hwaddr, self->mac_.data(), ETH_HWADDR_LEN);
  n->mtu = static_cast<u16_t>(self->mtu_);
  n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
  n->output = etharp_output;
  n->output_ip6 = &Gateway::output_ipv6;
  n->linkoutput = &Gateway::link_output;
  return ERR_OK;
}

bool Gateway::send_frame(ByteSpan frame) {
  const MacAddress dst = frame_destination(frame);
  if (frame_ethertype(frame) == static_cast<std::uint16_t>(EtherType::ipv6)) {
    // IPv6 multicast (33:33:...) carries router and neighbour solicitations.
    const bool ipv6_multicast = dst[0] == 0x33 && dst[1] == 0x33;
    if (dst != mac_ && !ipv6_multicast) {
      counters_.not_for_us++;
    } else if (ipv6_receiver_ == nullptr) {
      counters_.ipv6_ignored++;
    } else {
      counters_.frames_in++;
      ipv6_receiver_->receive_ipv6(frame);
    }
    return true;
  }
  if (dst != mac_ && dst != kBroadcastMac) {
    // Multicast we do not join, or unicast for another MAC that the switch flooded.
    counters_.not_for_us++;
    return true;
  }
  counters_.frames_in++;
  // lwIP 2.1.3 reads ARP and IPv4 headers before checking their length (found by
  // fuzz_gateway): frames too short for their header never reach it.
  const std::uint16_t type = frame_ethertype(frame);
  if ((type == static_cast<std::uint16_t>(EtherType::arp) && frame.size() < kEthernetHeaderSize + 28) ||
      (type == static_cast<std::uint16_t>(EtherType::ipv4) && frame.size() < kEthernetHeaderSize + 20)) {
    counters_.truncated++;
    return true;
  }
  if (type == static_cast<std::uint16_t>(EtherType::arp)) {
    auto reply = arp_reply_for(frame, mac_, [this](Ipv4 ip) { return addresses_.is_virtual(ip); });
    if (reply) {
      counters_.arp_answered++;
      counters_.frames_out++;
      switch_.receive(port_id_, *reply);
      return true;
    }
  }
  pbuf* p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(frame.size()), PBUF_RAM);
  if (p == nullptr) {
    counters_.no_memory++;
    return false;
  }
  std::memcpy(p->payload, frame.data(), frame.size());
  if (netif_->input(p, netif_.get()) != ERR_OK) pbuf_free(p);
  return true;
}

void Gateway::learn_ipv6_neighbor(const Ipv6& source, const MacAddress& mac) {
  constexpr std::size_t kMaxNeighbors = 65536;  // bounds what spoofed sources can cost
  if (is_unspecified(source) || is_multicast(source)) return;  // DAD probes, bogus sources
  const IpAddress key = IpAddress::from_v6(source);
  if (ipv6_neighbors_.size() >= kMaxNeighbors && !ipv6_neighbors_.contains(key)) ipv6_neighbors_.clear();
  ipv6_neighbors_[key] = mac;
  if (auto waiting = awaiting_neighbor_.find(key); waiting != awaiting_neighbor_.end()) {
    const PbufHandle packet = std::move(waiting->second);
    awaiting_neighbor_.erase(waiting);
    send_ipv6(packet.get(), mac);
  }
}

void Gateway::PbufFree::operator()(pbuf* p) const { pbuf_free(p); }

err_t Gateway::queue_for_neighbor(pbuf* p, const Ipv6& destination) {
  constexpr std::size_t kMaxWaiting = 256;  // addresses solicited at once
  const IpAddress key = IpAddress::from_v6(destination);
  if (ipv6_receiver_ == nullptr || (awaiting_neighbor_.size() >= kMaxWaiting && !awaiting_neighbor_.contains(key))) {
    counters_.ipv6_no_neighbor++;
    return ERR_RTE;
  }
  // A copy with room for the Ethernet header: lwIP may reuse p once output returns.
  PbufHandle copy(pbuf_clone(PBUF_LINK, PBUF_RAM, p));
  if (!copy) {
    counters_.no_memory++;
    return ERR_MEM;
  }
  awaiting_neighbor_[key] = std::move(copy);  // an older packet for it is dropped, as lwIP's ARP does
  counters_.ipv6_neighbor_queued++;
  ipv6_receiver_->solicit_neighbor(destination);
  return ERR_OK;
}

err_t Gateway::send_ipv6(pbuf* p, const MacAddress& destination) {
  eth_addr source_mac;
  eth_addr destination_mac;
  std::memcpy(source_mac.addr, netif_->hwaddr, ETH_HWADDR_LEN);
  std::memcpy(destination_mac.addr, destination.data(), ETH_HWADDR_LEN);
  return ethernet_output(netif_.get(), p, &source_mac, &destination_mac, ETHTYPE_IPV6);
}

err_t Gateway::output_ipv6(netif* n, pbuf* p, const ip6_addr_t* destination) {
  auto* self = static_cast<Gateway*>(n->state);
  Ipv6 address;
  std::memcpy(address.data(), destination->addr, 16);
  if (is_multicast(address)) return self->send_ipv6(p, multicast_mac(address));
  auto it = self->ipv6_neighbors_.find(IpAddress::from_v6(address));
  if (it == self->ipv6_neighbors_.end()) return self->queue_for_neighbor(p, address);
  return self->send_ipv6(p, it->second);
}

void Gateway::input_ipv6(ByteSpan packet) {
  if (packet.size() > 0xffff) {
    counters_.oversize++;  // a jumbogram-sized frame: no 16-bit pbuf holds it
    return;
  }
  pbuf* p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(packet.size()), PBUF_RAM);
  if (p == nullptr) {
    counters_.no_memory++;
    return;
  }
  std::memcpy(p->payload, packet.data(), packet.size());
  ip6_input(p, netif_.get());  // frees p, or its hook took it
}

void Gateway::transmit(ByteSpan frame) {
  counters_.frames_out++;
  switch_.receive(port_id_, frame);
}

err_t Gateway::link_output(netif* n, pbuf* p) {
  auto* self = static_cast<Gateway*>(n->state);
  self->counters_.frames_out++;
  if (p->next == nullptr) {
    self->switch_.receive(self->port_id_, ByteSpan(static_cast<const std::uint8_t*>(p->payload), p->len));
    return ERR_OK;
  }
  self->gather_.resize(p->tot_len);
  pbuf_copy_partial(p, self->gather_.data(), p->tot_len, 0);
  // Copy: the switch may re-enter lwIP (and this function) while delivering.
  std::vector<std::uint8_t> frame;
  frame.swap(self->gather_);
  self->switch_.receive(self->port_id_, frame);
  if (self->gather_.capacity() < frame.capacity()) self->gather_.swap(frame);
  return ERR_OK;
}

}  // namespace usernet
