#include "hypervisor/rest_api.hpp"

#include <type_traits>

#include "hypervisor/qemu_argv.hpp"

namespace usernet {

namespace {

/// A JSON response with a status.
RestResponse json_response(unsigned status, const nlohmann::json& body) {
  return RestResponse{status, "application/json", body.dump() + "\n"};
}

/// A plain-text error (vfkit and gvproxy answer errors as text).
RestResponse text_response(unsigned status, std::string message) {
  return RestResponse{status, "text/plain", std::move(message) + "\n"};
}

/// The path of a request target, without ?query.
std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

/// POST /vm/state: validates the body and asks the state machine.
RestOutcome change_state(const RestRequest& request, VmStateMachine& state) {
  const auto body = nlohmann::json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("state") || !body["state"].is_string()) {
    return {text_response(400, R"(body must be {"state": "Pause"|"Resume"|"Stop"|"HardStop"})"), std::nullopt};
  }
  const auto& name = body["state"].get_ref<const std::string&>();
  const auto change = parse_state_change(name);
  if (!change) return {text_response(400, "unknown state '" + name + "'"), std::nullopt};
  if (!state.request(*change)) {
    return {text_response(409, "cannot " + name + " a VM in state " + std::string(vm_state_name(state.state()))),
            std::nullopt};
  }
  return {json_response(202, describe_state(state.state())), change};
}

/// One /vm/inspect entry per device type.
nlohmann::json describe_device(const VirtioNet& net) {
  nlohmann::json out{{"kind", "virtio-net"}};
  if (net.mac) out["macAddress"] = format_mac(*net.mac);
  std::visit(
      [&out](const auto& attachment) {
        using T = std::decay_t<decltype(attachment)>;
        if constexpr (std::is_same_v<T, EmbeddedNet>) {
          out["attachment"] = "usernet";
          out["transport"] = attachment.socket == EmbeddedSocket::stream ? "stream" : "dgram";
        } else if constexpr (std::is_same_v<T, UnixgramNet>) {
          out["attachment"] = "unixgram";
          out["unixSocketPath"] = attachment.path;
          out["vfkitMagic"] = attachment.vfkit_magic;
        } else if constexpr (std::is_same_v<T, NatNet>) {
          out["attachment"] = "nat";
        } else {
          out["attachment"] = "fd";
          out["fd"] = attachment.fd;
        }
      },
      net.attachment);
  return out;
}
nlohmann::json describe_device(const VirtioVsock& vsock) {
  return {{"kind", "virtio-vsock"}, {"port", vsock.port}, {"socketURL", vsock.socket_url},
          {"listen", vsock.direction == VsockDirection::listen}};
}
nlohmann::json describe_device(const Disk& disk) {
  nlohmann::json out{{"kind", disk_type_name(disk.bus)}, {"path", disk.path}, {"readOnly", disk.readonly}};
  if (disk.bus == DiskBus::virtio) out["deviceId"] = disk.device_id;
  return out;
}
nlohmann::json describe_device(const SerialPort& serial) {
  nlohmann::json out{{"kind", serial.bus == SerialBus::virtio ? "virtio-serial" : "serial"}};
  switch (serial.output) {
    case SerialOutput::stdio: out["usesStdio"] = true; break;
    case SerialOutput::pty: out["usesPty"] = true; break;
    case SerialOutput::log_file: out["logFile"] = serial.log_file; break;
  }
  return out;
}
nlohmann::json describe_device(const VirtioRng&) { return {{"kind", "virtio-rng"}}; }
nlohmann::json describe_device(const VirtioBalloon&) { return {{"kind", "virtio-balloon"}}; }
nlohmann::json describe_device(const VirtioGpu& gpu) {
  return {{"kind", "virtio-gpu"}, {"width", gpu.width}, {"height", gpu.height}};
}
nlohmann::json describe_device(const VirtioInput& input) {
  return {{"kind", "virtio-input"}, {"inputType", input.kind == InputKind::pointing ? "pointing" : "keyboard"}};
}
nlohmann::json describe_device(const VirtioFs& fs) {
  return {{"kind", "virtio-fs"}, {"sharedDir", fs.shared_dir}, {"mountTag", fs.mount_tag}};
}

}  // namespace

nlohmann::json describe_state(VmState state) {
  const VmCapabilities caps = vm_capabilities(state);
  return {{"state", vm_state_name(state)},     {"canStart", caps.can_start},
          {"canPause", caps.can_pause},        {"canResume", caps.can_resume},
          {"canStop", caps.can_stop},          {"canHardStop", caps.can_hard_stop}};
}

nlohmann::json describe_vm(const VmConfig& config) {
  nlohmann::json devices = nlohmann::json::array();
  for (const Device& device : config.devices) {
    devices.push_back(std::visit([](const auto& d) { return describe_device(d); }, device));
  }
  return {{"cpus", config.cpus}, {"memory", config.memory_mib}, {"devices", devices}};
}

void add_pty_names(nlohmann::json& inspect, const VmConfig& config, const nlohmann::json& chardevs) {
  if (!chardevs.is_array() || !inspect.contains("devices") || !inspect["devices"].is_array()) return;
  auto& devices = inspect["devices"];
  std::size_t on_bus[2] = {0, 0};  // serial ports seen so far per bus: virtio, isa
  for (std::size_t i = 0; i < config.devices.size() && i < devices.size(); ++i) {
    const auto* serial = std::get_if<SerialPort>(&config.devices[i]);
    if (serial == nullptr) continue;
    const std::string label = serial_chardev_id(serial->bus, on_bus[serial->bus == SerialBus::isa]++);
    if (serial->output != SerialOutput::pty) continue;
    for (const auto& chardev : chardevs) {
      if (!chardev.is_object()) continue;
      const auto found_label = chardev.find("label");
      const auto filename = chardev.find("filename");
      if (found_label == chardev.end() || !found_label->is_string() || *found_label != label) continue;
      if (filename == chardev.end() || !filename->is_string()) continue;
      const auto& name = filename->get_ref<const std::string&>();
      if (name.starts_with("pty:")) devices[i]["ptyName"] = name.substr(4);
    }
  }
}

RestOutcome handle_rest_request(const RestRequest& request, VmStateMachine& state, const nlohmann::json& inspect) {
  const std::string_view path = path_of(request.target);
  if (path == "/vm/state") {
    if (request.method == "GET") return {json_response(200, describe_state(state.state())), std::nullopt};
    if (request.method == "POST") return change_state(request, state);
    return {text_response(405, "method not allowed"), std::nullopt};
  }
  if (path == "/vm/inspect") {
    if (request.method == "GET") return {json_response(200, inspect), std::nullopt};
    return {text_response(405, "method not allowed"), std::nullopt};
  }
  return {RestResponse{}, std::nullopt};
}

}  // namespace usernet
