#include "netstack/api/stats.hpp"

#include <uv.h>

#include <nlohmann/json.hpp>

#include <algorithm>

#include "netstack/services/gateway_dhcp.hpp"
#include "netstack/services/gateway_dns.hpp"
#include "netstack/services/gateway_ipv6.hpp"
#include "netstack/services/port_forwarder.hpp"
#include "netstack/services/virtual_network.hpp"

namespace usernet {

namespace {
constexpr auto kCounter = MetricType::counter;
constexpr auto kGauge = MetricType::gauge;

/// Escapes a label value for the text format: backslash, double quote, newline.
std::string escape_label(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

/// Escapes HELP text: backslash and newline.
std::string escape_help(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

/// Switch totals and per-port traffic.
void collect_switch(StatsSnapshot& s, const Switch& sw) {
  const auto ports = sw.ports();
  s.add("usernet_switch_ports", "Ports attached to the switch (gateway included)", kGauge, ports.size());
  s.add("usernet_switch_mac_entries", "Learned MAC addresses", kGauge, sw.mac_table().size());
  for (const auto& [id, name] : ports) {
    const PortCounters* c = sw.counters(id);
    if (c == nullptr) continue;
    const std::string port = std::to_string(id);
    s.add("usernet_switch_frames_total", "Frames through a switch port (rx: from its peer, tx: to it)", kCounter,
          c->rx_frames, {{"port", port}, {"name", name}, {"direction", "rx"}});
    s.add("usernet_switch_frames_total", "", kCounter, c->tx_frames, {{"port", port}, {"name", name}, {"direction", "tx"}});
    s.add("usernet_switch_bytes_total", "Bytes through a switch port", kCounter, c->rx_bytes,
          {{"port", port}, {"name", name}, {"direction", "rx"}});
    s.add("usernet_switch_bytes_total", "", kCounter, c->tx_bytes, {{"port", port}, {"name", name}, {"direction", "tx"}});
    s.add("usernet_switch_port_drops_total", "Frames dropped at a switch port (rx: invalid, tx: not queued)", kCounter,
          c->rx_dropped, {{"port", port}, {"name", name}, {"direction", "rx"}});
    s.add("usernet_switch_port_drops_total", "", kCounter, c->tx_dropped,
          {{"port", port}, {"name", name}, {"direction", "tx"}});
  }
  const auto& t = sw.counters();
  s.add("usernet_switch_drops_total", "Frames the switch refused, by reason", kCounter, t.runt_frames, {{"reason", "runt"}});
  s.add("usernet_switch_drops_total", "", kCounter, t.oversize_frames, {{"reason", "oversize"}});
  s.add("usernet_switch_drops_total", "", kCounter, t.bad_source_frames, {{"reason", "bad_source"}});
  s.add("usernet_switch_flooded_frames_total", "Frames flooded to every port", kCounter, t.flooded_frames);
  const auto& m = sw.mac_table_counters();
  s.add("usernet_switch_drops_total", "", kCounter, m.takeover_refused, {{"reason", "mac_taken"}});
  s.add("usernet_switch_drops_total", "", kCounter, m.reserved_refused, {{"reason", "mac_reserved"}});
  s.add("usernet_switch_drops_total", "", kCounter, t.ip_taken_frames, {{"reason", "ip_taken"}});
  s.add("usernet_switch_drops_total", "", kCounter, t.ip_reserved_frames, {{"reason", "ip_reserved"}});
  s.add("usernet_switch_mac_removed_total", "MAC table entries removed, by reason", kCounter, m.evicted,
        {{"reason", "evicted"}});
  s.add("usernet_switch_mac_removed_total", "", kCounter, m.aged, {{"reason", "aged"}});
}

/// Flow caps and the fd budget: refusals by reason, evictions, what is in use.
void collect_flow_limits(StatsSnapshot& s, const FlowLimits& limits) {
  static constexpr std::pair<FlowKind, const char*> kKinds[] = {
      {FlowKind::tcp, "tcp"}, {FlowKind::half_open, "tcp_half_open"}, {FlowKind::udp, "udp"}, {FlowKind::icmp, "icmp"}};
  static constexpr std::pair<FlowRefusal, const char*> kReasons[] = {
      {FlowRefusal::no_fds, "no_fds"}, {FlowRefusal::guest_limit, "guest_limit"}, {FlowRefusal::total_limit, "total_limit"}};
  for (const auto& [kind, kind_name] : kKinds)
    for (const auto& [reason, reason_name] : kReasons)
      s.add("usernet_flow_refused_total", "New NAT flows refused (guest got RST or ICMP admin-prohibited), by reason",
            kCounter, limits.refusals(kind, reason), {{"protocol", kind_name}, {"reason", reason_name}});
  s.add("usernet_fd_limit", "Open-file limit of the process", kGauge, limits.fds().limit());
  s.add("usernet_fds_for_flows", "File descriptors guest flows may hold (the limit minus a reserve)", kGauge,
        limits.fds().for_flows());
  s.add("usernet_fds_flows_in_use", "File descriptors guest flows hold now", kGauge, limits.fds().taken());
}

/// Gateway netif, NAT sorting and the NAT engines' flows.
void collect_nat(StatsSnapshot& s, VirtualNetwork& network) {
  const auto& g = network.gateway().counters();
  s.add("usernet_gateway_frames_total", "Frames the gateway received or sent", kCounter, g.frames_in, {{"direction", "in"}});
  s.add("usernet_gateway_frames_total", "", kCounter, g.frames_out, {{"direction", "out"}});
  s.add("usernet_gateway_arp_replies_total", "ARP replies for virtual addresses", kCounter, g.arp_answered);
  s.add("usernet_gateway_no_memory_total", "Frames lost because lwIP had no buffer", kCounter, g.no_memory);

  Nat& nat = network.nat();
  const auto& n = nat.counters();
  s.add("usernet_nat_drops_total", "Guest packets the NAT dropped, by reason", kCounter, n.malformed, {{"reason", "malformed"}});
  s.add("usernet_nat_drops_total", "", kCounter, n.foreign_source, {{"reason", "foreign_source"}});
  s.add("usernet_nat_drops_total", "", kCounter, n.unsupported, {{"reason", "unsupported"}});
  s.add("usernet_nat_drops_total", "", kCounter, n.bad_tcp_header, {{"reason", "bad_tcp_header"}});
  s.add("usernet_nat_drops_total", "", kCounter, n.bad_udp_header, {{"reason", "bad_udp_header"}});
  s.add("usernet_nat_drops_total", "", kCounter, n.ipv6_fragments, {{"reason", "ipv6_fragment"}});
  s.add("usernet_nat_drops_total", "", kCounter, g.ipv6_no_neighbor, {{"reason", "ipv6_no_neighbor"}});
  s.add("usernet_nat_drops_total", "", kCounter, g.oversize, {{"reason", "oversize"}});
  collect_flow_limits(s, nat.limits());

  const auto& tcp = nat.tcp().counters();
  const auto& udp = nat.udp().counters();
  const auto& icmp = nat.icmp().counters();
  s.add("usernet_flows_active", "NAT flows open now, by protocol", kGauge, nat.tcp().active() + nat.tcp().pending(),
        {{"protocol", "tcp"}});
  s.add("usernet_flows_active", "", kGauge, nat.udp().active(), {{"protocol", "udp"}});
  s.add("usernet_flows_active", "", kGauge, nat.icmp().active(), {{"protocol", "icmp"}});
  s.add("usernet_flows_total", "NAT flows opened, by protocol (ICMP: echo requests)", kCounter, tcp.connects,
        {{"protocol", "tcp"}});
  s.add("usernet_flows_total", "", kCounter, udp.flows_opened, {{"protocol", "udp"}});
  s.add("usernet_flows_total", "", kCounter, icmp.requests, {{"protocol", "icmp"}});
  s.add("usernet_flow_failures_total", "NAT flows refused or failed, by protocol and reason", kCounter, tcp.refused,
        {{"protocol", "tcp"}, {"reason", "refused"}});
  s.add("usernet_flow_failures_total", "", kCounter, tcp.unreachable, {{"protocol", "tcp"}, {"reason", "unreachable"}});
  s.add("usernet_flow_failures_total", "", kCounter, tcp.timed_out, {{"protocol", "tcp"}, {"reason", "timeout"}});
  s.add("usernet_flow_failures_total", "", kCounter, tcp.policy_refused, {{"protocol", "tcp"}, {"reason", "policy"}});
  s.add("usernet_flow_failures_total", "", kCounter, udp.policy_refused, {{"protocol", "udp"}, {"reason", "policy"}});
  s.add("usernet_flow_failures_total", "", kCounter, udp.send_failures, {{"protocol", "udp"}, {"reason", "send"}});
  s.add("usernet_flow_failures_total", "", kCounter, udp.port_unreachable,
        {{"protocol", "udp"}, {"reason", "port_unreachable"}});
  s.add("usernet_flow_failures_total", "", kCounter, icmp.policy_refused, {{"protocol", "icmp"}, {"reason", "policy"}});
  s.add("usernet_flow_failures_total", "", kCounter, icmp.unavailable, {{"protocol", "icmp"}, {"reason", "unavailable"}});
  const auto& relay = nat.tcp().relays().counters();
  s.add("usernet_nat_bytes_total", "Payload bytes through NAT flows", kCounter, relay.bytes_to_host,
        {{"protocol", "tcp"}, {"direction", "to_host"}});
  s.add("usernet_nat_bytes_total", "", kCounter, relay.bytes_to_guest, {{"protocol", "tcp"}, {"direction", "to_guest"}});
  s.add("usernet_nat_datagrams_total", "Datagrams through UDP NAT flows", kCounter, udp.datagrams_to_host,
        {{"direction", "to_host"}});
  s.add("usernet_nat_datagrams_total", "", kCounter, udp.datagrams_to_guest, {{"direction", "to_guest"}});
  s.add("usernet_flow_closed_total", "NAT flows closed because their guest detached or reattached", kCounter,
        n.guest_left_tcp, {{"protocol", "tcp"}, {"reason", "guest_detached"}});
  s.add("usernet_flow_closed_total", "", kCounter, n.guest_left_udp, {{"protocol", "udp"}, {"reason", "guest_detached"}});
  s.add("usernet_flow_closed_total", "", kCounter, n.guest_left_icmp, {{"protocol", "icmp"}, {"reason", "guest_detached"}});
  s.add("usernet_flow_evictions_total", "Flows closed to make room for a new one at a cap", kCounter,
        udp.flows_evicted, {{"protocol", "udp"}});
  s.add("usernet_flow_evictions_total", "", kCounter, tcp.half_open_evicted, {{"protocol", "tcp_half_open"}});
  s.add("usernet_flow_evictions_total", "", kCounter, icmp.flows_evicted, {{"protocol", "icmp"}});
  s.add("usernet_icmp_replies_dropped_total", "echo replies to no request of their flow (another program's ping)",
        kCounter, icmp.unmatched_replies, {{"reason", "unmatched"}});
}

void collect_forwarder(StatsSnapshot& s, PortForwarder& f) {
  const auto& c = f.counters();
  s.add("usernet_port_forwards", "Host -> guest port forwards open now", kGauge, f.list().size());
  s.add("usernet_port_forward_connections_total", "Host connections accepted by TCP/unix forwards", kCounter, c.accepted);
  s.add("usernet_port_forward_refused_total", "Forwarded connections the guest did not accept", kCounter,
        c.guest_refused);
  s.add("usernet_port_forward_shed_total",
        "Host connections to forwards closed at once because usernetd had no file descriptor left", kCounter, c.shed);
  s.add("usernet_port_forward_datagrams_total", "Datagrams through UDP forwards", kCounter, c.udp_to_guest,
        {{"direction", "to_guest"}});
  s.add("usernet_port_forward_datagrams_total", "", kCounter, c.udp_to_host, {{"direction", "to_host"}});
  const auto& relay = f.relays().counters();
  s.add("usernet_port_forward_bytes_total", "Payload bytes through forwarded TCP connections", kCounter,
        relay.bytes_to_guest, {{"direction", "to_guest"}});
  s.add("usernet_port_forward_bytes_total", "", kCounter, relay.bytes_to_host, {{"direction", "to_host"}});
}

void collect_dhcp(StatsSnapshot& s, GatewayDhcp& dhcp, std::uint64_t now_ms) {
  auto& server = dhcp.server();
  const auto& c = server.counters();
  s.add("usernet_dhcp_leases", "Bound, unexpired DHCP leases", kGauge, server.leases(now_ms).size());
  s.add("usernet_dhcp_messages_total", "DHCP messages received", kCounter, c.received);
  s.add("usernet_dhcp_replies_total", "DHCP replies sent, by type", kCounter, c.offers, {{"type", "offer"}});
  s.add("usernet_dhcp_replies_total", "", kCounter, c.acks, {{"type", "ack"}});
  s.add("usernet_dhcp_replies_total", "", kCounter, c.naks, {{"type", "nak"}});
  std::uint64_t drops = 0;
  for (auto d : c.drops) drops += d;
  s.add("usernet_dhcp_drops_total", "DHCP messages left unanswered", kCounter, drops);
}

void collect_ipv6(StatsSnapshot& s, const GatewayIpv6& ipv6, std::uint64_t now_ms) {
  const auto& nd = ipv6.neighbor_discovery().counters();
  s.add("usernet_ipv6_router_advertisements_total", "Router advertisements sent", kCounter, nd.router_advertisements);
  s.add("usernet_ipv6_neighbor_advertisements_total", "Neighbour advertisements sent for gateway addresses",
        kCounter, nd.neighbor_advertisements);
  s.add("usernet_ipv6_neighbor_solicitations_sent_total",
        "Neighbour solicitations sent to resolve a guest address lwIP had a packet for", kCounter,
        nd.neighbor_solicitations_sent);
  std::uint64_t nd_drops = 0;
  for (auto d : nd.drops) nd_drops += d;
  s.add("usernet_ipv6_ndp_drops_total", "Neighbour discovery packets left unanswered", kCounter, nd_drops);
  const auto& dhcp = ipv6.dhcp().counters();
  s.add("usernet_dhcp6_leases", "Bound, unexpired DHCPv6 leases", kGauge, ipv6.dhcp().leases(now_ms).size());
  s.add("usernet_dhcp6_messages_total", "DHCPv6 messages received", kCounter, dhcp.received);
  s.add("usernet_dhcp6_replies_total", "DHCPv6 answers sent, by type", kCounter, dhcp.advertises,
        {{"type", "advertise"}});
  s.add("usernet_dhcp6_replies_total", "", kCounter, dhcp.replies, {{"type", "reply"}});
  std::uint64_t dhcp_drops = 0;
  for (auto d : dhcp.drops) dhcp_drops += d;
  const auto& c = ipv6.counters();
  s.add("usernet_dhcp6_drops_total", "DHCPv6 messages left unanswered", kCounter,
        dhcp_drops + c.dhcp_bad_checksum);
  s.add("usernet_ipv6_echo_replies_total", "ICMPv6 echo replies from the gateway", kCounter, c.echo_replies);
  s.add("usernet_ipv6_dropped_total", "IPv6 packets dropped, by reason", kCounter, c.truncated,
        {{"reason", "truncated"}});
  s.add("usernet_ipv6_dropped_total", "", kCounter, c.bad_echo, {{"reason", "bad_echo"}});
  s.add("usernet_ipv6_dropped_total", "", kCounter, c.not_routed, {{"reason", "not_routed"}});
  s.add("usernet_ipv6_packets_total", "IPv6 packets past router discovery, by where they went", kCounter,
        c.to_gateway, {{"destination", "gateway"}});
  s.add("usernet_ipv6_packets_total", "", kCounter, c.forwarded, {{"destination", "nat"}});
}

void collect_dns(StatsSnapshot& s, GatewayDns& dns) {
  auto& server = dns.service().server();
  const auto& c = server.counters();
  s.add("usernet_dns_queries_total", "DNS queries received", kCounter, c.queries);
  s.add("usernet_dns_local_answers_total", "Queries answered from local zones, leases and PTR", kCounter,
        c.local_answers);
  s.add("usernet_dns_cache_hits_total", "Queries answered from the cache", kCounter, c.cache_hits);
  s.add("usernet_dns_upstream_queries_total", "Queries forwarded upstream", kCounter, c.upstream_queries);
  s.add("usernet_dns_upstream_failures_total", "Forwarded queries without a usable upstream answer", kCounter,
        c.upstream_failures);
  s.add("usernet_dns64_synthesized_total", "AAAA answers synthesized from A records (--dns64)", kCounter,
        c.dns64_synthesized);
  s.add("usernet_dns_drops_total", "Queries dropped without an answer", kCounter, c.drops);
  s.add("usernet_dns_malformed_total", "Queries answered FORMERR", kCounter, c.malformed);
  s.add("usernet_dns_refused_total", "Queries answered REFUSED", kCounter, c.refused);
  s.add("usernet_dns_over_pending_cap_total", "Forwards dropped: too many queries in flight upstream", kCounter,
        dns.service().counters().over_pending_cap);
  s.add("usernet_dns_upstream_pending", "Forwarded queries in flight", kGauge, dns.service().upstream().pending());
  s.add("usernet_dns_fd_reserve_rescues_total", "Upstream sockets opened from DNS's private fd reserve", kCounter,
        dns.service().upstream().socket_reserve().rescues());
  s.add("usernet_dns_cache_entries", "Answers in the cache", kGauge, server.cache().entries());
  s.add("usernet_dns_zones", "Local DNS zones", kGauge, server.zones().list().size());
}
}  // namespace

void StatsSnapshot::add(const std::string& name, const std::string& help, MetricType type, std::uint64_t value,
                        MetricLabels labels) {
  for (auto& metric : metrics_) {
    if (metric.name == name) {
      metric.samples.push_back(MetricSample{std::move(labels), value});
      return;
    }
  }
  metrics_.push_back(Metric{name, help, type, {MetricSample{std::move(labels), value}}});
}

std::uint64_t StatsSnapshot::value(const std::string& name, const MetricLabels& filter) const {
  std::uint64_t sum = 0;
  for (const auto& metric : metrics_) {
    if (metric.name != name) continue;
    for (const auto& sample : metric.samples) {
      bool match = true;
      for (const auto& wanted : filter)
        if (std::find(sample.labels.begin(), sample.labels.end(), wanted) == sample.labels.end()) match = false;
      if (match) sum += sample.value;
    }
  }
  return sum;
}

std::string StatsSnapshot::to_prometheus() const {
  std::string out;
  for (const auto& metric : metrics_) {
    out += "# HELP " + metric.name + " " + escape_help(metric.help) + "\n";
    out += "# TYPE " + metric.name + (metric.type == MetricType::counter ? " counter\n" : " gauge\n");
    for (const auto& sample : metric.samples) {
      out += metric.name;
      if (!sample.labels.empty()) {
        out += "{";
        for (std::size_t i = 0; i < sample.labels.size(); ++i) {
          if (i > 0) out += ",";
          out += sample.labels[i].first + "=\"" + escape_label(sample.labels[i].second) + "\"";
        }
        out += "}";
      }
      out += " " + std::to_string(sample.value) + "\n";
    }
  }
  return out;
}

std::string StatsSnapshot::to_json() const {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& metric : metrics_) {
    if (metric.samples.size() == 1 && metric.samples[0].labels.empty()) {
      out[metric.name] = metric.samples[0].value;
      continue;
    }
    auto samples = nlohmann::ordered_json::array();
    for (const auto& sample : metric.samples) {
      nlohmann::ordered_json labels = nlohmann::ordered_json::object();
      for (const auto& [key, text] : sample.labels) labels[key] = text;
      samples.push_back({{"labels", labels}, {"value", sample.value}});
    }
    out[metric.name] = samples;
  }
  // Invalid UTF-8 in a port description must not make the dump throw.
  return out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

StatsSnapshot collect_stats(const StatsSources& sources) {
  StatsSnapshot s;
  if (sources.network != nullptr) {
    collect_switch(s, sources.network->network_switch());
    collect_nat(s, *sources.network);
  }
  if (sources.forwarder != nullptr) collect_forwarder(s, *sources.forwarder);
  if (sources.dhcp != nullptr && sources.network != nullptr)
    collect_dhcp(s, *sources.dhcp, uv_now(sources.network->loop()));
  if (sources.dns != nullptr) collect_dns(s, *sources.dns);
  if (sources.ipv6 != nullptr && sources.network != nullptr)
    collect_ipv6(s, *sources.ipv6, uv_now(sources.network->loop()));
  if (sources.extra) sources.extra(s);
  return s;
}

}  // namespace usernet
