// Arbitrary text into usernet-vm's user-facing parsers: --device and --bootloader strings,
// whole command lines, REST requests against a live state machine, QMP lines, and
// query-chardev answers for the inspect document. Every call must return or throw a
// ConfigError; nothing may crash, and the state machine must stay in a named state.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/config_error.hpp"
#include "hypervisor/device_parser.hpp"
#include "hypervisor/qmp_protocol.hpp"
#include "hypervisor/rest_api.hpp"
#include "hypervisor/vm_options.hpp"
#include "hypervisor/vm_state.hpp"
#include "tests/fuzz/fuzz_text.hpp"

using namespace usernet;

namespace {

/// A config with every kind of serial port, for the ptyName matching.
VmConfig serial_config() {
  VmConfig config;
  config.devices.push_back(SerialPort{SerialBus::isa, SerialOutput::pty, ""});
  config.devices.push_back(SerialPort{SerialBus::virtio, SerialOutput::pty, ""});
  config.devices.push_back(VirtioRng{});
  return config;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0:
      try {
        parse_device(text);
      } catch (const ConfigError&) {
      }
      break;
    case 1:
      try {
        parse_bootloader(text);
      } catch (const ConfigError&) {
      }
      break;
    case 2: {
      auto words = fuzz::split_lines(text);
      std::vector<const char*> argv{"usernet-vm"};
      for (const auto& word : words) argv.push_back(word.c_str());
      const auto parsed = parse_vm_options(static_cast<int>(argv.size()), argv.data());
      if (parsed.action == ParsedVmOptions::Action::fail && parsed.message.empty()) __builtin_trap();
      break;
    }
    case 3: {
      // Requests of one fuzzed "session": method, target, body per three lines.
      VmStateMachine machine;
      machine.on_qmp_ready(true);
      const auto words = fuzz::split_lines(text);
      const nlohmann::json inspect = describe_vm(serial_config());
      for (std::size_t i = 0; i < words.size(); i += 3) {
        RestRequest request{words[i], i + 1 < words.size() ? words[i + 1] : "/vm/state",
                            i + 2 < words.size() ? words[i + 2] : ""};
        const auto outcome = handle_rest_request(request, machine, inspect);
        if (outcome.response.status < 200 || outcome.response.status > 599) __builtin_trap();
        if (outcome.change) machine.on_request_failed(*outcome.change);
        if (vm_state_name(machine.state()).empty()) __builtin_trap();
      }
      break;
    }
    case 4: {
      const auto message = parse_qmp_message(text);
      VmStateMachine machine;
      machine.on_qmp_ready(false);
      machine.on_event(message.event, message.error_description);
      break;
    }
    case 5: {
      const auto chardevs = nlohmann::json::parse(text, nullptr, false);
      auto inspect = describe_vm(serial_config());
      add_pty_names(inspect, serial_config(), chardevs);
      break;
    }
  }
  return 0;
}
