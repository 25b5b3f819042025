// What the forwarder routes' requests mean (POST /services/forwarder/expose, /unexpose),
// read the way gvproxy reads them: the body decoded as Go's encoding/json would, `remote`
// completed with the calling guest's address, every field checked in gvproxy's order with
// its status codes (400 for a request it cannot read, 500 for one it cannot carry out) and
// wording close to its own. The guest's rights are usernet's: see GuestExposePolicy.
// No sockets here: the routes act on the ForwardSpec these functions return.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "netstack/base/http_message.hpp"
#include "netstack/services/forward_spec.hpp"

namespace usernet {

/// An answer other than 200: its status and one-line text.
struct HttpError : std::runtime_error {
  HttpError(unsigned status_code, const std::string& message) : std::runtime_error(message), status(status_code) {}
  unsigned status;
};

/// What a guest may expose through the in-guest API on the gateway's port 80.
enum class GuestExposePolicy {
  refused,        // usernetd's default: 403
  loopback_only,  // only on the host's 127.0.0.1 (":P" included)
  any_address,    // every address, as gvproxy (its default)
};

/// How `local` reads. usernetd: ":P" is 127.0.0.1:P and a forward's name is its
/// canonical address. gvproxy: ":P" is every address (Go's net.Listen) and the name is
/// the text as given.
enum class LocalAddressMeaning { loopback_default, gvproxy };

struct ExposeRules {
  LocalAddressMeaning local_meaning = LocalAddressMeaning::loopback_default;
  GuestExposePolicy guest_policy = GuestExposePolicy::refused;
};

/// The fields of gvproxy's ExposeRequest / UnexposeRequest; protocol defaults to "tcp".
struct ExposeFields {
  std::string local;
  std::string remote;
  std::string protocol;
};

/// Decodes a request body as Go's json.Decoder would into gvproxy's `go_type` (e.g.
/// "ExposeRequest"); HttpError 400 with Go's message when it cannot.
ExposeFields decode_expose_fields(std::string_view body, std::string_view go_type);

/// Go's net.SplitHostPort: {host, port}, or HttpError 400 with Go's message.
std::pair<std::string, std::string> split_host_port(std::string_view address);

/// Go's strconv.ParseUint(text, 10, 16): the port, or HttpError 500 with Go's message.
std::uint16_t parse_go_port(const std::string& text);

/// 403 when the caller is a guest and guests may not expose or unexpose.
void check_guest_may_expose(const ApiCaller& caller, const ExposeRules& rules);

/// `remote` of a tcp/udp expose as gvproxy completes it: HOST:PORT as given, or ":PORT"
/// with the calling guest's address. HttpError 400 when it is not HOST:PORT, or has no host
/// and the caller is not a guest.
std::string complete_remote(const std::string& remote, const ApiCaller& caller);

/// The name a forward goes by in the API (duplicate check, unexpose, /all).
std::string forward_name(ForwardProtocol protocol, const std::string& local, const ExposeRules& rules);

/// The forward an expose asks for, `remote` already completed. HttpError 500 with gvproxy's
/// message for an unknown protocol or an unusable local or remote; 403 when a guest asks
/// for more than its policy allows.
ForwardSpec build_exposed_forward(const ExposeFields& request, const ApiCaller& caller, const ExposeRules& rules);

/// 403 when a guest asks to unexpose a forward it did not expose through its own API.
void check_guest_may_unexpose(const ForwardSpec& forward, const ApiCaller& caller);

}  // namespace usernet
