#include "netstack/switch/switch.hpp"

#include <spdlog/spdlog.h>

namespace usernet {

namespace {
// A spoofing guest cannot grow the table; room for IPv4, link-local, SLAAC and a few
// temporary IPv6 addresses per guest.
constexpr std::size_t kMaxSendersPerPort = 32;
}

Switch::Switch(std::size_t max_frame, MacTableLimits mac_limits, MacTable::Clock now)
    : max_frame_(max_frame), mac_table_(mac_limits, std::move(now)) {}

PortId Switch::attach(SwitchPort& port) {
  const PortId id = next_id_++;
  Entry entry;
  entry.port = &port;
  ports_.emplace(id, std::move(entry));
  return id;
}

void Switch::detach(PortId id) {
  auto it = ports_.find(id);
  if (it == ports_.end()) return;
  const auto first_source = it->second.first_source;
  std::vector<IpAddress> gone;
  for (const IpAddress& address : it->second.senders) {
    auto known = sender_ports_.find(address);
    if (known == sender_ports_.end() || known->second.port != id) continue;
    sender_ports_.erase(known);
    gone.push_back(address);
  }
  ports_.erase(it);
  mac_table_.forget_port(id);
  if (first_source && port_events_) port_events_(id, *first_source, false);
  if (address_gone_)
    for (const IpAddress& address : gone) address_gone_(address);
}

void Switch::reserve_mac(const MacAddress& mac, PortId port) {
  mac_table_.reserve(mac, port);
  if (auto it = ports_.find(port); it != ports_.end()) it->second.infrastructure = true;
}

bool Switch::held_by_another_guest(PortId from, const MacAddress& source, const IpAddress& sender) const {
  if (sender.is_v4()) return false;  // IPv4 ownership comes from the DHCP leases
  const auto held = sender_ports_.find(sender);
  return held != sender_ports_.end() && held->second.port != from && held->second.mac != source;
}

void Switch::note_sender(PortId from, Entry& entry, const MacAddress& source, const IpAddress& sender) {
  if (entry.infrastructure || sender == entry.last_sender) return;  // the common case: one address
  entry.last_sender = sender;
  auto [known, added] = sender_ports_.try_emplace(sender, SenderHolder{from, source});
  if (!added) {
    if (known->second.port == from) return;
    const PortId previous = known->second.port;
    known->second = SenderHolder{from, source};
    if (auto old = ports_.find(previous); old != ports_.end()) {
      std::erase(old->second.senders, sender);
      if (old->second.last_sender == sender) old->second.last_sender.reset();
    }
    if (address_gone_) address_gone_(sender);
  }
  if (entry.senders.size() >= kMaxSendersPerPort) {
    if (auto oldest = sender_ports_.find(entry.senders.front());
        oldest != sender_ports_.end() && oldest->second.port == from)
      sender_ports_.erase(oldest);
    entry.senders.erase(entry.senders.begin());
  }
  entry.senders.push_back(sender);
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

void Switch::refuse_sender(Entry& entry, const IpAddress& sender, SenderVerdict verdict) {
  entry.counters.rx_dropped++;
  const bool reserved = verdict == SenderVerdict::ip_reserved;
  (reserved ? totals_.ip_reserved_frames : totals_.ip_taken_frames)++;
  if (entry.warned_sender) return;
  entry.warned_sender = true;  // once per port: a spoofing guest must not flood the log
  spdlog::warn("switch: {} sends from {}, {}; dropping its frames from addresses it does not hold",
               entry.port->describe(), sender.to_string(),
               reserved ? "an address of the gateway" : "an address another MAC holds");
}

bool Switch::admit_sender(PortId from, Entry& entry, const MacAddress& src, ByteSpan frame) {
  const auto sender = frame_sender(frame);
  if (!sender) return true;
  // An IPv6 address moves to another port only with its MAC (the guest restarted or
  // reattached): SLAAC addresses have no lease that says who holds them.
  const SenderVerdict verdict =
      held_by_another_guest(from, src, *sender) ? SenderVerdict::ip_taken : sender_policy_.check(src, *sender);
  if (verdict != SenderVerdict::allowed) {
    refuse_sender(entry, *sender, verdict);
    return false;
  }
  note_sender(from, entry, src, *sender);
  return true;
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
  if (!admit_sender(from, it->second, src, frame)) return false;
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
