// The socket side of slirp4netns's API (usernetd --slirp4netns-api PATH): a unix stream
// listener whose clients each send one request, read one reply and are closed. A request
// ends when the client shuts its side down (podman, RootlessKit) or when the bytes so far
// are a whole JSON document (a client that waits for the reply first, which slirp4netns's
// single read also serves); a silent client is closed after a few seconds.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "netstack/api/slirp4netns_api.hpp"
#include "netstack/base/result.hpp"
#include "netstack/base/uv_handles.hpp"

namespace usernet {

class Slirp4netnsApiServer {
 public:
  /// Binds `path` (an old socket file there is replaced; mode 0600) and serves `api`.
  static Result<std::unique_ptr<Slirp4netnsApiServer>> listen(uv_loop_t* loop, const std::string& path,
                                                               std::unique_ptr<Slirp4netnsApi> api);
  /// Closes every connection and removes the socket file.
  ~Slirp4netnsApiServer();
  Slirp4netnsApiServer(const Slirp4netnsApiServer&) = delete;
  Slirp4netnsApiServer& operator=(const Slirp4netnsApiServer&) = delete;

  std::uint64_t requests() const { return requests_; }

 private:
  class Client;
  Slirp4netnsApiServer(uv_loop_t* loop, std::string path, int listen_fd, std::unique_ptr<Slirp4netnsApi> api);
  void on_acceptable();
  void finish(Client* client);

  uv_loop_t* loop_;
  std::string path_;
  std::unique_ptr<Slirp4netnsApi> api_;
  std::unique_ptr<WatchedSocket> listener_;
  std::vector<std::unique_ptr<Client>> clients_;
  /// Clients done inside their own callbacks: destroyed on the next loop turn.
  std::vector<std::unique_ptr<Client>> finished_;
  Timer reaper_;
  std::uint64_t requests_ = 0;
};

}  // namespace usernet
