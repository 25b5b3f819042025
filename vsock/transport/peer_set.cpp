#include "vsock/transport/peer_set.hpp"

#include <algorithm>

#include "netstack/base/uv_handles.hpp"

namespace usernet {

PeerSet::PeerSet(uv_loop_t* loop, EndOfTurn& end_of_turn)
    : end_of_turn_(end_of_turn), idle_(new uv_idle_t) {
  uv_idle_init(loop, idle_);
  idle_->data = this;
  token_ = end_of_turn_.add(EndOfTurn::kTransportFlush, [this] { run_end_of_turn(); });
}

PeerSet::~PeerSet() {
  end_of_turn_.remove(token_);
  close_and_free(idle_);
  dirty_.clear();
  retired_.clear();
  peers_.clear();
}

Peer& PeerSet::add(std::unique_ptr<Peer> peer) {
  Peer& ref = *peer;
  peers_.emplace(&ref, std::move(peer));
  return ref;
}

void PeerSet::retire(Peer& peer) {
  auto it = peers_.find(&peer);
  if (it == peers_.end()) return;
  retired_.push_back(std::move(it->second));
  peers_.erase(it);
  // Frames pending for a dead peer are gone with it; do not flush it.
  std::erase(dirty_, &peer);
  uv_idle_start(idle_, [](uv_idle_t*) {});
}

void PeerSet::schedule_flush(Peer& peer) {
  if (std::find(dirty_.begin(), dirty_.end(), &peer) != dirty_.end()) return;
  dirty_.push_back(&peer);
  // An idle handle makes the next loop iteration poll with a zero timeout, so frames
  // queued after this turn's flush stage (timers) still go out promptly.
  uv_idle_start(idle_, [](uv_idle_t*) {});
}

void PeerSet::run_end_of_turn() {
  std::vector<Peer*> batch;
  batch.swap(dirty_);
  for (Peer* peer : batch)
    if (peers_.count(peer)) peer->flush();
  retired_.clear();
  if (dirty_.empty() && retired_.empty()) uv_idle_stop(idle_);
}

}  // namespace usernet
