#include "netstack/ssh/ssh_forward.hpp"

#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "netstack/base/owner_only_bind.hpp"
#include "netstack/base/unix_address.hpp"
#include "netstack/base/uv_handles.hpp"

namespace usernet {

namespace {

/// The sockaddr_un for a --forward-sock path; throws if the path does not fit.
sockaddr_un forward_sock_address(const std::string& path) {
  const auto address = unix_address(path);
  if (!address) throw std::runtime_error("--forward-sock '" + path + "': path too long");
  return *address;
}

/// True if `path` is a socket file nobody accepts on (left behind by a crashed daemon).
bool is_stale_socket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return false;
  const sockaddr_un sun = forward_sock_address(path);
  const bool refused =
      ::connect(probe, reinterpret_cast<const sockaddr*>(&sun), sizeof sun) != 0 && errno == ECONNREFUSED;
  ::close(probe);
  return refused;
}

/// A listening unix socket with mode 0600 from the start (bound under umask 0177, so there
/// is no moment where others could connect).
int open_listener(const std::string& path) {
  const sockaddr_un sun = forward_sock_address(path);
  if (is_stale_socket(path)) ::unlink(path.c_str());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  if (bind_owner_only(fd, reinterpret_cast<const sockaddr*>(&sun), sizeof sun) != 0 ||
      ::listen(fd, 128) != 0) {
    const std::string error = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("--forward-sock '" + path + "': " + error);
  }
  return fd;
}

}  // namespace

SshForward::SshForward(uv_loop_t* loop, PortForwarder& forwarder, SshForwardSpec spec)
    : forwarder_(forwarder), spec_(std::move(spec)) {
  if (ssh_pki_import_privkey_file(spec_.identity_file.c_str(), nullptr, nullptr, nullptr, &key_) != SSH_OK) {
    // libssh gives no reason: tell a missing or unreadable file from an unusable key.
    if (::access(spec_.identity_file.c_str(), R_OK) != 0)
      throw std::runtime_error("--forward-identity '" + spec_.identity_file + "': " + std::strerror(errno));
    throw std::runtime_error("--forward-identity '" + spec_.identity_file +
                             "': not a private key usernet can read (a key with a passphrase is not supported)");
  }
  try {
    listener_fd_ = open_listener(spec_.socket_path);
  } catch (...) {
    ssh_key_free(key_);
    throw;
  }
  async_ = new uv_async_t;
  uv_async_init(loop, async_, [](uv_async_t* handle) { static_cast<SshForward*>(handle->data)->connect_queued_dials(); });
  async_->data = this;
  session_ = std::make_unique<SshForwardSession>(spec_, key_, listener_fd_, [this] { return dial_guest(); }, stop_);
  spdlog::info("forwarding unix {} -> ssh {}@{}:{} {}", spec_.socket_path, spec_.user, format_ipv4(spec_.guest_ip),
               spec_.guest_port, spec_.dest_path);
}

void SshForward::start() {
  if (!worker_.joinable()) worker_ = std::thread([this] { session_->run(); });
}

SshForward::~SshForward() {
  stop_.request();
  if (worker_.joinable()) worker_.join();
  session_.reset();
  close_and_free(async_);
  for (const int fd : queued_dials_) ::close(fd);
  ::close(listener_fd_);
  ::unlink(spec_.socket_path.c_str());
  ssh_key_free(key_);
}

/// Worker thread: a socketpair whose far end the loop thread connects into the guest.
int SshForward::dial_guest() {
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) return -1;
  const int relay_end = ends[1];
  ::fcntl(relay_end, F_SETFL, O_NONBLOCK);
  {
    std::lock_guard lock(mutex_);
    queued_dials_.push_back(relay_end);
  }
  uv_async_send(async_);
  return ends[0];
}

/// Loop thread: hands the queued relay ends to the port forwarder.
void SshForward::connect_queued_dials() {
  std::vector<int> dials;
  {
    std::lock_guard lock(mutex_);
    dials.swap(queued_dials_);
  }
  for (const int fd : dials)
    forwarder_.connect_into_guest(fd, IpAddress::from_v4(spec_.guest_ip), spec_.guest_port, "ssh " + spec_.socket_path);
}

}  // namespace usernet
