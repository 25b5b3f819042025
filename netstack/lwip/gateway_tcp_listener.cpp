#include "netstack/lwip/gateway_tcp_listener.hpp"

#include <stdexcept>
#include <string>

#include "netstack/lwip/lwip_address.hpp"

namespace usernet {

GatewayTcpListener::GatewayTcpListener(const IpAddress& address, std::uint16_t port, void* arg,
                                       tcp_accept_fn on_accept) {
  const std::string what = "the gateway's TCP port " + address.with_port(port);
  tcp_pcb* pcb = tcp_new_ip_type(address.is_v4() ? IPADDR_TYPE_V4 : IPADDR_TYPE_V6);
  if (pcb == nullptr) throw std::runtime_error("out of memory for a listener on " + what);
  const ip_addr_t lwip_address = to_lwip_address(address);
  ip_set_option(pcb, SOF_REUSEADDR);
  if (tcp_bind(pcb, &lwip_address, port) != ERR_OK) {
    tcp_abort(pcb);
    throw std::runtime_error("cannot listen on " + what);
  }
  // Frees pcb when it succeeds, not when it fails (ERR_USE: another listener holds the
  // port, which SOF_REUSEADDR let tcp_bind pass).
  err_t error = ERR_OK;
  listener_ = tcp_listen_with_backlog_and_err(pcb, TCP_DEFAULT_LISTEN_BACKLOG, &error);
  if (listener_ == nullptr) {
    tcp_abort(pcb);
    if (error == ERR_MEM) throw std::runtime_error("out of memory for a listener on " + what);
    throw std::runtime_error("cannot listen on " + what);
  }
  tcp_arg(listener_, arg);
  tcp_accept(listener_, on_accept);
}

GatewayTcpListener::~GatewayTcpListener() {
  tcp_arg(listener_, nullptr);
  tcp_accept(listener_, nullptr);
  tcp_close(listener_);
}

}  // namespace usernet
