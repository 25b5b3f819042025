#include "netstack/lwip/gateway_tcp_listener.hpp"

#include <doctest/doctest.h>
#include <uv.h>

#include <optional>
#include <stdexcept>
#include <string>

#include "netstack/services/virtual_network.hpp"

extern "C" {
#include "lwip/priv/tcp_priv.h"
}

using namespace usernet;

namespace {

/// pcbs that are bound but neither listening nor connected: where a half-made listener
/// would stay (still reachable, so LeakSanitizer would not see it).
int bound_pcbs() {
  int count = 0;
  for (tcp_pcb* pcb = tcp_bound_pcbs; pcb != nullptr; pcb = pcb->next) ++count;
  return count;
}

err_t refuse(void*, tcp_pcb*, err_t) { return ERR_ABRT; }

struct LwipFixture {
  uv_loop_t loop{};
  std::optional<VirtualNetwork> network;
  LwipFixture() {
    uv_loop_init(&loop);
    network.emplace(&loop, NetworkConfig{});
  }
  ~LwipFixture() {
    network.reset();
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
  }
  Ipv4 gateway() const { return network->config().gateway_ip; }
};

}  // namespace

TEST_CASE("a second listener on a gateway port fails with the port named, and leaks nothing") {
  LwipFixture lwip;
  std::optional<GatewayTcpListener> first;
  first.emplace(lwip.gateway(), 4053, nullptr, &refuse);
  const int bound_before = bound_pcbs();
  for (int attempt = 0; attempt < 3; ++attempt) {
    try {
      GatewayTcpListener second(lwip.gateway(), 4053, nullptr, &refuse);
      FAIL("a second listener on the same port was created");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()) == "cannot listen on the gateway's TCP port 192.168.127.1:4053");
    }
  }
  CHECK(bound_pcbs() == bound_before);  // each failed attempt gave its pcb back
  first.reset();  // closing frees the port for the next owner
  CHECK_NOTHROW(GatewayTcpListener(lwip.gateway(), 4053, nullptr, &refuse));
}
