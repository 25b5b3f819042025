// Relays one TCP connection between an lwIP pcb (the guest side) and a connected host
// socket, in both directions, with back-pressure and half-close:
//  - guest → host: received pbufs are queued and written with one writev per turn; the
//    guest's window reopens (tcp_recved) only for bytes the host socket accepted.
//  - host → guest: the socket is read only while lwIP has send buffer space; reading
//    resumes when the guest acknowledges data (tcp_sent).
//  - FIN in either direction becomes shutdown(SHUT_WR) / tcp_shutdown on the other side;
//    a reset on either side resets the other.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "netstack/base/end_of_turn.hpp"
#include "netstack/nat/flow_limits.hpp"
#include "netstack/base/ipv4.hpp"
#include "netstack/base/uv_handles.hpp"

struct tcp_pcb;
struct pbuf;

namespace usernet {

class TcpRelayGroup;

struct TcpRelayCounters {
  std::uint64_t opened = 0;
  std::uint64_t closed = 0;
  std::uint64_t reset_by_guest = 0;
  std::uint64_t reset_by_host = 0;
  std::uint64_t bytes_to_host = 0;
  std::uint64_t bytes_to_guest = 0;
};

class TcpRelay {
 public:
  TcpRelay(TcpRelayGroup& group, tcp_pcb* pcb, int host_fd, std::string label);
  ~TcpRelay();
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  /// Writes queued guest data to the host socket (called once per loop turn when dirty).
  void flush_to_host();
  const std::string& label() const { return label_; }
  /// The guest end's address (the pcb's remote address).
  const IpAddress& guest() const { return guest_; }
  /// Ends both sides now, without a RST to the guest (it is gone); the host peer gets one.
  void abandon();

 private:
  struct Chunk {
    pbuf* head;  // freed once its last chunk is written
    const std::uint8_t* data;
    std::size_t length;
    bool last_of_chain;
  };

  static std::int8_t on_guest_data(void* arg, tcp_pcb* pcb, pbuf* p, std::int8_t err);
  static std::int8_t on_guest_acked(void* arg, tcp_pcb* pcb, std::uint16_t length);
  static void on_guest_error(void* arg, std::int8_t err);
  void on_host_event(int status, int events);
  void read_from_host();
  bool push_to_guest(const std::uint8_t* data, std::size_t length);
  void acknowledge_to_guest(std::size_t bytes);
  /// Sends the ACK lwIP holds back (TF_ACK_DELAY) right away.
  void ack_now();
  /// At the end of a turn: ACK a full segment at once, a smaller one after a short delay
  /// (so the host's answer can carry it), never lwIP's 250 ms.
  void ack_received_data(std::size_t received);
  /// tcp_output for data to the guest; notes whether it carried the pending ACK.
  void output_to_guest();
  void update_watch();
  void maybe_finish();
  void fail_from_host(int error);
  void detach_pcb();
  /// Closes the host socket (with RST if asked), unregistering its watch first.
  void close_host(bool with_reset);
  void retire();

  TcpRelayGroup& group_;
  tcp_pcb* pcb_;
  int fd_;
  std::string label_;
  IpAddress guest_;
  PollWatcher watcher_;
  std::deque<Chunk> to_host_;
  std::size_t first_chunk_offset_ = 0;
  std::vector<std::uint8_t> stash_;  // host bytes lwIP could not take yet
  bool guest_eof_ = false;           // guest sent FIN
  bool host_write_shut_ = false;     // we shut the host socket's write side
  bool host_eof_ = false;            // host sent EOF
  bool guest_write_shut_ = false;    // we sent FIN to the guest
  bool host_paused_ = false;         // lwIP send buffer full
  bool want_host_writable_ = false;  // a writev was partial
  bool dirty_ = false;
  bool retired_ = false;
  bool ack_deferred_ = false;         // listed in the group's deferred-ACK list
  FlowSlot slot_;
  std::uint64_t ack_due_ms_ = 0;      // loop time by which a held-back ACK goes out; 0: none
  friend class TcpRelayGroup;
};

/// Owns relays, batches their host writes at the end of each loop turn and destroys
/// finished relays only then (never from inside their own callbacks).
class TcpRelayGroup {
 public:
  TcpRelayGroup(uv_loop_t* loop, EndOfTurn& end_of_turn);
  ~TcpRelayGroup();
  TcpRelayGroup(const TcpRelayGroup&) = delete;
  TcpRelayGroup& operator=(const TcpRelayGroup&) = delete;

  /// Starts relaying between a connected pcb and a connected host socket; `slot` (a NAT
  /// flow's share of the caps) is released when the relay ends.
  void add(tcp_pcb* pcb, int host_fd, std::string label, FlowSlot slot = {});
  std::size_t active() const { return relays_.size() - retired_count_; }
  /// Relays of `guest` not yet ended (a linear scan: for small groups such as the API's).
  std::size_t active_for(const IpAddress& guest) const;
  /// Abandons every relay of `guest` (it detached or restarted); returns how many.
  std::size_t abandon_guest(const IpAddress& guest);
  /// When the host end closes, close the guest's connection too instead of half-closing
  /// it: for local servers (the API) that never read after closing, so a guest that does
  /// not close its side cannot keep the relay, and its slot, forever.
  void close_guest_with_host() { close_guest_with_host_ = true; }
  uv_loop_t* loop() const { return loop_; }
  TcpRelayCounters& counters() { return counters_; }

 private:
  void mark_dirty(TcpRelay* relay);
  void retire(TcpRelay* relay);
  void on_end_of_turn();
  void defer_ack(TcpRelay* relay);
  void on_ack_timer();

  uv_loop_t* loop_;
  EndOfTurn& end_of_turn_;
  EndOfTurn::Token token_;
  std::vector<std::unique_ptr<TcpRelay>> relays_;
  std::vector<TcpRelay*> dirty_;
  std::size_t retired_count_ = 0;
  bool close_guest_with_host_ = false;
  TcpRelayCounters counters_;
  std::vector<TcpRelay*> deferred_acks_;  // relays owing the guest a small-segment ACK
  Timer ack_timer_;
  friend class TcpRelay;
};

}  // namespace usernet
