// Caps on NAT flows, per guest (by guest IP) and in total, on top of the fd budget.
// A flow holds a FlowSlot for its lifetime; refusals are counted by reason and reported
// in one warning per 10 s, not one line per flow.
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "netstack/base/fd_budget.hpp"
#include "netstack/base/ip_address.hpp"
#include "netstack/base/uv_handles.hpp"

namespace usernet {

enum class FlowKind { tcp, half_open, udp, icmp };  // half_open: host TCP connects in progress; icmp: echo flows
enum class FlowRefusal { none, no_fds, guest_limit, total_limit };
inline constexpr std::size_t kFlowKinds = 4;
inline constexpr std::size_t kFlowRefusals = 4;

/// 0 means "size from the fd limit".
struct FlowCaps {
  std::uint64_t tcp = 0, half_open = 0, udp = 0, icmp = 0;
  std::uint64_t tcp_per_guest = 0, half_open_per_guest = 0, udp_per_guest = 0, icmp_per_guest = 0;
};

class FlowLimits;

/// One flow's share of the caps (and of the fd budget, if it holds a host socket).
class FlowSlot {
 public:
  FlowSlot() = default;
  FlowSlot(FlowSlot&& other) noexcept { *this = std::move(other); }
  FlowSlot& operator=(FlowSlot&& other) noexcept;
  ~FlowSlot() { release(); }
  explicit operator bool() const { return limits_ != nullptr; }
  void release();

 private:
  friend class FlowLimits;
  FlowLimits* limits_ = nullptr;
  FlowKind kind_ = FlowKind::tcp;
  IpAddress guest_;
  bool holds_fd_ = false;
};

class FlowLimits {
 public:
  FlowLimits(uv_loop_t* loop, FdBudget budget, const FlowCaps& caps);
  FlowLimits(const FlowLimits&) = delete;
  FlowLimits& operator=(const FlowLimits&) = delete;

  /// A slot for a new flow of `guest`; an empty one (and the reason) when a cap is reached.
  FlowSlot acquire(FlowKind kind, const IpAddress& guest, bool needs_fd, FlowRefusal& refusal);
  /// Counts a refused flow and warns at most once per interval.
  void refused(FlowKind kind, FlowRefusal reason, const IpAddress& guest);

  const FlowCaps& caps() const { return caps_; }
  const FdBudget& fds() const { return budget_; }
  std::uint64_t active(FlowKind kind) const { return totals_[static_cast<std::size_t>(kind)]; }
  std::uint64_t active(FlowKind kind, const IpAddress& guest) const;
  std::uint64_t refusals(FlowKind kind, FlowRefusal reason) const {
    return refusals_[static_cast<std::size_t>(kind)][static_cast<std::size_t>(reason)];
  }

 private:
  friend class FlowSlot;
  using Counts = std::array<std::uint64_t, kFlowKinds>;
  void release(const FlowSlot& slot);
  std::string describe(FlowKind kind, FlowRefusal reason, const IpAddress& guest) const;
  void on_warning_interval();

  FdBudget budget_;
  FlowCaps caps_;
  Counts totals_{};
  std::unordered_map<IpAddress, Counts, IpAddressHash> per_guest_;
  std::array<std::array<std::uint64_t, kFlowRefusals>, kFlowKinds> refusals_{};
  Timer warning_timer_;
  bool warning_window_open_ = false;
  std::uint64_t refused_in_window_ = 0;
  std::string last_reason_;
};

}  // namespace usernet
