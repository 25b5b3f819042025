// A learning Ethernet switch: every VM transport and the gateway are ports of one segment.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "netstack/base/ethernet.hpp"
#include "netstack/switch/mac_table.hpp"
#include "netstack/switch/sender_ip_policy.hpp"

namespace usernet {


/// Per-port traffic counters. rx = from the port's peer into the switch; tx = out to the peer.
struct PortCounters {
  std::uint64_t rx_frames = 0;
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_frames = 0;
  std::uint64_t tx_bytes = 0;
  std::uint64_t rx_dropped = 0;  // invalid frames from the peer (runt, oversize)
  std::uint64_t tx_dropped = 0;  // frames the port could not queue (full, peer gone)
};

/// One attachment to the switch. Implementations must not block in send_frame.
class SwitchPort {
 public:
  virtual ~SwitchPort() = default;
  /// Delivers one frame to this port's peer; returns false when it had to drop it.
  virtual bool send_frame(ByteSpan frame) = 0;
  /// Short human description for logs and the API ("tap tap0", "qemu unix:///x"...).
  virtual std::string describe() const = 0;
};

/// Switch-wide counters.
struct SwitchCounters {
  std::uint64_t runt_frames = 0;
  std::uint64_t oversize_frames = 0;
  std::uint64_t flooded_frames = 0;
  std::uint64_t bad_source_frames = 0;  // group-address source MAC
  std::uint64_t ip_taken_frames = 0;     // ARP/IPv4 from an address leased to another MAC
  std::uint64_t ip_reserved_frames = 0;  // ARP/IPv4 from one of the gateway's addresses
};

class Switch {
 public:
  /// max_frame: the largest frame (Ethernet header included) accepted from any port.
  explicit Switch(std::size_t max_frame, MacTableLimits mac_limits = {}, MacTable::Clock now = {});

  /// Attaches a port; the switch does not own it. The port must detach before it dies.
  PortId attach(SwitchPort& port);
  /// Removes a port and forgets the MACs learned on it. Safe from inside send_frame.
  void detach(PortId id);

  /// A frame arrived from a port's peer: validate, learn the source, forward or flood.
  /// Returns false if the frame was invalid (counted as rx_dropped on the port).
  bool receive(PortId from, ByteSpan frame);

  std::size_t max_frame() const { return max_frame_; }
  const PortCounters* counters(PortId id) const;
  const SwitchCounters& counters() const { return totals_; }
  /// MAC → port table (for /cam and tests).
  std::vector<std::pair<MacAddress, PortId>> mac_table() const;
  const MacTableCounters& mac_table_counters() const { return mac_table_.counters(); }
  std::size_t mac_entries() const { return mac_table_.size(); }
  /// Frames from `mac` are accepted only from `port` (the gateway reserves its own MAC).
  /// Also marks `port` as infrastructure (the gateway): its senders are not guests.
  void reserve_mac(const MacAddress& mac, PortId port);
  /// Frames from `ip` (ARP sender, IPv4 or IPv6 source) are accepted only from `mac`.
  void reserve_ip(Ipv4 ip, const MacAddress& mac) { sender_policy_.reserve(IpAddress::from_v4(ip), mac); }
  void reserve_ip(const Ipv6& ip, const MacAddress& mac) { sender_policy_.reserve(IpAddress::from_v6(ip), mac); }
  /// Who holds which address (DHCP leases); frames from an address held by another MAC
  /// are dropped. Null to stop asking. Not owned: it must unset itself before it dies.
  void set_address_owners(const AddressOwners* owners) { sender_policy_.set_owners(owners); }
  /// Attached ports with their descriptions.
  std::vector<std::pair<PortId, std::string>> ports() const;

  /// Observer for every frame the switch accepts (pcap capture). Empty to disable.
  void set_observer(std::function<void(ByteSpan)> observer) { observer_ = std::move(observer); }

  /// Port life events for gvproxy's notifications: `up` with the source MAC of the first
  /// valid frame a port delivers (the VM is really there), and `up == false` with that
  /// MAC when such a port detaches. Ports that never sent a frame report nothing.
  using PortEventObserver = std::function<void(PortId, const MacAddress& first_source, bool up)>;
  void set_port_event_observer(PortEventObserver observer) { port_events_ = std::move(observer); }

  /// The guest that sent from an address (IPv4 or IPv6) is gone: its port detached, or
  /// the address now comes from another port (the guest restarted or reattached). Called
  /// from inside detach() and receive(): the observer must defer real work.
  using AddressGoneObserver = std::function<void(const IpAddress& address)>;
  void set_address_gone_observer(AddressGoneObserver observer) { address_gone_ = std::move(observer); }

 private:
  struct Entry {
    SwitchPort* port = nullptr;
    PortCounters counters;
    std::optional<MacAddress> first_source;  // set by the first valid frame
    bool warned_sender = false;              // logged its first refused sender address
    bool infrastructure = false;             // owns a reserved MAC (the gateway)
    std::vector<IpAddress> senders;          // addresses it sent from, oldest first (bounded)
    std::optional<IpAddress> last_sender;
  };
  struct SenderHolder {
    PortId port;
    MacAddress mac;
  };
  /// An IPv6 `sender` another guest (another MAC, on another port) sends from now.
  bool held_by_another_guest(PortId from, const MacAddress& source, const IpAddress& sender) const;
  void note_sender(PortId from, Entry& entry, const MacAddress& source, const IpAddress& sender);
  /// May this frame's sender address (if any) come from `from`? Refused frames are counted.
  bool admit_sender(PortId from, Entry& entry, const MacAddress& src, ByteSpan frame);
  void deliver(PortId to, ByteSpan frame);
  void refuse_sender(Entry& entry, const IpAddress& sender, SenderVerdict verdict);

  std::size_t max_frame_;
  PortId next_id_ = 1;
  std::unordered_map<PortId, Entry> ports_;
  MacTable mac_table_;
  SenderIpPolicy sender_policy_;
  SwitchCounters totals_;
  std::function<void(ByteSpan)> observer_;
  PortEventObserver port_events_;
  std::unordered_map<IpAddress, SenderHolder, IpAddressHash> sender_ports_;  // where each guest address came from last
  AddressGoneObserver address_gone_;
};

}  // namespace usernet
