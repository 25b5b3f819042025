#include "tests/unit/dns/loopback_dns_server.hpp"

#include <doctest/doctest.h>

#include <cstring>

#include "dns/message.hpp"
#include "netstack/base/uv_handles.hpp"
#include "tests/unit/dns/dns_test_support.hpp"

namespace usernet::dns::test {

namespace {

void allocate(uv_handle_t*, std::size_t suggested, uv_buf_t* buf) {
  buf->base = new char[suggested];
  buf->len = suggested;
}

// A write request that owns the bytes it writes.
struct OwnedWrite {
  uv_write_t request;
  std::vector<std::uint8_t> bytes;
};
struct OwnedSend {
  uv_udp_send_t request;
  std::vector<std::uint8_t> bytes;
};

}  // namespace

struct LoopbackDnsServer::Connection {
  uv_tcp_t tcp;
  LoopbackDnsServer* server;
  std::vector<std::uint8_t> pending;
};

std::vector<std::uint8_t> LoopbackDnsServer::answer_for(const std::vector<std::uint8_t>& query_bytes, bool over_udp) {
  auto parsed = parse_message(query_bytes);
  if (!parsed.message || parsed.message->questions.size() != 1) return {};
  const Message& query = *parsed.message;
  const Question& question = query.questions[0];
  Message response = response_to(query, {});
  response.header.authoritative = true;
  if (question.name.equals_ignore_case(name("a.test")) && question.type == RecordType::a) {
    response.answers.push_back(ResourceRecord{question.name, RecordType::a, RecordClass::in, 60, ipv4_rdata(0x0a000001)});
  } else if (question.name.equals_ignore_case(name("big.test")) && question.type == RecordType::txt) {
    response.answers.push_back(ResourceRecord{question.name, RecordType::txt, RecordClass::in, 60, txt_rdata(4, 200)});
  } else {
    response.set_rcode(Rcode::name_error);
  }
  auto bytes = encode_message(response);
  std::size_t limit = query.edns ? query.edns->udp_size : 512;
  if (over_udp && bytes.size() > limit) {
    response.answers.clear();
    response.header.truncated = true;
    bytes = encode_message(response);
  }
  return bytes;
}

LoopbackDnsServer::LoopbackDnsServer(uv_loop_t* loop, bool answer) : loop_(loop) {
  // UDP on an ephemeral port, then TCP on the same number (retry if TCP's is taken).
  for (int attempt = 0; attempt < 20 && port_ == 0; ++attempt) {
    udp_ = new uv_udp_t;
    uv_udp_init(loop_, udp_);
    udp_->data = this;
    sockaddr_in any{};
    uv_ip4_addr("127.0.0.1", 0, &any);
    REQUIRE(uv_udp_bind(udp_, reinterpret_cast<const sockaddr*>(&any), 0) == 0);
    sockaddr_in bound{};
    int length = sizeof(bound);
    uv_udp_getsockname(udp_, reinterpret_cast<sockaddr*>(&bound), &length);
    tcp_ = new uv_tcp_t;
    uv_tcp_init(loop_, tcp_);
    tcp_->data = this;
    if (uv_tcp_bind(tcp_, reinterpret_cast<const sockaddr*>(&bound), 0) == 0 &&
        uv_listen(reinterpret_cast<uv_stream_t*>(tcp_), 8, &LoopbackDnsServer::on_connection) == 0) {
      port_ = ntohs(bound.sin_port);
    } else {
      close_and_free(udp_);
      close_and_free(tcp_);
    }
  }
  REQUIRE(port_ != 0);
  if (answer) uv_udp_recv_start(udp_, allocate, &LoopbackDnsServer::on_udp);
}

LoopbackDnsServer::~LoopbackDnsServer() {
  while (!connections_.empty()) close_connection(*connections_.begin());
  close_and_free(udp_);
  close_and_free(tcp_);
}

void LoopbackDnsServer::on_udp(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* from, unsigned) {
  auto* self = static_cast<LoopbackDnsServer*>(handle->data);
  std::unique_ptr<char[]> owned(buf->base);
  if (nread <= 0 || from == nullptr) return;
  ++self->udp_queries;
  std::vector<std::uint8_t> query(buf->base, buf->base + nread);
  auto* send = new OwnedSend{{}, answer_for(query, true)};
  if (send->bytes.empty()) {
    delete send;
    return;
  }
  uv_buf_t out = uv_buf_init(reinterpret_cast<char*>(send->bytes.data()), static_cast<unsigned>(send->bytes.size()));
  uv_udp_send(&send->request, handle, &out, 1, from,
              [](uv_udp_send_t* request, int) { delete reinterpret_cast<OwnedSend*>(request); });
}

void LoopbackDnsServer::on_connection(uv_stream_t* listener, int status) {
  auto* self = static_cast<LoopbackDnsServer*>(listener->data);
  if (status != 0) return;
  auto* connection = new Connection{{}, self, {}};
  uv_tcp_init(self->loop_, &connection->tcp);
  connection->tcp.data = connection;
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&connection->tcp)) != 0) {
    close_and_free(connection);
    return;
  }
  self->connections_.insert(connection);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&connection->tcp), allocate, &LoopbackDnsServer::on_tcp_read);
}

void LoopbackDnsServer::on_tcp_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* connection = static_cast<Connection*>(stream->data);
  std::unique_ptr<char[]> owned(buf->base);
  if (nread < 0) {
    connection->server->close_connection(connection);
    return;
  }
  auto& pending = connection->pending;
  pending.insert(pending.end(), buf->base, buf->base + nread);
  // Each message is a two-byte length then the message.
  while (pending.size() >= 2) {
    std::size_t length = (std::size_t{pending[0]} << 8) | pending[1];
    if (pending.size() < 2 + length) break;
    std::vector<std::uint8_t> query(pending.begin() + 2, pending.begin() + 2 + static_cast<long>(length));
    pending.erase(pending.begin(), pending.begin() + 2 + static_cast<long>(length));
    ++connection->server->tcp_queries;
    auto answer = answer_for(query, false);
    // Length prefix written in place (GCC 12 -O2 misreads an insert after a 2-byte init).
    auto* write = new OwnedWrite{{}, std::vector<std::uint8_t>(2 + answer.size())};
    write->bytes[0] = static_cast<std::uint8_t>(answer.size() >> 8);
    write->bytes[1] = static_cast<std::uint8_t>(answer.size());
    std::copy(answer.begin(), answer.end(), write->bytes.begin() + 2);
    uv_buf_t out = uv_buf_init(reinterpret_cast<char*>(write->bytes.data()), static_cast<unsigned>(write->bytes.size()));
    uv_write(&write->request, stream, &out, 1, [](uv_write_t* request, int) { delete reinterpret_cast<OwnedWrite*>(request); });
  }
}

void LoopbackDnsServer::close_connection(Connection* connection) {
  connections_.erase(connection);
  close_and_free(connection);
}

std::uint16_t unused_udp_port(uv_loop_t* loop) {
  uv_udp_t probe;
  uv_udp_init(loop, &probe);
  sockaddr_in any{};
  uv_ip4_addr("127.0.0.1", 0, &any);
  REQUIRE(uv_udp_bind(&probe, reinterpret_cast<const sockaddr*>(&any), 0) == 0);
  sockaddr_in bound{};
  int length = sizeof(bound);
  uv_udp_getsockname(&probe, reinterpret_cast<sockaddr*>(&bound), &length);
  uv_close(reinterpret_cast<uv_handle_t*>(&probe), nullptr);
  uv_run(loop, UV_RUN_NOWAIT);
  return ntohs(bound.sin_port);
}

}  // namespace usernet::dns::test
