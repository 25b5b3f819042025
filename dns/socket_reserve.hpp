// A few file descriptors kept aside for DNS forwarding alone. When guest flows exhaust the
// process's descriptors (EMFILE/ENFILE), c-ares' next socket() would fail and every
// forwarded query would become SERVFAIL; instead one reserved descriptor is given up so the
// socket can open, and the reserve is refilled when sockets close. Private to DNS: the
// process-wide budget (netstack/fd_budget.*) knows nothing of these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace usernet::dns {

class SocketReserve {
 public:
  explicit SocketReserve(std::size_t size);
  ~SocketReserve();
  SocketReserve(const SocketReserve&) = delete;
  SocketReserve& operator=(const SocketReserve&) = delete;

  /// socket(2), non-blocking and close-on-exec; on EMFILE/ENFILE it frees one reserved
  /// descriptor and tries again. -1 with errno set when that fails too.
  int open_socket(int domain, int type, int protocol);
  /// close(2), then tops the reserve up again.
  int close_socket(int fd);

  std::size_t held() const { return held_.size(); }
  /// Sockets that opened only because the reserve gave up a descriptor.
  std::uint64_t rescues() const { return rescues_; }

 private:
  void refill();

  std::size_t size_;
  std::vector<int> held_;  // descriptors on /dev/null, closed one at a time when needed
  std::uint64_t rescues_ = 0;
};

}  // namespace usernet::dns
