#include "netstack/services/gateway_dns.hpp"

#include <arpa/inet.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "dns/zones.hpp"
#include "netstack/lwip/lwip_packet_io.hpp"

extern "C" {
#include "lwip/tcp.h"
}

namespace usernet {

namespace {
constexpr std::uint16_t kDnsPort = 53;
constexpr std::size_t kMaxTcpBuffer = 2 + 65535;  // one whole message at most
constexpr std::uint8_t kIdlePolls = 60;            // x 500 ms: close idle connections after 30 s

dns::ServerConfig server_config(const NetworkConfig& n, const DnsOptions& options) {
  dns::ServerConfig c;
  if (options.ipv6) {
    c.local.gateway_ip6 = n.ipv6_gateway_ip;
    c.local.host_ip6 = n.ipv6_host_alias;
  }
  if (options.dns64 && n.nat64_prefix) c.dns64_prefix = n.nat64_prefix->network;
  c.local.gateway_ip = n.gateway_ip;
  c.local.host_ip = n.host_alias;
  c.local.subnet = n.subnet.network;
  c.local.prefix_length = static_cast<std::uint8_t>(n.subnet.prefix_length);
  return c;
}
}  // namespace

/// One guest TCP connection to gateway:53. Shared so that answers arriving from upstream
/// after the guest left find a dead connection instead of a freed one.
class GatewayDns::TcpConnection : public std::enable_shared_from_this<TcpConnection> {
 public:
  TcpConnection(GatewayDns& owner, tcp_pcb* pcb) : owner_(owner), pcb_(pcb) {}

  void start(std::shared_ptr<TcpConnection> self) {
    self_ = std::move(self);  // alive until the pcb is gone
    tcp_arg(pcb_, this);
    tcp_recv(pcb_, &TcpConnection::on_recv);
    tcp_err(pcb_, &TcpConnection::on_error);
    tcp_poll(pcb_, &TcpConnection::on_poll, 1);
  }

 private:
  static err_t on_recv(void* arg, tcp_pcb* pcb, pbuf* p, err_t) {
    auto* self = static_cast<TcpConnection*>(arg);
    if (p == nullptr) {
      self->close();
      return ERR_OK;
    }
    self->idle_polls_ = 0;
    const std::size_t old = self->buffer_.size();
    self->buffer_.resize(old + p->tot_len);
    pbuf_copy_partial(p, self->buffer_.data() + old, p->tot_len, 0);
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return self->drain() ? ERR_OK : ERR_ABRT;
  }

  static void on_error(void* arg, err_t) {
    auto* self = static_cast<TcpConnection*>(arg);
    self->pcb_ = nullptr;
    self->self_.reset();  // may destroy *self
  }

  static err_t on_poll(void* arg, tcp_pcb*) {
    auto* self = static_cast<TcpConnection*>(arg);
    if (++self->idle_polls_ >= kIdlePolls && self->pending_ == 0) {
      self->close();
    }
    return ERR_OK;
  }

  /// Hands every complete query to the service; false if the connection was aborted.
  bool drain() {
    // A local answer comes back synchronously and may close the connection, dropping the
    // last reference: stay alive until this function is done.
    const auto keep_alive = shared_from_this();
    std::size_t offset = 0;
    while (buffer_.size() - offset >= 2) {
      const std::size_t length = (std::size_t{buffer_[offset]} << 8) | buffer_[offset + 1];
      if (buffer_.size() - offset - 2 < length) break;
      std::vector<std::uint8_t> query(buffer_.begin() + static_cast<std::ptrdiff_t>(offset + 2),
                                      buffer_.begin() + static_cast<std::ptrdiff_t>(offset + 2 + length));
      offset += 2 + length;
      ++pending_;
      std::weak_ptr<TcpConnection> weak = shared_from_this();
      owner_.service_.query(query, dns::Transport::tcp, [weak](std::vector<std::uint8_t> answer) {
        if (auto self = weak.lock()) self->answer(answer);
      });
      if (pcb_ == nullptr) return false;
    }
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(offset));
    if (buffer_.size() > kMaxTcpBuffer) {  // cannot happen with valid framing; be safe
      abort();
      return false;
    }
    return true;
  }

  void answer(const std::vector<std::uint8_t>& message) {
    if (pending_ > 0) --pending_;
    if (pcb_ == nullptr || message.size() > 0xffff) return;
    const std::uint8_t prefix[2] = {static_cast<std::uint8_t>(message.size() >> 8),
                                    static_cast<std::uint8_t>(message.size())};
    if (pcb_->snd_buf < message.size() + 2 ||
        tcp_write(pcb_, prefix, 2, TCP_WRITE_FLAG_COPY | TCP_WRITE_FLAG_MORE) != ERR_OK ||
        tcp_write(pcb_, message.data(), static_cast<u16_t>(message.size()), TCP_WRITE_FLAG_COPY) != ERR_OK) {
      abort();  // a client that does not read its answers loses the connection
      return;
    }
    tcp_output(pcb_);
  }

  void detach() {
    tcp_arg(pcb_, nullptr);
    tcp_recv(pcb_, nullptr);
    tcp_err(pcb_, nullptr);
    tcp_poll(pcb_, nullptr, 0);
  }

  void close() {
    if (pcb_ == nullptr) return;
    detach();
    if (tcp_close(pcb_) != ERR_OK) tcp_abort(pcb_);
    pcb_ = nullptr;
    self_.reset();
  }

  void abort() {
    if (pcb_ == nullptr) return;
    detach();
    tcp_abort(pcb_);
    pcb_ = nullptr;
    self_.reset();
  }

  GatewayDns& owner_;
  tcp_pcb* pcb_;
  std::shared_ptr<TcpConnection> self_;
  std::vector<std::uint8_t> buffer_;
  unsigned pending_ = 0;
  std::uint8_t idle_polls_ = 0;
};

GatewayDns::GatewayDns(VirtualNetwork& network, const DnsOptions& options)
    : network_(network), service_(network.loop(), server_config(network.config(), options), options.upstream) {
  for (const auto& text : options.zones) {
    auto parsed = dns::parse_zone_option(text);
    if (!parsed) throw std::runtime_error("--dns-zone '" + text + "': " + parsed.error());
    if (const Status added = service_.server().zones().add(*parsed); !added)
      throw std::runtime_error("--dns-zone '" + text + "': " + added.error());
  }
  service_.set_max_pending(options.max_pending);
  network_.services().add_udp_service(kDnsPort, [this](const UdpRequest& r) { on_udp(r); });
  network_.services().add_tcp_service_port(kDnsPort);
  listener_.emplace(network.config().gateway_ip, kDnsPort, this, &GatewayDns::on_accept);
  // Reached only when the IPv6 gateway runs (nothing else hands lwIP IPv6 segments).
  listener6_.emplace(IpAddress::from_v6(network.config().ipv6_gateway_ip), kDnsPort, this, &GatewayDns::on_accept);
}

GatewayDns::~GatewayDns() = default;

void GatewayDns::follow(const dns::ResolvConf& conf, const std::string& source) {
  if (conf.nameservers.empty()) {
    spdlog::warn("{} lists no nameserver; keeping the upstream DNS servers", source);
    return;
  }
  if (conf.nameservers == followed_servers_) return;
  if (const Status switched = service_.upstream().set_servers(conf.nameservers); !switched) {
    spdlog::warn("{}: cannot use its nameservers: {}", source, switched.error());
    return;
  }
  followed_servers_ = conf.nameservers;
  spdlog::info("upstream DNS from {}: {}", source, fmt::join(conf.nameservers, ", "));
}

err_t GatewayDns::on_accept(void* arg, tcp_pcb* pcb, err_t err) {
  auto* self = static_cast<GatewayDns*>(arg);
  if (self == nullptr || err != ERR_OK || pcb == nullptr) return ERR_VAL;
  auto connection = std::make_shared<TcpConnection>(*self, pcb);
  connection->start(connection);
  return ERR_OK;
}

void GatewayDns::on_udp(const UdpRequest& request) {
  const IpAddress client = request.source;
  const std::uint16_t port = request.source_port;
  // IPv4: the gateway address, not broadcast; IPv6 requests come only for the gateway's own.
  if (client.is_v4() && request.destination != IpAddress::from_v4(network_.gateway().address())) return;
  netif* out = network_.gateway().lwip_netif();
  const IpAddress gateway = request.destination;
  service_.query(request.payload, dns::Transport::udp, [out, gateway, client, port](std::vector<std::uint8_t> answer) {
    send_udp_to_guest(out, gateway, kDnsPort, client, port, answer);
  });
}

}  // namespace usernet
