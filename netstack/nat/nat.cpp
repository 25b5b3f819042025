#include "netstack/nat/nat.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "netstack/base/icmp.hpp"

extern "C" {
#include "lwip/ip4.h"
#include "lwip/pbuf.h"
}

namespace usernet {

namespace {
}

Nat::Nat(uv_loop_t* loop, EndOfTurn& end_of_turn, Gateway& gateway, const AddressMap& addresses,
         const GatewayServices& services, const NatOptions& options)
    : gateway_(gateway),
      services_(services),
      limits_(loop, FdBudget::for_this_process(), options.caps),
      tcp_(loop, end_of_turn, addresses, limits_, options.tcp_connect_timeout_ms),
      udp_(loop, gateway.lwip_netif(), addresses, limits_, options.udp_idle_timeout_ms),
      icmp_(loop, gateway.lwip_netif(), addresses, limits_, options.icmp_idle_timeout_ms),
      departure_timer_(loop, [this] { close_departed_guests(); }) {}

void Nat::guest_left(const IpAddress& guest) {
  if (departed_.empty()) departure_timer_.start(0);
  departed_.push_back(guest);
}

void Nat::close_departed_guests() {
  std::vector<IpAddress> guests;
  guests.swap(departed_);
  for (const IpAddress& guest : guests) {
    const std::size_t tcp = tcp_.close_guest(guest);
    const std::size_t udp = udp_.close_guest(guest);
    const std::size_t icmp = icmp_.close_guest(guest);
    counters_.guest_left_tcp += tcp;
    counters_.guest_left_udp += udp;
    counters_.guest_left_icmp += icmp;
    if (tcp + udp + icmp > 0)
      spdlog::info("guest {} left: closed its {} TCP, {} UDP and {} ICMP flows", guest.to_string(), tcp, udp, icmp);
  }
}

bool Nat::intercept(pbuf* p, netif* input) {
  auto ip = read_ipv4_header(p);
  if (!ip) {
    // Dropped here, not left to lwIP: 2.1.3's ip4_input reads the length fields of a
    // header shorter than 20 bytes before it checks the length (found by fuzz_gateway).
    counters_.malformed++;
    pbuf_free(p);
    return true;
  }
  // Link-layer padding off before anything else (lwIP trims only after this hook): its
  // reassembly chains whole pbufs, so a padded fragment would put the padding inside the
  // datagram.
  trim_to_ip_length(p, ip->total_length);
  if (ip->is_fragment) {
    // Reassemble here so that both the NAT and lwIP see whole datagrams; the result
    // re-enters ip4_input (and this hook) as an unfragmented packet.
    if (pbuf* whole = reassemble_ipv4(p)) ip4_input(whole, input);
    return true;
  }
  const Ipv4 destination = ip->destination.v4();
  const bool broadcast = destination == 0xffffffff || destination == gateway_.subnet().broadcast();
  if (destination == gateway_.address() || broadcast) return handle_for_gateway(p, *ip);
  if (is_multicast(destination)) {
    pbuf_free(p);
    return true;
  }
  if (!gateway_.subnet().contains(ip->source.v4())) {
    counters_.foreign_source++;
    pbuf_free(p);
    return true;
  }
  handle_foreign(p, *ip, input);
  return true;
}

bool Nat::intercept_ipv6(pbuf* p, netif* input) {
  auto ip = read_ipv6_header(p);
  if (!ip) {
    counters_.malformed++;
  } else if (ip->protocol == static_cast<std::uint8_t>(IpProtocol::ipv6_fragment)) {
    counters_.ipv6_fragments++;
  } else {
    trim_to_ip_length(p, ip->total_length);
    const Ipv6 destination = ip->destination.v6();
    if (std::find(ipv6_gateway_addresses_.begin(), ipv6_gateway_addresses_.end(), destination) !=
        ipv6_gateway_addresses_.end()) {
      deliver_ipv6_to_gateway(p, *ip);
    } else {
      handle_foreign(p, *ip, input);
    }
    return true;
  }
  pbuf_free(p);
  return true;
}

void Nat::deliver_ipv6_to_gateway(pbuf* p, const IpHeader& ip) {
  if (handle_for_gateway(p, ip)) return;
  if (ip.protocol == static_cast<std::uint8_t>(IpProtocol::tcp)) {
    inject_tcp_segment(p, gateway_.lwip_netif());  // a gateway TCP service (DNS over TCP)
    return;
  }
  if (ip.protocol == static_cast<std::uint8_t>(IpProtocol::udp)) {
    send_unreachable_for(p, Unreachable::port);
  } else {
    counters_.unsupported++;
  }
  pbuf_free(p);
}

bool Nat::handle_for_gateway(pbuf* p, const IpHeader& ip) {
  if (ip.protocol == static_cast<std::uint8_t>(IpProtocol::udp)) {
    auto udp = read_udp_header(p, ip);
    if (!udp) {
      counters_.bad_udp_header++;
      pbuf_free(p);
      return true;
    }
    const GatewayServices::UdpService* service = services_.udp_service(udp->destination_port);
    if (service == nullptr) return false;  // lwIP answers port unreachable
    const std::uint16_t length = udp->length - 8;
    scratch_.resize(length);
    copy_from_pbuf(p, static_cast<std::uint16_t>(ip.header_length + 8), scratch_.data(), length);
    pbuf_free(p);
    (*service)(UdpRequest{ip.source, udp->source_port, ip.destination, udp->destination_port,
                          ByteSpan(scratch_.data(), length)});
    return true;
  }
  const bool unicast = ip.is_v6() || ip.destination.v4() == gateway_.address();
  if (ip.protocol == static_cast<std::uint8_t>(IpProtocol::tcp) && unicast) {
    auto tcp = read_tcp_header(p, ip);
    const bool opening = tcp && tcp->has(TcpHeader::kSyn) && !tcp->has(TcpHeader::kAck) && !tcp->has(TcpHeader::kRst);
    if (opening && !services_.has_tcp_service_port(tcp->destination_port)) {
      // A new connection to a port the gateway does not serve: answer like a closed port
      // instead of letting a NAT catch-all listener on the same port number accept it.
      // Everything else (e.g. SYN-ACKs to port forwards' connections) goes to lwIP.
      send_tcp_reset_for(ip, *tcp);
      pbuf_free(p);
      return true;
    }
  }
  return false;
}

void Nat::handle_foreign(pbuf* p, const IpHeader& ip, netif* input) {
  switch (static_cast<IpProtocol>(ip.protocol)) {
    case IpProtocol::tcp: {
      auto tcp = read_tcp_header(p, ip);
      if (!tcp) {
        counters_.bad_tcp_header++;
        pbuf_free(p);
        return;
      }
      tcp_.on_guest_segment(p, ip, *tcp, input);
      return;
    }
    case IpProtocol::udp: {
      auto udp = read_udp_header(p, ip);
      if (!udp) {
        counters_.bad_udp_header++;
        pbuf_free(p);
        return;
      }
      const std::uint16_t length = udp->length - 8;
      scratch_.resize(length);
      copy_from_pbuf(p, static_cast<std::uint16_t>(ip.header_length + 8), scratch_.data(), length);
      pbuf_free(p);
      udp_.on_guest_datagram(FlowKey{ip.source, udp->source_port, ip.destination, udp->destination_port},
                             scratch_.data(), length);
      return;
    }
    case IpProtocol::icmp:
    case IpProtocol::icmpv6: {
      const std::uint16_t length = ip.total_length - ip.header_length;
      const std::uint8_t echo_request = echo_request_type(!ip.is_v6());
      const bool family_matches = (static_cast<IpProtocol>(ip.protocol) == IpProtocol::icmpv6) == ip.is_v6();
      scratch_.resize(length);
      if (family_matches && length >= 8 && copy_from_pbuf(p, ip.header_length, scratch_.data(), length) &&
          scratch_[0] == echo_request && scratch_[1] == 0) {
        pbuf_free(p);
        icmp_.on_echo_request(ip.source, ip.destination, scratch_.data(), length);
        return;
      }
      counters_.unsupported++;
      pbuf_free(p);
      return;
    }
    default:
      counters_.unsupported++;
      pbuf_free(p);
      return;
  }
}

}  // namespace usernet
