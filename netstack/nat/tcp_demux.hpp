// Hash demultiplexing of guest TCP segments for the NAT, without patching lwIP.
//
// lwIP's tcp_input finds a segment's connection by scanning tcp_active_pcbs (a singly linked
// list, a hit moved to the front), then tcp_tw_pcbs, then the listeners. With thousands of
// held connections a SYN scans all of them, and so does every segment of a flow that is not
// among the most recently active ones. TcpDemux keeps a hash table 4-tuple -> pcb of every
// connection born on a NAT listener (lwIP's ext-arg passive_open/destroy callbacks keep it
// exact) and, before a segment is handed to tcp_input:
//  - for a tracked flow, unlinks its pcb and puts it at the head of tcp_active_pcbs in O(1),
//    so lwIP's scan ends at the first element. The predecessor comes from a mirror of lwIP's
//    order (a doubly linked list of the tracked pcbs, most recent first: lwIP's list only
//    changes by push-front, move-to-front and removal) and is used only after checking that
//    it really links to the pcb; otherwise lwIP's own scan moves it, as before.
//  - for the SYN opening a flow no tracked pcb holds, hides the active and TIME_WAIT lists
//    for that one tcp_input call (the listener then registers the new pcb on an empty list),
//    and splices the lists back behind the new pcb.
// Segments of untracked flows (port forwards, strays) take lwIP's scan unchanged.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>

#include "netstack/base/flow_key.hpp"

struct tcp_pcb;
struct tcp_pcb_listen;
struct tcp_ext_arg_callbacks;
struct pbuf;
struct netif;

namespace usernet {

struct TcpDemuxCounters {
  std::uint64_t at_head = 0;       // the flow's pcb already was first
  std::uint64_t spliced = 0;       // moved to the front by the demux
  std::uint64_t scanned = 0;       // predecessor unknown: lwIP's scan found it
  std::uint64_t hidden_opens = 0;  // SYNs delivered with the other connections hidden
};

/// The NAT flow of an lwIP pcb: guest (remote) ip:port -> destination (local) ip:port.
FlowKey flow_key_of(const tcp_pcb* pcb);

class TcpDemux {
 public:
  TcpDemux();
  ~TcpDemux();  // forgets every tracked pcb (their later destruction no longer calls us)
  TcpDemux(const TcpDemux&) = delete;
  TcpDemux& operator=(const TcpDemux&) = delete;

  /// Tracks every connection this listener accepts, from its SYN on.
  void watch_listener(tcp_pcb* listener);
  /// Hands a guest segment of `key` (p->payload at the IP header) to lwIP. Takes p.
  void deliver(pbuf* p, const FlowKey& key, netif* input);
  /// Hands the SYN that opens `key` to lwIP (a NAT listener answers it). Takes p.
  void deliver_opening(pbuf* p, const FlowKey& key, netif* input);
  /// True if a tracked pcb of `key` is in TIME_WAIT.
  bool in_time_wait(const FlowKey& key) const;

  std::size_t tracked() const { return flows_.size(); }
  const TcpDemuxCounters& counters() const { return counters_; }

 private:
  struct Flow;
  static const tcp_ext_arg_callbacks kListenerCallbacks;
  static const tcp_ext_arg_callbacks kFlowCallbacks;
  static const tcp_ext_arg_callbacks kUntrackedCallbacks;
  static std::int8_t on_passive_open(std::uint8_t id, tcp_pcb_listen* listener, tcp_pcb* pcb);
  static void on_destroyed(std::uint8_t id, void* data);
  void track(tcp_pcb* pcb);
  /// Stops lwIP from reporting this pcb's destruction to us.
  static void untrack(tcp_pcb* pcb);
  void forget(Flow* flow);
  void bring_to_front(Flow& flow);
  void mirror_push_front(Flow& flow);
  void mirror_unlink(Flow& flow);
  void after_input(const FlowKey& key);

  std::unordered_map<FlowKey, std::unique_ptr<Flow>, FlowKeyHash> flows_;
  Flow* mirror_head_ = nullptr;  // believed lwIP order of tracked pcbs in tcp_active_pcbs
  TcpDemuxCounters counters_;
};

}  // namespace usernet
