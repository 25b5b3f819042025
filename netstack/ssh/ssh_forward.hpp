// usernetd's SSH unix-socket forwards (gvproxy's -forward-sock & co.): for each spec a
// host unix socket (mode 0600) whose connections reach a guest unix socket through one
// SSH connection to the guest's sshd.
//
// Threads: libssh runs blocking on one worker thread per forward (SshForwardSession).
// The worker never touches lwIP; when it needs a TCP connection to the guest's sshd it
// makes a socketpair, keeps one end for libssh and queues the other for the loop thread
// (uv_async_t), which connects it into the guest with PortForwarder::connect_into_guest
// and relays it like any port forward (entering from the gateway's address).
#pragma once

#include <libssh/libssh.h>
#include <uv.h>

#include <mutex>
#include <thread>
#include <vector>

#include "netstack/services/port_forwarder.hpp"
#include "netstack/ssh/ssh_forward_session.hpp"
#include "netstack/ssh/ssh_forward_spec.hpp"

namespace usernet {

class SshForward {
 public:
  /// Loads the identity and opens the host socket (replacing a stale socket file nobody
  /// listens on). Throws std::runtime_error with a clear message.
  SshForward(uv_loop_t* loop, PortForwarder& forwarder, SshForwardSpec spec);
  /// Starts the worker thread that connects and serves; separate from construction so
  /// that the daemon's sandbox, which must see one thread, can come in between.
  void start();
  /// Stops the worker (interrupting any blocking libssh call), closes and removes the socket.
  ~SshForward();
  SshForward(const SshForward&) = delete;
  SshForward& operator=(const SshForward&) = delete;

  const SshForwardSpec& spec() const { return spec_; }

 private:
  int dial_guest();
  void connect_queued_dials();

  PortForwarder& forwarder_;
  SshForwardSpec spec_;
  ssh_key key_ = nullptr;
  int listener_fd_ = -1;
  uv_async_t* async_ = nullptr;
  std::mutex mutex_;
  std::vector<int> queued_dials_;  // relay ends waiting for the loop thread
  SshForwardStop stop_;
  std::unique_ptr<SshForwardSession> session_;
  std::thread worker_;
};

}  // namespace usernet
