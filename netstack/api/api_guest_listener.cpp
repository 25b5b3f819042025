#include "netstack/api/api_guest_listener.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <stdexcept>

extern "C" {
#include "lwip/tcp.h"
}

#include "netstack/lwip/lwip_address.hpp"

namespace usernet {

ApiGuestListener::ApiGuestListener(VirtualNetwork& network, OnConnection on_connection)
    : network_(network), on_connection_(std::move(on_connection)), relays_(network.loop(), network.end_of_turn()) {
  relays_.close_guest_with_host();  // the HTTP side closes after its answer or deadline
  network_.services().add_tcp_service_port(kGuestApiPort);
  listener_.emplace(network.config().gateway_ip, kGuestApiPort, this, &ApiGuestListener::on_accept);
}

ApiGuestListener::~ApiGuestListener() = default;

err_t ApiGuestListener::on_accept(void* arg, tcp_pcb* pcb, err_t err) {
  auto* self = static_cast<ApiGuestListener*>(arg);
  if (self == nullptr || err != ERR_OK || pcb == nullptr) return ERR_VAL;
  const IpAddress guest = from_lwip_address(pcb->remote_ip);
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
  self->relays_.add(pcb, fds[0], "guest API " + guest.to_string());
  self->on_connection_(fds[1], guest.v4());  // the API listens on the IPv4 gateway only
  return ERR_OK;
}

}  // namespace usernet
