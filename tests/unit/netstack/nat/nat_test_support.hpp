// A fake guest for driving the real NAT through its real entry point, the switch: frame
// builders and parsers with a checksum of their own (so a checksum bug in lwIP or in
// usernet_chksum cannot hide itself), a switch port that records what the gateway sends,
// a harness that runs the loop under a deadline, a minimal guest TCP client, and host
// sockets on 127.0.0.1 for the NAT to reach through the host alias.
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "netstack/base/byte_order.hpp"
#include "netstack/base/ethernet.hpp"
#include "netstack/base/host_socket.hpp"
#include "netstack/base/ipv4.hpp"
#include "netstack/base/uv_handles.hpp"
#include "netstack/lwip/arp_responder.hpp"
#include "netstack/lwip/lwip_packet_io.hpp"
#include "netstack/services/virtual_network.hpp"
#include "netstack/switch/switch.hpp"

namespace usernet::nat_test {

using Bytes = std::vector<std::uint8_t>;

constexpr std::uint8_t kFin = TcpHeader::kFin, kSyn = TcpHeader::kSyn, kRst = TcpHeader::kRst, kAck = TcpHeader::kAck;
constexpr std::uint8_t kPsh = 0x08;
constexpr std::size_t kMinimumFrame = 60;  // Ethernet minimum without FCS: NICs pad to it
constexpr std::uint64_t kWaitMs = 5000;    // every wait fails after this

inline Bytes to_bytes(std::string_view text) { return {text.begin(), text.end()}; }
inline std::string to_text(ByteSpan bytes) { return {bytes.begin(), bytes.end()}; }

inline void store_be16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

inline void store_be32(std::uint8_t* p, std::uint32_t v) {
  store_be16(p, static_cast<std::uint16_t>(v >> 16));
  store_be16(p + 2, static_cast<std::uint16_t>(v));
}

// --- checksums (RFC 1071), written apart from the code under test ---

/// Adds `bytes` as big-endian 16-bit words (an odd last byte padded with zero) to `sum`.
inline std::uint32_t ones_sum(ByteSpan bytes, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) sum += load_be16(&bytes[i]);
  if (bytes.size() % 2 != 0) sum += std::uint32_t{bytes.back()} << 8;
  return sum;
}

inline std::uint16_t fold_and_invert(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

/// The checksum to store in a header whose checksum field is zero; 0 over a header that
/// already holds a correct one.
inline std::uint16_t internet_checksum(ByteSpan bytes) { return fold_and_invert(ones_sum(bytes)); }

/// The same for a TCP or UDP segment, over the IPv4 pseudo header and the segment.
inline std::uint16_t transport_checksum(Ipv4 source, Ipv4 destination, std::uint8_t protocol, ByteSpan segment) {
  const std::uint32_t pseudo = (source >> 16) + (source & 0xffff) + (destination >> 16) + (destination & 0xffff) +
                               protocol + static_cast<std::uint32_t>(segment.size());
  return fold_and_invert(ones_sum(segment, pseudo));
}

// --- frame builders ---

/// An Ethernet frame, padded to the minimum size as a NIC would (the NAT must trim it).
inline Bytes ethernet_frame(const MacAddress& destination, const MacAddress& source, EtherType type, ByteSpan payload) {
  Bytes frame(destination.begin(), destination.end());
  frame.insert(frame.end(), source.begin(), source.end());
  frame.resize(kEthernetHeaderSize);
  store_be16(frame.data() + 12, static_cast<std::uint16_t>(type));
  frame.insert(frame.end(), payload.begin(), payload.end());
  if (frame.size() < kMinimumFrame) frame.resize(kMinimumFrame, 0);
  return frame;
}

constexpr std::uint16_t kDontFragment = 0x4000;
constexpr std::uint16_t kMoreFragments = 0x2000;

/// An IPv4 packet (no options) with a correct header checksum; `fragment` is the flags
/// and offset field (offset in 8-byte units).
inline Bytes ipv4_packet(Ipv4 source, Ipv4 destination, IpProtocol protocol, ByteSpan payload,
                         std::uint16_t fragment = kDontFragment, std::uint16_t id = 0x1234) {
  Bytes packet(20, 0);
  packet[0] = 0x45;
  store_be16(&packet[2], static_cast<std::uint16_t>(20 + payload.size()));
  store_be16(&packet[4], id);
  store_be16(&packet[6], fragment);
  packet[8] = 64;
  packet[9] = static_cast<std::uint8_t>(protocol);
  store_be32(&packet[12], source);
  store_be32(&packet[16], destination);
  store_be16(&packet[10], internet_checksum(packet));
  packet.insert(packet.end(), payload.begin(), payload.end());
  return packet;
}

/// `datagram` (a transport header and payload) as IPv4 fragments of `chunk` bytes each
/// (a multiple of 8), in order.
inline std::vector<Bytes> ipv4_fragments(Ipv4 source, Ipv4 destination, IpProtocol protocol, ByteSpan datagram,
                                         std::size_t chunk, std::uint16_t id) {
  std::vector<Bytes> fragments;
  for (std::size_t offset = 0; offset < datagram.size(); offset += chunk) {
    const ByteSpan part = datagram.subspan(offset, std::min(chunk, datagram.size() - offset));
    const bool more = offset + part.size() < datagram.size();
    const auto field = static_cast<std::uint16_t>((more ? kMoreFragments : 0) | (offset / 8));
    fragments.push_back(ipv4_packet(source, destination, protocol, part, field, id));
  }
  return fragments;
}

/// A TCP segment from `source` to `destination` with `h`'s ports, numbers and flags (its
/// header_length is ignored), a full window, an MSS option if `mss` is non-zero, and a
/// correct checksum.
inline Bytes tcp_segment(Ipv4 source, Ipv4 destination, const TcpHeader& h, ByteSpan payload = {},
                         std::uint16_t mss = 0) {
  const std::size_t header = mss != 0 ? 24 : 20;
  Bytes segment(header, 0);
  store_be16(&segment[0], h.source_port);
  store_be16(&segment[2], h.destination_port);
  store_be32(&segment[4], h.sequence);
  store_be32(&segment[8], h.acknowledgment);
  segment[12] = static_cast<std::uint8_t>((header / 4) << 4);
  segment[13] = h.flags;
  store_be16(&segment[14], 65535);
  if (mss != 0) {
    segment[20] = 2;  // kind MSS, length 4
    segment[21] = 4;
    store_be16(&segment[22], mss);
  }
  segment.insert(segment.end(), payload.begin(), payload.end());
  store_be16(&segment[16], transport_checksum(source, destination, 6, segment));
  return segment;
}

/// A UDP datagram (header and payload) with a correct checksum.
inline Bytes udp_datagram(Ipv4 source, std::uint16_t source_port, Ipv4 destination, std::uint16_t destination_port,
                          ByteSpan payload) {
  Bytes datagram(8, 0);
  store_be16(&datagram[0], source_port);
  store_be16(&datagram[2], destination_port);
  store_be16(&datagram[4], static_cast<std::uint16_t>(8 + payload.size()));
  datagram.insert(datagram.end(), payload.begin(), payload.end());
  const std::uint16_t sum = transport_checksum(source, destination, 17, datagram);
  store_be16(&datagram[6], sum == 0 ? 0xffff : sum);
  return datagram;
}

/// An ICMP echo request with a correct checksum.
inline Bytes icmp_echo_request(std::uint16_t identifier, std::uint16_t sequence, ByteSpan payload) {
  Bytes message(8, 0);
  message[0] = 8;
  store_be16(&message[4], identifier);
  store_be16(&message[6], sequence);
  message.insert(message.end(), payload.begin(), payload.end());
  store_be16(&message[2], internet_checksum(message));
  return message;
}

/// An Ethernet/IPv4 ARP request, broadcast.
inline Bytes arp_request(const MacAddress& sender_mac, Ipv4 sender_ip, Ipv4 target_ip) {
  Bytes arp(28, 0);
  store_be16(&arp[0], 1);
  store_be16(&arp[2], static_cast<std::uint16_t>(EtherType::ipv4));
  arp[4] = 6;
  arp[5] = 4;
  store_be16(&arp[6], static_cast<std::uint16_t>(ArpOperation::request));
  std::copy(sender_mac.begin(), sender_mac.end(), arp.begin() + 8);
  store_be32(&arp[14], sender_ip);
  store_be32(&arp[24], target_ip);
  return ethernet_frame(kBroadcastMac, sender_mac, EtherType::arp, arp);
}

// --- parsers of what the gateway sends ---

/// A guest-bound IPv4 packet as the guest sees it.
struct Ipv4View {
  Ipv4 source = 0;
  Ipv4 destination = 0;
  std::uint8_t protocol = 0;
  std::uint8_t ttl = 0;
  std::uint16_t header_length = 0;
  std::uint16_t total_length = 0;
  bool is_fragment = false;
  MacAddress eth_source{};
  MacAddress eth_destination{};
  bool header_checksum_ok = false;
  Bytes payload;  // exactly total_length - header_length bytes
};

/// The IPv4 packet in an Ethernet frame; nullopt unless it is one with consistent lengths.
inline std::optional<Ipv4View> parse_ipv4(ByteSpan frame) {
  if (frame.size() < kEthernetHeaderSize + 20 || frame_ethertype(frame) != static_cast<std::uint16_t>(EtherType::ipv4))
    return std::nullopt;
  const ByteSpan ip = frame.subspan(kEthernetHeaderSize);
  Ipv4View v;
  v.header_length = static_cast<std::uint16_t>((ip[0] & 0x0f) * 4);
  v.total_length = load_be16(&ip[2]);
  const std::size_t header = v.header_length;
  if ((ip[0] >> 4) != 4 || header < 20 || v.total_length < header || v.total_length > ip.size()) return std::nullopt;
  v.is_fragment = (load_be16(&ip[6]) & 0x3fff) != 0;
  v.ttl = ip[8];
  v.eth_source = frame_source(frame);
  v.eth_destination = frame_destination(frame);
  v.source = load_be32(&ip[12]);
  v.destination = load_be32(&ip[16]);
  v.protocol = ip[9];
  v.header_checksum_ok = internet_checksum(ip.first(header)) == 0;
  v.payload.assign(ip.begin() + static_cast<std::ptrdiff_t>(header), ip.begin() + v.total_length);
  return v;
}

/// A guest-bound TCP segment. has() is true if any of the flags given is set.
struct TcpView : TcpHeader {
  bool checksum_ok = false;
  Bytes payload;
  /// Sequence space the segment takes (SYN and FIN count one each).
  std::uint32_t length() const {
    return static_cast<std::uint32_t>(payload.size()) + (has(kSyn) ? 1 : 0) + (has(kFin) ? 1 : 0);
  }
};

inline std::optional<TcpView> parse_tcp(const Ipv4View& ip) {
  const Bytes& s = ip.payload;
  if (ip.protocol != 6 || s.size() < 20) return std::nullopt;
  const std::size_t header = std::size_t{s[12]} / 16 * 4;
  if (header < 20 || header > s.size()) return std::nullopt;
  TcpView t;
  t.header_length = static_cast<std::uint16_t>(header);
  t.source_port = load_be16(&s[0]);
  t.destination_port = load_be16(&s[2]);
  t.sequence = load_be32(&s[4]);
  t.acknowledgment = load_be32(&s[8]);
  t.flags = s[13];
  t.checksum_ok = transport_checksum(ip.source, ip.destination, 6, s) == 0;
  t.payload.assign(s.begin() + static_cast<std::ptrdiff_t>(header), s.end());
  return t;
}

/// A guest-bound UDP datagram.
struct UdpView : UdpHeader {
  std::uint16_t checksum = 0;  // 0: none sent
  bool checksum_ok = false;
  Bytes payload;
};

inline std::optional<UdpView> parse_udp(const Ipv4View& ip) {
  const Bytes& d = ip.payload;
  if (ip.protocol != 17 || d.size() < 8) return std::nullopt;
  UdpView u;
  u.source_port = load_be16(&d[0]);
  u.destination_port = load_be16(&d[2]);
  u.length = load_be16(&d[4]);
  u.checksum = load_be16(&d[6]);
  if (u.length < 8 || u.length > d.size()) return std::nullopt;
  u.checksum_ok =
      u.checksum != 0 && transport_checksum(ip.source, ip.destination, 17, ByteSpan(d).first(u.length)) == 0;
  u.payload.assign(d.begin() + 8, d.begin() + u.length);
  return u;
}

// --- the guest's port on the switch ---

/// Records every frame the switch delivers and answers ARP for the guest's address, as a
/// guest's network stack would. Replies wait for the harness: sending from inside
/// send_frame would re-enter lwIP in the middle of its own output.
class GuestPort : public SwitchPort {
 public:
  GuestPort(const MacAddress& mac, Ipv4 ip) : mac_(mac), ip_(ip) {}

  bool send_frame(ByteSpan frame) override {
    frames.emplace_back(frame.begin(), frame.end());
    if (auto reply = arp_reply_for(frame, mac_, [this](Ipv4 target) { return target == ip_; }))
      pending_replies.push_back(std::move(*reply));
    return true;
  }
  std::string describe() const override { return "test guest"; }

  std::vector<Bytes> frames;           // everything the gateway sent, in order
  std::vector<Bytes> pending_replies;  // ARP replies not yet sent back

 private:
  MacAddress mac_;
  Ipv4 ip_;
};

// --- the harness ---

/// A VirtualNetwork (the real switch, gateway, lwIP and NAT) on its own uv loop, with one
/// guest port attached and known to the gateway (it ARPed for the gateway and the host alias).
class NatHarness {
 public:
  explicit NatHarness(const NetworkConfig& config = {}) : guest_(config.first_guest_mac, config.first_guest_ip) {
    REQUIRE(uv_loop_init(&loop_) == 0);
    network_.emplace(&loop_, config);
    port_id_ = network_->network_switch().attach(guest_);
    // A guest ARPs for its gateway first: that is also how lwIP learns the guest's MAC.
    REQUIRE(resolve(config.gateway_ip) == config.gateway_mac);
    REQUIRE(resolve(config.host_alias) == config.gateway_mac);
  }

  ~NatHarness() {
    network_.reset();
    uv_run(&loop_, UV_RUN_NOWAIT);  // lets the closed handles go
    CHECK(uv_loop_close(&loop_) == 0);
  }

  NatHarness(const NatHarness&) = delete;
  NatHarness& operator=(const NatHarness&) = delete;

  VirtualNetwork& network() { return *network_; }
  Nat& nat() { return network_->nat(); }
  const NetworkConfig& config() const { return network_->config(); }
  Ipv4 guest_ip() const { return config().first_guest_ip; }
  const MacAddress& guest_mac() const { return config().first_guest_mac; }
  Ipv4 host_alias() const { return config().host_alias; }
  const std::vector<Bytes>& frames() const { return guest_.frames; }

  /// A frame from the guest into the switch; false if the switch refused it.
  bool send_frame(ByteSpan frame) { return network_->network_switch().receive(port_id_, frame); }

  /// An IPv4 packet (built by the caller, header included) from the guest to the gateway's MAC.
  bool send_ip(ByteSpan packet) {
    return send_frame(ethernet_frame(config().gateway_mac, guest_mac(), EtherType::ipv4, packet));
  }

  /// A well-formed IPv4 packet from the guest's address to `destination`.
  bool send_ipv4(Ipv4 destination, IpProtocol protocol, ByteSpan payload) {
    return send_ip(ipv4_packet(guest_ip(), destination, protocol, payload));
  }

  /// Runs the loop until `done()` holds; false (and a failed check naming `what`) if it
  /// does not within `timeout_ms`. A short repeating timer keeps the loop turning while
  /// the condition waits on host sockets the loop does not watch.
  bool run_until(const std::function<bool()>& done, const std::string& what, std::uint64_t timeout_ms = kWaitMs) {
    bool expired = false;
    Timer deadline(&loop_, [&expired] { expired = true; });
    Timer tick(&loop_, [] {});
    deadline.start(timeout_ms);
    tick.start(1, 1);
    for (;;) {
      flush_guest_replies();
      if (done()) return true;
      if (expired) {
        FAIL_CHECK("timed out after " << timeout_ms << " ms waiting for " << what);
        return false;
      }
      uv_run(&loop_, UV_RUN_ONCE);
    }
  }

  /// One loop turn without waiting: what the NAT does at once with what it was given.
  void run_once() {
    uv_run(&loop_, UV_RUN_NOWAIT);
    flush_guest_replies();
  }

  /// The guest-bound IPv4 packets among frames()[from...].
  std::vector<Ipv4View> ipv4_since(std::size_t from) const {
    std::vector<Ipv4View> out;
    for (std::size_t i = from; i < guest_.frames.size(); ++i)
      if (auto ip = parse_ipv4(guest_.frames[i])) out.push_back(std::move(*ip));
    return out;
  }

 private:
  /// ARP for `ip` from the guest; the MAC the answer gives.
  std::optional<MacAddress> resolve(Ipv4 ip) {
    const std::size_t from = guest_.frames.size();
    REQUIRE(send_frame(arp_request(guest_mac(), guest_ip(), ip)));
    std::optional<MacAddress> answer;
    run_until(
        [&] {
          for (std::size_t i = from; i < guest_.frames.size() && !answer; ++i) {
            const Bytes& f = guest_.frames[i];
            if (f.size() < kEthernetHeaderSize + 28 || frame_ethertype(f) != static_cast<std::uint16_t>(EtherType::arp))
              continue;
            const std::uint8_t* arp = f.data() + kEthernetHeaderSize;
            if (load_be16(arp + 6) != static_cast<std::uint16_t>(ArpOperation::reply) || load_be32(arp + 14) != ip)
              continue;
            CHECK(frame_destination(f) == guest_mac());
            CHECK(load_be32(arp + 24) == guest_ip());
            answer.emplace();
            std::copy(arp + 8, arp + 14, answer->begin());
          }
          return answer.has_value();
        },
        "an ARP reply for " + format_ipv4(ip));
    return answer;
  }

  void flush_guest_replies() {
    std::vector<Bytes> replies;
    replies.swap(guest_.pending_replies);
    for (const Bytes& reply : replies) send_frame(reply);
  }

  uv_loop_t loop_{};
  GuestPort guest_;  // outlives the network: lwIP may still send to it while closing
  std::optional<VirtualNetwork> network_;
  PortId port_id_ = 0;
};

/// Guest ports for new flows: distinct in one process, so a flow never meets a pcb an
/// earlier test left in lwIP's TIME_WAIT.
inline std::uint16_t next_guest_port() {
  static std::uint16_t port = 40000;
  return port++;
}

// --- a minimal guest TCP client ---

/// The guest end of one TCP connection through the NAT. It sends what the test asks for,
/// and for every segment of its flow the gateway sends it checks addresses, checksums and
/// sequence numbers, keeps the data in order and ACKs data and FIN at once.
class GuestTcpClient {
 public:
  GuestTcpClient(NatHarness& net, Ipv4 remote, std::uint16_t remote_port, std::uint32_t iss)
      : net_(net),
        port_(next_guest_port()),
        remote_(remote),
        remote_port_(remote_port),
        iss_(iss),
        snd_nxt_(iss),
        snd_una_(iss),
        seen_(net.frames().size()) {}

  std::uint16_t port() const { return port_; }
  std::uint32_t iss() const { return iss_; }
  std::uint32_t peer_iss() const { return peer_iss_; }
  std::uint32_t snd_nxt() const { return snd_nxt_; }
  bool established() const { return established_; }
  bool reset() const { return reset_; }
  bool peer_fin() const { return peer_fin_; }
  bool all_acked() const { return snd_una_ == snd_nxt_; }
  const std::string& received() const { return received_; }
  /// Every segment of this flow from the gateway, in order.
  const std::vector<TcpView>& segments() const { return segments_; }

  void send_syn() {
    send(kSyn, {}, 1460);
    snd_nxt_ = iss_ + 1;
  }
  void send_ack() { send(kAck, {}); }
  void send_data(std::string_view data) {
    send(kAck | kPsh, to_bytes(data));
    snd_nxt_ += static_cast<std::uint32_t>(data.size());
  }
  void send_fin() {
    send(kAck | kFin, {});
    snd_nxt_ += 1;
  }

  /// Takes in the segments that arrived since the last call.
  void poll() {
    const auto& frames = net_.frames();
    for (; seen_ < frames.size(); ++seen_) {
      auto ip = parse_ipv4(frames[seen_]);
      if (!ip || ip->protocol != 6 || ip->destination != net_.guest_ip()) continue;
      auto tcp = parse_tcp(*ip);
      REQUIRE(tcp);
      if (tcp->destination_port != port_ || tcp->source_port != remote_port_) continue;
      CHECK(ip->source == remote_);
      CHECK(ip->eth_destination == net_.guest_mac());
      CHECK(ip->eth_source == net_.config().gateway_mac);
      CHECK(ip->header_checksum_ok);
      CHECK(tcp->checksum_ok);
      segments_.push_back(*tcp);
      take(*tcp);
    }
  }

  /// Runs the loop, taking in segments, until `done()`; false after the deadline.
  bool wait(const std::function<bool()>& done, const std::string& what) {
    return net_.run_until(
        [&] {
          poll();
          return done();
        },
        what);
  }

 private:
  void send(std::uint8_t flags, ByteSpan payload, std::uint16_t mss = 0) {
    TcpHeader h;
    h.source_port = port_;
    h.destination_port = remote_port_;
    h.sequence = flags == kSyn ? iss_ : snd_nxt_;
    h.acknowledgment = flags == kSyn ? 0 : rcv_nxt_;
    h.flags = flags;
    REQUIRE(net_.send_ipv4(remote_, IpProtocol::tcp, tcp_segment(net_.guest_ip(), remote_, h, payload, mss)));
  }

  void take(const TcpView& t) {
    if (t.has(kRst)) {
      reset_ = true;
      return;
    }
    if (t.has(kSyn)) {
      CHECK(t.flags == (kSyn | kAck));
      CHECK(t.acknowledgment == iss_ + 1);
      peer_iss_ = t.sequence;
      rcv_nxt_ = t.sequence + 1;
      snd_una_ = t.acknowledgment;
      established_ = true;
      return;
    }
    if (t.has(kAck)) {
      CHECK(static_cast<std::int32_t>(t.acknowledgment - snd_nxt_) <= 0);  // never acks what was not sent
      if (static_cast<std::int32_t>(t.acknowledgment - snd_una_) > 0) snd_una_ = t.acknowledgment;
    }
    if (t.length() == 0) return;
    if (t.sequence != rcv_nxt_) {
      // A retransmission of what we have: ACK again. Anything else would be a gap.
      CHECK(static_cast<std::int32_t>(t.sequence + t.length() - rcv_nxt_) <= 0);
      send_ack();
      return;
    }
    received_.append(t.payload.begin(), t.payload.end());
    rcv_nxt_ += t.length();
    if (t.has(kFin)) peer_fin_ = true;
    send_ack();
  }

  NatHarness& net_;
  std::uint16_t port_;
  Ipv4 remote_;
  std::uint16_t remote_port_;
  std::uint32_t iss_;
  std::uint32_t snd_nxt_;
  std::uint32_t snd_una_;
  std::uint32_t rcv_nxt_ = 0;
  std::uint32_t peer_iss_ = 0;
  bool established_ = false;
  bool reset_ = false;
  bool peer_fin_ = false;
  std::string received_;
  std::vector<TcpView> segments_;
  std::size_t seen_;
};

// --- host sockets on 127.0.0.1 ---

/// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

/// A non-blocking socket bound to 127.0.0.1 on an ephemeral port.
inline Fd bound_loopback_socket(int type) {
  Fd fd(::socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  REQUIRE(fd.valid());
  const sockaddr_in sin = make_sockaddr(make_ipv4(127, 0, 0, 1), 0);
  REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sin), sizeof sin) == 0);
  return fd;
}

inline std::uint16_t local_port(const Fd& fd) {
  sockaddr_in sin{};
  socklen_t length = sizeof sin;
  REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sin), &length) == 0);
  return ntohs(sin.sin_port);
}

/// A listening TCP socket on 127.0.0.1.
struct HostListener {
  Fd fd = bound_loopback_socket(SOCK_STREAM);
  std::uint16_t port = 0;
  HostListener() {
    REQUIRE(::listen(fd.get(), 8) == 0);
    port = local_port(fd);
  }
  /// The next connection if one is already waiting; an invalid Fd if not.
  Fd accept_now() const { return Fd(::accept4(fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)); }
};

/// Appends what a non-blocking stream socket has to `out`; true once the peer closed.
inline bool read_available(const Fd& fd, std::string& out) {
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n > 0) {
      out.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) return true;
    REQUIRE_MESSAGE((errno == EAGAIN || errno == EWOULDBLOCK), "recv: " << std::strerror(errno));
    return false;
  }
}

/// A datagram read from a UDP socket, with its sender.
struct HostDatagram {
  Bytes payload;
  sockaddr_in from{};
};

/// Runs the loop until the non-blocking UDP socket `fd` has a datagram.
inline HostDatagram receive_datagram(NatHarness& net, const Fd& fd) {
  HostDatagram d;
  auto arrived = [&] {
    d.payload.resize(65536);
    socklen_t length = sizeof d.from;
    const ssize_t n =
        ::recvfrom(fd.get(), d.payload.data(), d.payload.size(), 0, reinterpret_cast<sockaddr*>(&d.from), &length);
    d.payload.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
    return n >= 0;
  };
  REQUIRE(net.run_until(arrived, "a datagram on the host socket"));
  return d;
}

// --- the TCP path end to end (shared by the TCP case and the one that checks the NAT
// still works after malformed input) ---

/// Opens `guest`'s connection to `listener` through the NAT and sends "hello" up and
/// "world" down, checking each step; returns the host's end.
inline Fd open_and_exchange(NatHarness& net, GuestTcpClient& guest, const HostListener& listener) {
  REQUIRE_FALSE(listener.accept_now().valid());
  guest.send_syn();
  // The SYN is held while the NAT's host socket connects: nothing answers it yet.
  guest.poll();
  CHECK(guest.segments().empty());
  CHECK(net.nat().tcp().pending() == 1);
  REQUIRE(guest.wait([&] { return guest.established() || guest.reset(); }, "the SYN-ACK"));
  REQUIRE_FALSE(guest.reset());
  // Connect before accept: by the time the guest has its SYN-ACK, the host connection is made.
  Fd host = listener.accept_now();
  REQUIRE_MESSAGE(host.valid(), "the guest got a SYN-ACK before the host connection was made");
  REQUIRE(guest.segments().size() == 1);
  CHECK(guest.segments()[0].flags == (kSyn | kAck));
  guest.send_ack();

  guest.send_data("hello");
  std::string up;
  REQUIRE(net.run_until(
      [&] {
        read_available(host, up);
        return up.size() >= 5;
      },
      "\"hello\" on the host socket"));
  CHECK(up == "hello");
  REQUIRE(guest.wait([&] { return guest.all_acked(); }, "the ACK of \"hello\""));

  const std::size_t before = guest.segments().size();
  REQUIRE(::send(host.get(), "world", 5, MSG_NOSIGNAL) == 5);
  REQUIRE(guest.wait([&] { return guest.received().size() >= 5; }, "\"world\" at the guest"));
  CHECK(guest.received() == "world");
  const auto data = std::find_if(guest.segments().begin() + static_cast<std::ptrdiff_t>(before), guest.segments().end(),
                                 [](const TcpView& t) { return !t.payload.empty(); });
  REQUIRE(data != guest.segments().end());
  CHECK(to_text(data->payload) == "world");
  CHECK(data->sequence == guest.peer_iss() + 1);
  CHECK(data->acknowledgment == guest.iss() + 1 + 5);
  CHECK(data->has(kAck));
  return host;
}

/// Waits for the relay to end; neither side may have been reset.
inline void expect_clean_end(NatHarness& net, const GuestTcpClient& guest) {
  REQUIRE(net.run_until([&] { return net.nat().tcp().active() == 0; }, "the relay to end"));
  CHECK_FALSE(guest.reset());
  const TcpRelayCounters& relays = net.nat().tcp().relays().counters();
  CHECK(relays.reset_by_guest == 0);
  CHECK(relays.reset_by_host == 0);
}

/// The host closes first, then the guest: each FIN crosses the NAT, is acknowledged, and
/// the relay ends with no reset either way.
inline void close_both_ways(NatHarness& net, GuestTcpClient& guest, const Fd& host) {
  const std::uint32_t fin_sequence = guest.peer_iss() + 1 + static_cast<std::uint32_t>(guest.received().size());
  REQUIRE(::shutdown(host.get(), SHUT_WR) == 0);
  REQUIRE(guest.wait([&] { return guest.peer_fin(); }, "the FIN at the guest"));
  const auto fin =
      std::find_if(guest.segments().begin(), guest.segments().end(), [](const TcpView& t) { return t.has(kFin); });
  REQUIRE(fin != guest.segments().end());
  CHECK(fin->sequence == fin_sequence);
  CHECK(fin->payload.empty());

  guest.send_fin();
  std::string rest;
  REQUIRE(net.run_until([&] { return read_available(host, rest); }, "EOF on the host socket"));
  CHECK(rest.empty());
  REQUIRE(guest.wait([&] { return guest.all_acked(); }, "the ACK of the guest's FIN"));
  expect_clean_end(net, guest);
}

}  // namespace usernet::nat_test
