#include "netstack/nat/tcp_demux.hpp"

#include <arpa/inet.h>

#include <new>

#include "netstack/lwip/lwip_address.hpp"
#include "netstack/lwip/lwip_packet_io.hpp"

extern "C" {
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
}

namespace usernet {

// Listeners only spawn tracked pcbs; a tracked pcb only reports its destruction.
const tcp_ext_arg_callbacks TcpDemux::kListenerCallbacks{nullptr, &TcpDemux::on_passive_open};
const tcp_ext_arg_callbacks TcpDemux::kFlowCallbacks{&TcpDemux::on_destroyed, nullptr};
// lwIP asserts on a null table, so an untracked pcb gets one that does nothing.
const tcp_ext_arg_callbacks TcpDemux::kUntrackedCallbacks{nullptr, nullptr};

/// One tracked pcb: its key, and its place in the mirror of lwIP's order.
struct TcpDemux::Flow {
  TcpDemux* owner;
  tcp_pcb* pcb;
  FlowKey key;
  Flow* newer = nullptr;  // believed predecessor in tcp_active_pcbs
  Flow* older = nullptr;
  bool mirrored = false;
};

namespace {

/// One ext-arg slot for the whole process (lwIP hands out ids from a global counter).
std::uint8_t demux_arg_id() {
  static const std::uint8_t id = tcp_ext_arg_alloc_id();
  return id;
}

/// In tcp_active_pcbs (not TIME_WAIT, not being freed, never a listener for tracked pcbs).
bool in_active_list(const tcp_pcb* pcb) { return pcb->state != TIME_WAIT && pcb->state != CLOSED; }

/// Appends `rest` behind the pcbs registered on `*list` while the list was hidden.
void splice_back(tcp_pcb** list, tcp_pcb* rest) {
  if (*list == nullptr) {
    *list = rest;
    return;
  }
  tcp_pcb* tail = *list;
  while (tail->next != nullptr) tail = tail->next;
  tail->next = rest;
}

}  // namespace

FlowKey flow_key_of(const tcp_pcb* pcb) {
  return FlowKey{from_lwip_address(pcb->remote_ip), pcb->remote_port, from_lwip_address(pcb->local_ip),
                 pcb->local_port};
}

TcpDemux::TcpDemux() { (void)demux_arg_id(); }

TcpDemux::~TcpDemux() {
  for (auto& [key, flow] : flows_) untrack(flow->pcb);
}

void TcpDemux::untrack(tcp_pcb* pcb) {
  tcp_ext_arg_set_callbacks(pcb, demux_arg_id(), &kUntrackedCallbacks);
  tcp_ext_arg_set(pcb, demux_arg_id(), nullptr);
}

void TcpDemux::watch_listener(tcp_pcb* listener) {
  tcp_ext_arg_set_callbacks(listener, demux_arg_id(), &kListenerCallbacks);
  tcp_ext_arg_set(listener, demux_arg_id(), this);
}

err_t TcpDemux::on_passive_open(u8_t id, tcp_pcb_listen* listener, tcp_pcb* pcb) {
  auto* self = static_cast<TcpDemux*>(tcp_ext_arg_get(reinterpret_cast<tcp_pcb*>(listener), id));
  if (self == nullptr) return ERR_OK;
  try {
    self->track(pcb);
  } catch (const std::bad_alloc&) {
    return ERR_MEM;  // lwIP drops the new pcb; the guest retransmits its SYN
  }
  return ERR_OK;
}

void TcpDemux::on_destroyed(u8_t, void* data) {
  auto* flow = static_cast<Flow*>(data);
  if (flow != nullptr) flow->owner->forget(flow);
}

void TcpDemux::track(tcp_pcb* pcb) {
  const FlowKey key = flow_key_of(pcb);
  auto found = flows_.find(key);
  if (found != flows_.end()) {
    // An older pcb of the same 4-tuple (closing or TIME_WAIT): the new one is the flow now.
    Flow* old = found->second.get();
    untrack(old->pcb);
    forget(old);
  }
  auto flow = std::make_unique<Flow>(Flow{this, pcb, key});
  tcp_ext_arg_set_callbacks(pcb, demux_arg_id(), &kFlowCallbacks);
  tcp_ext_arg_set(pcb, demux_arg_id(), flow.get());
  mirror_push_front(*flow);  // lwIP registered it at the head of tcp_active_pcbs
  flows_.emplace(key, std::move(flow));
}

void TcpDemux::forget(Flow* flow) {
  mirror_unlink(*flow);
  flows_.erase(flow->key);
}

void TcpDemux::mirror_unlink(Flow& flow) {
  if (!flow.mirrored) return;
  if (flow.newer != nullptr) flow.newer->older = flow.older;
  else mirror_head_ = flow.older;
  if (flow.older != nullptr) flow.older->newer = flow.newer;
  flow.newer = flow.older = nullptr;
  flow.mirrored = false;
}

void TcpDemux::mirror_push_front(Flow& flow) {
  mirror_unlink(flow);
  flow.older = mirror_head_;
  if (mirror_head_ != nullptr) mirror_head_->newer = &flow;
  mirror_head_ = &flow;
  flow.mirrored = true;
}

// The mirror is only a guess (lwIP also reorders for pcbs we do not track); the guessed
// predecessor is used only if it is a live tracked pcb in the active list linking to ours,
// which makes it the one predecessor that pcb has.
void TcpDemux::bring_to_front(Flow& flow) {
  tcp_pcb* pcb = flow.pcb;
  if (!in_active_list(pcb)) {
    mirror_unlink(flow);  // TIME_WAIT: lwIP looks in tcp_tw_pcbs
    return;
  }
  if (tcp_active_pcbs == pcb) {
    counters_.at_head++;
  } else if (Flow* before = flow.newer; before != nullptr && in_active_list(before->pcb) && before->pcb->next == pcb) {
    before->pcb->next = pcb->next;
    pcb->next = tcp_active_pcbs;
    tcp_active_pcbs = pcb;
    counters_.spliced++;
  } else {
    counters_.scanned++;  // lwIP's scan finds it and moves it to the front itself
  }
  mirror_push_front(flow);
}

void TcpDemux::after_input(const FlowKey& key) {
  auto it = flows_.find(key);  // the pcb may be gone (destroyed) or in TIME_WAIT now
  if (it != flows_.end() && !in_active_list(it->second->pcb)) mirror_unlink(*it->second);
}

void TcpDemux::deliver(pbuf* p, const FlowKey& key, netif* input) {
  auto it = flows_.find(key);
  if (it == flows_.end()) {
    inject_tcp_segment(p, input);
    return;
  }
  bring_to_front(*it->second);
  inject_tcp_segment(p, input);
  after_input(key);
}

void TcpDemux::deliver_opening(pbuf* p, const FlowKey& key, netif* input) {
  auto it = flows_.find(key);
  if (it != flows_.end() && in_active_list(it->second->pcb)) {
    deliver(p, key, input);  // an older connection of this 4-tuple is still closing: lwIP decides
    return;
  }
  // No other connection can match this SYN: only the listener has to see it. The new pcb is
  // registered on the empty active list; no other pcb is touched on the way (SYN-ACK output
  // does not re-enter lwIP's input).
  tcp_pcb* active = tcp_active_pcbs;
  tcp_pcb* time_wait = tcp_tw_pcbs;
  tcp_active_pcbs = nullptr;
  tcp_tw_pcbs = nullptr;
  inject_tcp_segment(p, input);
  splice_back(&tcp_active_pcbs, active);
  splice_back(&tcp_tw_pcbs, time_wait);
  counters_.hidden_opens++;
}

bool TcpDemux::in_time_wait(const FlowKey& key) const {
  auto it = flows_.find(key);
  return it != flows_.end() && it->second->pcb->state == TIME_WAIT;
}

}  // namespace usernet
