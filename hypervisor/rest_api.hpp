// vfkit's REST API as pure code: request in, response (and maybe a QMP command) out.
//   GET  /vm/state   -> {"state", "canStart", "canPause", "canResume", "canStop", "canHardStop"}
//   POST /vm/state   {"state": "Pause"|"Resume"|"Stop"|"HardStop"} -> 202 + the new state,
//                    400 for a bad body, 409 when the VM's state does not allow it
//   GET  /vm/inspect -> {"cpus", "memory", "devices": [...]} (see describe_vm)
// The HTTP server (rest_server.hpp) feeds it; the launcher sends the returned QMP command.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "hypervisor/vm_config.hpp"
#include "hypervisor/vm_state.hpp"

namespace usernet {

struct RestRequest {
  std::string method;
  std::string target;  // path, optionally with ?query
  std::string body;
};

struct RestResponse {
  unsigned status = 404;
  std::string content_type = "text/plain";
  std::string body = "404 page not found\n";
};

struct RestOutcome {
  RestResponse response;
  /// A state change the request asked for and the state machine accepted; the caller
  /// sends qmp_command_for(*change) and reports failure back to the state machine.
  std::optional<StateChange> change;
};

/// Answers one request against the VM's state; a POST /vm/state that is allowed moves
/// the state machine to its transitional state.
RestOutcome handle_rest_request(const RestRequest& request, VmStateMachine& state, const nlohmann::json& inspect);

/// The /vm/state body for a state.
nlohmann::json describe_state(VmState state);

/// The /vm/inspect body: CPUs, memory (MiB) and one object per device (vfkit-like kinds).
nlohmann::json describe_vm(const VmConfig& config);

/// Sets "ptyName" (vfkit's key) on each pty serial device of `inspect` (made by
/// describe_vm from `config`) from QMP query-chardev's answer, whose entries carry the
/// chardev label and "filename": "pty:/dev/pts/N". Entries that do not fit are ignored.
void add_pty_names(nlohmann::json& inspect, const VmConfig& config, const nlohmann::json& chardevs);

}  // namespace usernet
