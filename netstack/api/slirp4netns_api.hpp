// slirp4netns's API protocol (its --api-socket), as rootless podman and RootlessKit speak
// it: one JSON request per connection, {"execute": NAME, "arguments": {...}}, one compact
// JSON reply without a newline. The commands manage host port forwards:
//   add_hostfwd    {proto, host_addr, host_port, guest_addr, guest_port} -> {"return":{"id":N}}
//   list_hostfwd   -> {"entries":[{id, proto, host_addr, host_port, guest_addr, guest_port}...]}
//                     (slirp4netns 1.2.0 replies without the "return" its manual shows)
//   remove_hostfwd {id} -> {"return":{}}
// Errors are {"error":{"desc":"bad request: ..."}} with slirp4netns's sentences. This file
// is the pure engine (bytes in, bytes out); the socket side is slirp4netns_api_server.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "netstack/base/ipv4.hpp"
#include "netstack/base/result.hpp"
#include "netstack/services/forward_spec.hpp"

namespace usernet {

/// A request of at most this many bytes; slirp4netns reads 4096 and refuses a full read.
inline constexpr std::size_t kSlirp4netnsMaxRequest = 4095;

/// Opens and closes the host side of a forward (the PortForwarder, or a test double).
struct HostForwardBackend {
  std::function<Status(const ForwardSpec&)> add;
  std::function<void(const ForwardSpec&)> remove;
};

class Slirp4netnsApi {
 public:
  /// `default_guest`: where forwards go when guest_addr is absent or "" (slirp4netns's
  /// network + 100, the address -c configures; podman always sends "").
  Slirp4netnsApi(HostForwardBackend backend, Ipv4 default_guest);

  /// Answers one request (the bytes the client sent before closing its side).
  std::string answer(std::string_view request);
  /// The reply to a request longer than kSlirp4netnsMaxRequest.
  static std::string too_large();
  std::size_t forward_count() const { return forwards_.size(); }

 private:
  std::string add_hostfwd(const nlohmann::json& arguments);
  std::string list_hostfwd() const;
  std::string remove_hostfwd(const nlohmann::json& arguments);

  HostForwardBackend backend_;
  Ipv4 default_guest_;
  std::map<std::uint64_t, ForwardSpec> forwards_;  // by id; ids are never reused
  std::uint64_t next_id_ = 1;
};

}  // namespace usernet
