#include "netstack/api/api_guest_listener.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <stdexcept>

extern "C" {
#include "lwip/tcp.h"
}

namespace usernet {

ApiGuestListener::ApiGuestListener(VirtualNetwork& network, OnConnection on_connection)
    : network_(network), on_connection_(std::move(on_connection)), relays_(network.loop(), network.end_of_turn()) {
  relays_.close_guest_with_host();  // the HTTP side closes after its answer or deadline
  network_.services().add_tcp_service_port(kGuestApiPort);
  tcp_pcb* pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
  if (pcb == nullptr) throw std::runtime_error("out of memory for the in-guest API listener");
  ip_addr_t address;
  ip_addr_set_ip4_u32_val(address, htonl(network.config().gateway_ip));
  ip_set_option(pcb, SOF_REUSEADDR);
  if (tcp_bind(pcb, &address, kGuestApiPort) != ERR_OK) {
    tcp_abort(pcb);
    throw std::runtime_error("cannot listen on the gateway's TCP port 80");
  }
  listener_ = tcp_listen(pcb);
  tcp_arg(listener_, this);
  tcp_accept(listener_, &ApiGuestListener::on_accept);
}

ApiGuestListener::~ApiGuestListener() {
  if (listener_ != nullptr) {
    tcp_arg(listener_, nullptr);
    tcp_accept(listener_, nullptr);
    tcp_close(listener_);
  }
}

err_t ApiGuestListener::on_accept(void* arg, tcp_pcb* pcb, err_t err) {
  auto* self = static_cast<ApiGuestListener*>(arg);
  if (self == nullptr || err != ERR_OK || pcb == nullptr) return ERR_VAL;
  const Ipv4 guest = ntohl(ip4_addr_get_u32(ip_2_ip4(&pcb->remote_ip)));
  std::uint64_t* refusal = nullptr;
  int fds[2];
  if (self->relays_.active_for(guest) >= kGuestApiMaxPerGuest)
    refusal = &self->refusals_.guest_limit;
  else if (self->relays_.active() >= kGuestApiMaxConnections)
    refusal = &self->refusals_.total_limit;
  else if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
    refusal = &self->refusals_.no_fds;
  if (refusal != nullptr) {
    ++*refusal;
    tcp_abort(pcb);  // a reset: the guest's client fails at once instead of waiting
    return ERR_ABRT;
  }
  self->relays_.add(pcb, fds[0], "guest API " + format_ipv4(guest));
  self->on_connection_(fds[1], guest);
  return ERR_OK;
}

}  // namespace usernet
