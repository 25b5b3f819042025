// The worker side of an SSH forward: runs on its own thread with blocking libssh and
// owns everything it touches there (the host listener's accepts, the SSH session, its
// channels and their clients). It never calls lwIP: the TCP connection to the guest's
// sshd is requested through `dial` (see SshForward), which hands back a socket whose
// other end the loop thread relays into the virtual network.
//
// Life cycle: connect at start (up to kSshConnectTries tries with backoff, since the
// guest's sshd is usually not up yet), then serve: each accepted client becomes one
// direct-streamlocal channel over the one session. A lost session drops its clients
// and is reconnected; when all tries fail, waiting clients are closed and the next
// client starts a new round of tries.
#pragma once

#include <libssh/libssh.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "netstack/base/result.hpp"
#include "netstack/ssh/ssh_forward_channel.hpp"
#include "netstack/ssh/ssh_forward_spec.hpp"

namespace usernet {

/// Lets the owner's thread stop a worker that is in poll(), asleep between tries, or
/// blocked inside libssh on the guest transport.
class SshForwardStop {
 public:
  SshForwardStop();
  ~SshForwardStop();
  SshForwardStop(const SshForwardStop&) = delete;
  SshForwardStop& operator=(const SshForwardStop&) = delete;

  /// Any thread: marks the stop, wakes poll() and shuts the current transport down.
  void request();
  bool requested() const { return requested_.load(); }
  /// Readable once a stop was requested.
  int wake_fd() const { return wake_fd_; }
  /// Worker: the socket libssh is using now (-1: none). Clear it before closing it.
  void set_transport_fd(int fd);
  /// Worker: waits `ms`; false if a stop was requested meanwhile.
  bool sleep_ms(std::uint32_t ms) const;

 private:
  int wake_fd_;
  std::atomic<bool> requested_{false};
  std::mutex mutex_;
  int transport_fd_ = -1;
};

class SshForwardSession {
 public:
  /// Returns our end of a new stream towards the guest's sshd (connecting in the
  /// background), or -1. Called on the worker thread.
  using Dial = std::function<int()>;

  /// `key` stays owned by the caller and must outlive the session; `listener_fd` is the
  /// listening host socket (non-blocking), also still owned by the caller. `tries` per
  /// round of connection attempts (tests use fewer).
  SshForwardSession(const SshForwardSpec& spec, ssh_key key, int listener_fd, Dial dial, SshForwardStop& stop,
                    int tries = kSshConnectTries);
  ~SshForwardSession();
  SshForwardSession(const SshForwardSession&) = delete;
  SshForwardSession& operator=(const SshForwardSession&) = delete;

  /// The worker thread's body; returns once a stop is requested.
  void run();

 private:
  bool connected() const { return session_ != nullptr; }
  bool connect_with_retries();
  Status connect_once();
  void disconnect();
  bool serve_once();
  bool accept_clients();
  bool open_channel(int client_fd);
  void reject_waiting_clients();
  bool listener_has_client() const;

  const SshForwardSpec& spec_;
  ssh_key key_;
  int listener_fd_;
  Dial dial_;
  SshForwardStop& stop_;
  int tries_;
  std::string label_;
  ssh_session session_ = nullptr;
  ssh_event event_ = nullptr;
  int transport_fd_ = -1;
  std::vector<std::unique_ptr<SshForwardChannel>> channels_;
};

}  // namespace usernet
