// A tiny authoritative DNS server for the upstream tests, on 127.0.0.1 only (UDP and TCP on
// the same ephemeral port, as c-ares expects). It knows:
//   a.test.    A   10.0.0.1
//   big.test.  TXT four 200-octet strings (truncated with TC over UDP without EDNS)
// and answers NXDOMAIN for anything else. It counts the queries it sees per transport.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace usernet::dns::test {

class LoopbackDnsServer {
 public:
  /// `answer` false: bind the UDP port but never read it (a server that does not respond).
  explicit LoopbackDnsServer(uv_loop_t* loop, bool answer = true);
  ~LoopbackDnsServer();  // closes every handle; run the loop afterwards to free them

  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int udp_queries = 0;
  int tcp_queries = 0;

  /// The answer this server gives to `query` over UDP or TCP; empty for no answer.
  static std::vector<std::uint8_t> answer_for(const std::vector<std::uint8_t>& query, bool over_udp);

 private:
  struct Connection;
  static void on_udp(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* from, unsigned flags);
  static void on_connection(uv_stream_t* listener, int status);
  static void on_tcp_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  void close_connection(Connection* connection);

  uv_loop_t* loop_;
  uv_udp_t* udp_;
  uv_tcp_t* tcp_;
  std::set<Connection*> connections_;
  std::uint16_t port_ = 0;
};

/// A UDP port on 127.0.0.1 with nobody listening (sending there gets "connection refused").
std::uint16_t unused_udp_port(uv_loop_t* loop);

/// Runs `loop` until `done()` or until `timeout_ms` pass; returns done().
template <typename Predicate>
bool run_until(uv_loop_t* loop, Predicate done, std::uint64_t timeout_ms = 10'000) {
  std::uint64_t deadline = uv_now(loop) + timeout_ms;
  uv_timer_t tick;
  uv_timer_init(loop, &tick);
  uv_timer_start(&tick, [](uv_timer_t*) {}, 10, 10);  // wakes the loop to check the deadline
  while (!done() && uv_now(loop) < deadline) uv_run(loop, UV_RUN_ONCE);
  uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
  uv_run(loop, UV_RUN_NOWAIT);
  return done();
}

}  // namespace usernet::dns::test
