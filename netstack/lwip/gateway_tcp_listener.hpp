// An lwIP TCP listener on one of the gateway's own ports (DNS over TCP, the in-guest API):
// owns the listening pcb from creation to close, so a failed bind or listen cannot leak it
// and the accept callback cannot outlive its owner.
#pragma once

#include <cstdint>

#include "netstack/base/ip_address.hpp"
#include "netstack/base/ipv4.hpp"

extern "C" {
#include "lwip/tcp.h"
}

namespace usernet {

class GatewayTcpListener {
 public:
  /// Listens on address:port; `on_accept` gets `arg`. Throws std::runtime_error naming the
  /// port when lwIP cannot create, bind or listen.
  GatewayTcpListener(const IpAddress& address, std::uint16_t port, void* arg, tcp_accept_fn on_accept);
  GatewayTcpListener(Ipv4 address, std::uint16_t port, void* arg, tcp_accept_fn on_accept)
      : GatewayTcpListener(IpAddress::from_v4(address), port, arg, on_accept) {}
  /// Stops accepting and closes the listener.
  ~GatewayTcpListener();
  GatewayTcpListener(const GatewayTcpListener&) = delete;
  GatewayTcpListener& operator=(const GatewayTcpListener&) = delete;

 private:
  tcp_pcb* listener_ = nullptr;
};

}  // namespace usernet
