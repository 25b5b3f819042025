#include "netstack/switch.hpp"

#include <spdlog/spdlog.h>

namespace usernet {

Switch::Switch(std::size_t max_frame, MacTableLimits mac_limits, MacTable::Clock now)
    : max_frame_(max_frame), mac_table_(mac_limits, std::move(now)) {}

PortId Switch::attach(SwitchPort& port) {
  const PortId id = next_id_++;
  ports_.emplace(id, Entry{&port, {}, std::nullopt});
  return id;
}

void Switch::detach(PortId id) {
  auto it = ports_.find(id);
  if (it == ports_.end()) return;
  const auto first_source = it->second.first_source;
  ports_.erase(it);
  mac_table_.forget_port(id);
  if (first_source && port_events_) port_events_(id, *first_source, false);
}

const PortCounters* Switch::counters(PortId id) const {
  auto it = ports_.find(id);
  return it == ports_.end() ? nullptr : &it->second.counters;
}

std::vector<std::pair<MacAddress, PortId>> Switch::mac_table() const {
  return mac_table_.entries();
}

std::vector<std::pair<PortId, std::string>> Switch::ports() const {
  std::vector<std::pair<PortId, std::string>> out;
  for (const auto& [id, entry] : ports_) out.emplace_back(id, entry.port->describe());
  return out;
}

void Switch::deliver(PortId to, ByteSpan frame) {
  auto it = ports_.find(to);
  if (it == ports_.end()) return;
  // Count before sending: send_frame may re-enter the switch and even detach this port.
  auto& counters = it->second.counters;
  SwitchPort* port = it->second.port;
  counters.tx_frames++;
  counters.tx_bytes += frame.size();
  if (!port->send_frame(frame)) {
    auto again = ports_.find(to);
    if (again != ports_.end()) {
      again->second.counters.tx_frames--;
      again->second.counters.tx_bytes -= frame.size();
      again->second.counters.tx_dropped++;
    }
  }
}

void Switch::refuse_sender(Entry& entry, Ipv4 sender, SenderVerdict verdict) {
  entry.counters.rx_dropped++;
  const bool reserved = verdict == SenderVerdict::ip_reserved;
  (reserved ? totals_.ip_reserved_frames : totals_.ip_taken_frames)++;
  if (entry.warned_sender) return;
  entry.warned_sender = true;  // once per port: a spoofing guest must not flood the log
  spdlog::warn("switch: {} sends from {}, {}; dropping its frames from addresses it does not hold",
               entry.port->describe(), format_ipv4(sender),
               reserved ? "an address of the gateway" : "an address leased to another MAC");
}

bool Switch::receive(PortId from, ByteSpan frame) {
  auto it = ports_.find(from);
  if (it == ports_.end()) return false;
  auto& counters = it->second.counters;
  if (frame.size() < kEthernetHeaderSize) {
    totals_.runt_frames++;
    counters.rx_dropped++;
    return false;
  }
  if (frame.size() > max_frame_) {
    totals_.oversize_frames++;
    counters.rx_dropped++;
    return false;
  }
  const MacAddress src = frame_source(frame);
  if (is_group_address(src)) {
    totals_.bad_source_frames++;
    counters.rx_dropped++;
    return false;
  }
  // A MAC active on another port (or the gateway's) is refused: no port can steal
  // another's traffic by spoofing its source address.
  if (!mac_table_.learn(src, from)) {
    counters.rx_dropped++;
    return false;
  }
  // Nor may it send from an address another guest (or the gateway) holds.
  if (const auto sender = frame_sender_ipv4(frame)) {
    const SenderVerdict verdict = sender_policy_.check(src, *sender);
    if (verdict != SenderVerdict::allowed) {
      refuse_sender(it->second, *sender, verdict);
      return false;
    }
  }
  counters.rx_frames++;
  counters.rx_bytes += frame.size();
  if (!it->second.first_source) {
    it->second.first_source = src;
    if (port_events_) port_events_(from, src, true);
  }
  if (observer_) observer_(frame);

  const MacAddress dst = frame_destination(frame);
  if (!is_group_address(dst)) {
    if (const auto known = mac_table_.lookup(dst)) {
      if (*known != from) deliver(*known, frame);
      return true;
    }
  }
  // Broadcast, multicast or unknown unicast: flood to every other port. Collect ids
  // first: delivering may attach or detach ports.
  totals_.flooded_frames++;
  std::vector<PortId> targets;
  targets.reserve(ports_.size());
  for (const auto& [id, entry] : ports_)
    if (id != from) targets.push_back(id);
  for (PortId id : targets) deliver(id, frame);
  return true;
}

}  // namespace usernet
