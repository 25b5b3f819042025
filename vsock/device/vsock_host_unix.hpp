// Host side of the hybrid vsock mapping over unix sockets, on the libuv loop:
// - UnixHostStream: a connected non-blocking unix socket as a HostStream;
// - UnixHostConnector: guest connects to port P → connect to the socket mapped to P, else
//   to `<uds-path>_P`;
// - UnixHostListener: listens on `<uds-path>`, reads `CONNECT P\n` from each client and hands
//   the socket to the device, which connects it to the guest's listener on P.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "netstack/base/result.hpp"
#include "netstack/base/uv_handles.hpp"
#include "vsock/device/vsock_host_stream.hpp"

namespace usernet::vsock {

class UnixHostStream : public HostStream {
 public:
  /// Takes ownership of the connected socket `fd` (made non-blocking here).
  UnixHostStream(uv_loop_t* loop, int fd);
  ~UnixHostStream() override;

  long write(std::span<const std::uint8_t> bytes) override;
  long read(std::span<const std::span<std::uint8_t>> buffers) override;
  void shutdown_write() override;
  void watch(bool readable, bool writable) override;
  void set_ready_handler(ReadyHandler handler) override { handler_ = std::move(handler); }

 private:
  int fd_;
  PollWatcher poll_;
  ReadyHandler handler_;
};

class UnixHostConnector : public HostConnector {
 public:
  /// `port_sockets`: guest port → unix socket path (vfkit `listen` entries); ports not in it
  /// go to `<uds_path>_P`, or are refused when uds_path is empty.
  UnixHostConnector(uv_loop_t* loop, std::string uds_path,
                    std::map<std::uint32_t, std::string> port_sockets = {})
      : loop_(loop), uds_path_(std::move(uds_path)), port_sockets_(std::move(port_sockets)) {}
  std::unique_ptr<HostStream> connect(std::uint32_t port) override;

 private:
  uv_loop_t* loop_;
  std::string uds_path_;
  std::map<std::uint32_t, std::string> port_sockets_;
};

class UnixHostListener {
 public:
  /// Receives a client that asked for `port`; returns false if it could not be taken
  /// (the socket is then closed).
  using ConnectHandler = std::function<bool(std::uint32_t port, std::unique_ptr<HostStream>)>;

  UnixHostListener(uv_loop_t* loop, ConnectHandler handler);
  ~UnixHostListener();
  UnixHostListener(const UnixHostListener&) = delete;
  UnixHostListener& operator=(const UnixHostListener&) = delete;

  /// Listens on `path` (a stale socket file is replaced), or says why it cannot.
  Status listen(const std::string& path);

 private:
  struct Pending;
  void accept_clients();
  void read_command(int fd);
  void drop_pending(int fd);

  uv_loop_t* loop_;
  ConnectHandler handler_;
  int listen_fd_ = -1;
  std::string path_;
  std::unique_ptr<PollWatcher> watch_;
  std::unordered_map<int, std::unique_ptr<Pending>> pending_;
};

}  // namespace usernet::vsock
