#include "netstack/nat/flow_limits.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace usernet {

namespace {
constexpr std::uint64_t kWarningIntervalMs = 10000;
constexpr const char* kKindNames[] = {"tcp", "half-open tcp", "udp", "icmp echo"};
constexpr const char* kFlagNames[] = {"--max-tcp-flows", "--max-half-open", "--max-udp-flows", "--max-icmp-flows"};

std::size_t index(FlowKind kind) { return static_cast<std::size_t>(kind); }

/// Fills in the caps left at 0 from the fds guest flows may use (F): every TCP flow
/// holds one fd, so TCP may use all of F; UDP flows are cheap to reopen and evicted
/// oldest first, so they get a small share; echo flows (one ping socket each) a smaller one.
FlowCaps sized_caps(FlowCaps caps, std::uint64_t for_flows) {
  const std::uint64_t f = std::max<std::uint64_t>(for_flows, 16);
  auto fill = [](std::uint64_t& value, std::uint64_t fallback) {
    if (value == 0) value = std::max<std::uint64_t>(fallback, 1);
  };
  fill(caps.tcp, f);
  fill(caps.tcp_per_guest, caps.tcp * 3 / 4);
  fill(caps.half_open, std::min<std::uint64_t>(f / 2, 4096));
  fill(caps.half_open_per_guest, std::min<std::uint64_t>(caps.half_open / 2, 1024));
  fill(caps.udp, std::min<std::uint64_t>(f / 4, 4096));
  fill(caps.udp_per_guest, std::min<std::uint64_t>(caps.udp, 1024));
  fill(caps.icmp, std::min<std::uint64_t>(f / 8, 1024));
  fill(caps.icmp_per_guest, std::min<std::uint64_t>(caps.icmp, 256));
  return caps;
}
}  // namespace

FlowSlot& FlowSlot::operator=(FlowSlot&& other) noexcept {
  if (this != &other) {
    release();
    limits_ = other.limits_;
    kind_ = other.kind_;
    guest_ = other.guest_;
    holds_fd_ = other.holds_fd_;
    other.limits_ = nullptr;
  }
  return *this;
}

void FlowSlot::release() {
  if (limits_ == nullptr) return;
  limits_->release(*this);
  limits_ = nullptr;
}

FlowLimits::FlowLimits(uv_loop_t* loop, FdBudget budget, const FlowCaps& caps)
    : budget_(budget), caps_(sized_caps(caps, budget.for_flows())),
      warning_timer_(loop, [this] { on_warning_interval(); }) {
  warning_timer_.unref();
  spdlog::info("NAT flow caps: tcp {} ({} per guest), half-open {} ({} per guest), udp {} ({} per guest), "
               "icmp echo {} ({} per guest); {} of {} fds for guest flows",
               caps_.tcp, caps_.tcp_per_guest, caps_.half_open, caps_.half_open_per_guest, caps_.udp,
               caps_.udp_per_guest, caps_.icmp, caps_.icmp_per_guest, budget_.for_flows(), budget_.limit());
}

std::uint64_t FlowLimits::active(FlowKind kind, const IpAddress& guest) const {
  auto it = per_guest_.find(guest);
  return it == per_guest_.end() ? 0 : it->second[index(kind)];
}

FlowSlot FlowLimits::acquire(FlowKind kind, const IpAddress& guest, bool needs_fd, FlowRefusal& refusal) {
  const std::uint64_t total_cap[] = {caps_.tcp, caps_.half_open, caps_.udp, caps_.icmp};
  const std::uint64_t guest_cap[] = {caps_.tcp_per_guest, caps_.half_open_per_guest, caps_.udp_per_guest,
                                     caps_.icmp_per_guest};
  refusal = FlowRefusal::none;
  if (active(kind, guest) >= guest_cap[index(kind)]) refusal = FlowRefusal::guest_limit;
  else if (totals_[index(kind)] >= total_cap[index(kind)]) refusal = FlowRefusal::total_limit;
  else if (needs_fd && !budget_.take()) refusal = FlowRefusal::no_fds;
  if (refusal != FlowRefusal::none) return {};
  totals_[index(kind)]++;
  per_guest_[guest][index(kind)]++;
  FlowSlot slot;
  slot.limits_ = this;
  slot.kind_ = kind;
  slot.guest_ = guest;
  slot.holds_fd_ = needs_fd;
  return slot;
}

void FlowLimits::release(const FlowSlot& slot) {
  if (slot.holds_fd_) budget_.give_back();
  totals_[index(slot.kind_)]--;
  auto it = per_guest_.find(slot.guest_);
  if (it == per_guest_.end()) return;
  it->second[index(slot.kind_)]--;
  if (it->second == Counts{}) per_guest_.erase(it);
}

std::string FlowLimits::describe(FlowKind kind, FlowRefusal reason, const IpAddress& guest) const {
  const std::string what = std::string(kKindNames[index(kind)]) + " flow of " + guest.to_string() + " refused: ";
  switch (reason) {
    case FlowRefusal::no_fds:
      return what + "no file descriptor left for guest flows (limit " + std::to_string(budget_.limit()) + ", " +
             std::to_string(budget_.reserve()) + " kept for the API, DNS and new guests)";
    case FlowRefusal::guest_limit: {
      const std::uint64_t caps[] = {caps_.tcp_per_guest, caps_.half_open_per_guest, caps_.udp_per_guest,
                                    caps_.icmp_per_guest};
      return what + "guest at " + kFlagNames[index(kind)] + "-per-guest=" + std::to_string(caps[index(kind)]);
    }
    case FlowRefusal::total_limit: {
      const std::uint64_t caps[] = {caps_.tcp, caps_.half_open, caps_.udp, caps_.icmp};
      return what + "all guests together at " + kFlagNames[index(kind)] + "=" + std::to_string(caps[index(kind)]);
    }
    case FlowRefusal::none:
      break;
  }
  return what;
}

void FlowLimits::refused(FlowKind kind, FlowRefusal reason, const IpAddress& guest) {
  refusals_[index(kind)][static_cast<std::size_t>(reason)]++;
  last_reason_ = describe(kind, reason, guest);
  if (warning_window_open_) {
    refused_in_window_++;
    return;
  }
  spdlog::warn("{}", last_reason_);
  warning_window_open_ = true;
  refused_in_window_ = 0;
  warning_timer_.start(kWarningIntervalMs);
}

void FlowLimits::on_warning_interval() {
  if (refused_in_window_ == 0) {
    warning_window_open_ = false;
    return;
  }
  spdlog::warn("{} more flows refused in the last {} s; latest: {}", refused_in_window_, kWarningIntervalMs / 1000,
               last_reason_);
  refused_in_window_ = 0;
  warning_timer_.start(kWarningIntervalMs);
}

}  // namespace usernet
