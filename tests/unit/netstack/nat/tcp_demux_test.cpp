// TcpDemux against the real lwIP: guest segments built byte by byte go through the demux into
// tcp_input, and the tests check what lwIP did (pcbs, list order, SYN-ACKs, data received).
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "netstack/base/byte_order.hpp"
#include "netstack/lwip/lwip_packet_io.hpp"
#include "netstack/nat/tcp_demux.hpp"

extern "C" {
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
}

using namespace usernet;

namespace {

constexpr Ipv4 kGuest = make_ipv4(192, 168, 127, 2);
constexpr Ipv4 kRemote = make_ipv4(10, 1, 2, 3);
constexpr std::uint16_t kRemotePort = 80;
constexpr std::uint32_t kGuestIss = 1000;
constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kPsh = 0x08, kAck = 0x10;

struct Sent {
  std::uint16_t guest_port;
  std::uint32_t seq, ack;
  std::uint8_t flags;
};

std::vector<Sent> g_sent;                           // lwIP's segments to the guest
std::map<std::uint16_t, std::size_t> g_received;     // guest port -> bytes lwIP delivered
std::map<std::uint16_t, tcp_pcb*> g_accepted;        // guest port -> established pcb

err_t capture_output(netif*, pbuf* p, const ip4_addr_t*) {
  std::vector<std::uint8_t> bytes(p->tot_len);
  pbuf_copy_partial(p, bytes.data(), p->tot_len, 0);
  const std::size_t ihl = (bytes[0] & 0x0f) * 4u;
  const std::uint8_t* tcp = bytes.data() + ihl;
  g_sent.push_back({load_be16(tcp + 2), load_be32(tcp + 4), load_be32(tcp + 8), tcp[13]});
  return ERR_OK;
}

err_t netif_setup(netif* n) {
  n->output = capture_output;
  n->mtu = 1500;
  n->flags = NETIF_FLAG_LINK_UP;
  return ERR_OK;
}

err_t on_recv(void*, tcp_pcb* pcb, pbuf* p, err_t) {
  if (p == nullptr) return ERR_OK;  // guest FIN
  g_received[pcb->remote_port] += p->tot_len;
  tcp_recved(pcb, p->tot_len);
  pbuf_free(p);
  return ERR_OK;
}

err_t on_accept(void*, tcp_pcb* pcb, err_t err) {
  if (err != ERR_OK || pcb == nullptr) return ERR_VAL;
  tcp_recv(pcb, on_recv);
  g_accepted[pcb->remote_port] = pcb;
  return ERR_OK;
}

void put_be16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

void put_be32(std::uint8_t* p, std::uint32_t v) {
  put_be16(p, static_cast<std::uint16_t>(v >> 16));
  put_be16(p + 2, static_cast<std::uint16_t>(v));
}

/// A guest TCP segment (IPv4 + TCP header, no options) from kGuest:port to kRemote:80.
pbuf* guest_segment(std::uint16_t port, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
                    std::size_t payload = 0) {
  const auto total = static_cast<u16_t>(40 + payload);
  pbuf* p = pbuf_alloc(PBUF_RAW, total, PBUF_RAM);
  auto* b = static_cast<std::uint8_t*>(p->payload);
  std::memset(b, 0, total);
  b[0] = 0x45;
  put_be16(b + 2, total);
  b[8] = 64;
  b[9] = 6;
  put_be32(b + 12, kGuest);
  put_be32(b + 16, kRemote);
  put_be16(b + 20, port);
  put_be16(b + 22, kRemotePort);
  put_be32(b + 24, seq);
  put_be32(b + 28, ack);
  b[32] = 5 << 4;
  b[33] = flags;
  put_be16(b + 34, 65535);
  std::memset(b + 40, 'x', payload);
  return p;
}

FlowKey key_for(std::uint16_t port) {
  return FlowKey{IpAddress::from_v4(kGuest), port, IpAddress::from_v4(kRemote), kRemotePort};
}

std::vector<tcp_pcb*> list_of(tcp_pcb* head) {
  std::vector<tcp_pcb*> pcbs;
  for (tcp_pcb* pcb = head; pcb != nullptr && pcbs.size() < 100000; pcb = pcb->next) pcbs.push_back(pcb);
  return pcbs;
}

/// lwIP with one netif that records output, a NAT-style ANY:80 listener watched by a demux.
struct LwipFixture {
  netif nif{};
  tcp_pcb* listener = nullptr;
  TcpDemux demux;
  std::map<std::uint16_t, std::uint32_t> server_iss;  // guest port -> lwIP's ISS

  LwipFixture() {
    static const bool initialised = (lwip_init(), true);
    (void)initialised;
    g_sent.clear();
    g_received.clear();
    g_accepted.clear();
    ip4_addr_t ip, mask, gw;
    IP4_ADDR(&ip, 192, 168, 127, 1);
    IP4_ADDR(&mask, 255, 255, 255, 0);
    IP4_ADDR(&gw, 0, 0, 0, 0);
    REQUIRE(netif_add(&nif, &ip, &mask, &gw, nullptr, netif_setup, netif_input) != nullptr);
    netif_set_default(&nif);
    netif_set_up(&nif);
    tcp_pcb* pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    ip_set_option(pcb, SOF_REUSEADDR);
    REQUIRE(tcp_bind(pcb, IP4_ADDR_ANY, kRemotePort) == ERR_OK);
    listener = tcp_listen_with_backlog(pcb, TCP_DEFAULT_LISTEN_BACKLOG);
    REQUIRE(listener != nullptr);
    demux.watch_listener(listener);
    tcp_accept(listener, on_accept);
  }

  ~LwipFixture() {
    while (tcp_active_pcbs != nullptr) tcp_abort(tcp_active_pcbs);
    while (tcp_tw_pcbs != nullptr) tcp_abort(tcp_tw_pcbs);
    tcp_close(listener);
    netif_remove(&nif);
  }

  /// SYN through the demux, SYN-ACK from lwIP, ACK back: an established, accepted pcb.
  tcp_pcb* open(std::uint16_t port) {
    g_sent.clear();
    demux.deliver_opening(guest_segment(port, kGuestIss, 0, kSyn), key_for(port), &nif);
    REQUIRE(g_sent.size() == 1);
    REQUIRE(g_sent[0].flags == (kSyn | kAck));
    server_iss[port] = g_sent[0].seq;
    demux.deliver(guest_segment(port, kGuestIss + 1, g_sent[0].seq + 1, kAck), key_for(port), &nif);
    REQUIRE(g_accepted.count(port) == 1);
    return g_accepted[port];
  }

  /// `bytes` of data from the guest on an established flow (the guest's sequence space
  /// continues from what it sent before).
  void send_data(std::uint16_t port, std::size_t bytes, bool through_demux = true) {
    const std::uint32_t seq = kGuestIss + 1 + static_cast<std::uint32_t>(g_received[port]);
    pbuf* p = guest_segment(port, seq, server_iss[port] + 1, kAck | kPsh, bytes);
    if (through_demux) demux.deliver(p, key_for(port), &nif);
    else inject_tcp_segment(p, &nif);
  }
};

/// Every established pcb exactly once in tcp_active_pcbs, nothing else.
void check_active_list_holds(const std::map<std::uint16_t, tcp_pcb*>& expected) {
  const auto pcbs = list_of(tcp_active_pcbs);
  const std::set<tcp_pcb*> unique(pcbs.begin(), pcbs.end());
  CHECK(pcbs.size() == expected.size());
  CHECK(unique.size() == pcbs.size());
  for (const auto& [port, pcb] : expected) CHECK(unique.count(pcb) == 1);
}

}  // namespace

TEST_CASE("opening SYNs reach the listener with other connections hidden; the lists come back whole") {
  LwipFixture lwip;
  for (std::uint16_t port = 20000; port < 20050; ++port) lwip.open(port);
  CHECK(lwip.demux.counters().hidden_opens == 50);
  CHECK(lwip.demux.tracked() == 50);
  check_active_list_holds(g_accepted);
  CHECK(tcp_active_pcbs == g_accepted[20049]);  // the newest is first, as lwIP registers them
  for (const auto& [port, pcb] : g_accepted) CHECK(pcb->state == ESTABLISHED);
}

TEST_CASE("a segment of the oldest flow puts its pcb first without lwIP's scan") {
  LwipFixture lwip;
  for (std::uint16_t port = 20000; port < 20100; ++port) lwip.open(port);
  const auto before = lwip.demux.counters();
  // Oldest first: every flow is the last of the list when its turn comes.
  for (std::uint16_t port = 20000; port < 20100; ++port) {
    lwip.send_data(port, 10);
    CHECK(tcp_active_pcbs == g_accepted[port]);
  }
  CHECK(lwip.demux.counters().spliced - before.spliced == 100);
  CHECK(lwip.demux.counters().scanned == before.scanned);
  for (std::uint16_t port = 20000; port < 20100; ++port) CHECK(g_received[port] == 10);
  check_active_list_holds(g_accepted);
}

TEST_CASE("lwIP reordering behind the demux's back falls back to lwIP's scan, never corrupts") {
  LwipFixture lwip;
  for (std::uint16_t port = 20000; port < 20020; ++port) lwip.open(port);
  // lwIP moves these to the front itself: the demux's guessed order is now wrong for them
  // and for their old neighbours.
  for (std::uint16_t port : {20003, 20011, 20007}) lwip.send_data(port, 5, false);
  for (int round = 0; round < 3; ++round)
    for (std::uint16_t port = 20000; port < 20020; ++port) lwip.send_data(port, 7);
  for (std::uint16_t port = 20000; port < 20020; ++port) {
    const bool moved = port == 20003 || port == 20011 || port == 20007;
    CHECK(g_received[port] == (moved ? 5u : 0u) + 21u);
  }
  CHECK(lwip.demux.counters().scanned > 0);
  CHECK(lwip.demux.counters().scanned <= 6);  // only the first round meets stale guesses
  check_active_list_holds(g_accepted);
}

TEST_CASE("freed pcbs leave the table, and their neighbours are still found") {
  LwipFixture lwip;
  for (std::uint16_t port = 20000; port < 20010; ++port) lwip.open(port);
  for (std::uint16_t port : {20002, 20005, 20009}) {
    tcp_abort(g_accepted[port]);
    g_accepted.erase(port);
  }
  CHECK(lwip.demux.tracked() == 7);
  for (const auto& [port, pcb] : g_accepted) lwip.send_data(port, 3);
  for (const auto& [port, pcb] : g_accepted) CHECK(g_received[port] == 3);
  check_active_list_holds(g_accepted);
  // A guest reset frees the pcb from inside tcp_input.
  const std::uint16_t reset_port = 20004;
  lwip.demux.deliver(guest_segment(reset_port, kGuestIss + 4, 0, 0x04), key_for(reset_port), &lwip.nif);
  g_accepted.erase(reset_port);
  CHECK(lwip.demux.tracked() == 6);
  check_active_list_holds(g_accepted);
}

TEST_CASE("a closed flow is known in TIME_WAIT, and its 4-tuple opens again") {
  LwipFixture lwip;
  tcp_pcb* pcb = lwip.open(20000);
  lwip.open(20001);
  g_sent.clear();
  REQUIRE(tcp_close(pcb) == ERR_OK);  // FIN to the guest
  REQUIRE(!g_sent.empty());
  const std::uint32_t fin_seq = g_sent.back().seq;
  // The guest ACKs the FIN and sends its own: lwIP's side ends in TIME_WAIT.
  lwip.demux.deliver(guest_segment(20000, kGuestIss + 1, fin_seq + 1, kAck | kFin), key_for(20000), &lwip.nif);
  CHECK(lwip.demux.in_time_wait(key_for(20000)));
  CHECK_FALSE(lwip.demux.in_time_wait(key_for(20001)));
  REQUIRE(drop_time_wait(IpAddress::from_v4(kRemote), kRemotePort, IpAddress::from_v4(kGuest), 20000));
  CHECK_FALSE(lwip.demux.in_time_wait(key_for(20000)));
  CHECK(lwip.demux.tracked() == 1);
  g_accepted.erase(20000);
  tcp_pcb* again = lwip.open(20000);
  CHECK(again->state == ESTABLISHED);
  CHECK(lwip.demux.tracked() == 2);
  check_active_list_holds(g_accepted);
}

TEST_CASE("a demux destroyed before its flows leaves their pcbs to lwIP, which frees them later") {
  LwipFixture lwip;
  auto early = std::make_unique<TcpDemux>();
  early->watch_listener(lwip.listener);  // the flows opened now are tracked by `early`
  for (std::uint16_t port = 20000; port < 20003; ++port) lwip.open(port);
  CHECK(early->tracked() == 3);
  early.reset();  // usernetd's shutdown order: the NAT goes before lwIP's pcbs
  lwip.demux.watch_listener(lwip.listener);
  // lwIP frees the pcbs afterwards; their destroy callbacks must not reach the freed demux.
  for (auto& [port, pcb] : g_accepted) tcp_abort(pcb);
  g_accepted.clear();
  CHECK(tcp_active_pcbs == nullptr);
  CHECK(lwip.demux.tracked() == 0);
}
