#include <doctest/doctest.h>

#include "hypervisor/rest_api.hpp"
#include "hypervisor/rest_server.hpp"

using namespace usernet;

namespace {
RestOutcome call(VmStateMachine& machine, const char* method, const char* target, std::string body = {}) {
  return handle_rest_request(RestRequest{method, target, std::move(body)}, machine, nlohmann::json{{"cpus", 1}});
}

nlohmann::json json_of(const RestOutcome& outcome) { return nlohmann::json::parse(outcome.response.body); }
}  // namespace

TEST_CASE("GET /vm/state reports vfkit's state names and capabilities") {
  VmStateMachine machine;
  machine.on_qmp_ready(true);
  const auto outcome = call(machine, "GET", "/vm/state");
  CHECK(outcome.response.status == 200);
  CHECK(outcome.response.content_type == "application/json");
  const auto body = json_of(outcome);
  CHECK(body["state"] == "VirtualMachineStateRunning");
  CHECK(body["canPause"] == true);
  CHECK(body["canResume"] == false);
  CHECK(body["canStop"] == true);
  CHECK(body["canHardStop"] == true);
  CHECK(body["canStart"] == false);
  CHECK_FALSE(outcome.change);
}

TEST_CASE("POST /vm/state: Pause, Resume and Stop go through the state machine") {
  VmStateMachine machine;
  machine.on_qmp_ready(true);
  auto pause = call(machine, "POST", "/vm/state", R"({"state":"Pause"})");
  CHECK(pause.response.status == 202);
  REQUIRE(pause.change);
  CHECK(*pause.change == StateChange::pause);
  CHECK(qmp_command_for(*pause.change) == "stop");
  CHECK(machine.state() == VmState::pausing);
  machine.on_event("STOP");
  CHECK(json_of(call(machine, "GET", "/vm/state"))["state"] == "VirtualMachineStatePaused");

  // Pausing twice is refused without a command.
  auto again = call(machine, "POST", "/vm/state", R"({"state":"Pause"})");
  CHECK(again.response.status == 409);
  CHECK_FALSE(again.change);

  auto resume = call(machine, "POST", "/vm/state", R"({"state":"Resume"})");
  REQUIRE(resume.change);
  CHECK(qmp_command_for(*resume.change) == "cont");
  machine.on_event("RESUME");
  auto stop = call(machine, "POST", "/vm/state", R"({"state":"Stop"})");
  REQUIRE(stop.change);
  CHECK(qmp_command_for(*stop.change) == "system_powerdown");
}

TEST_CASE("bad requests are answered, never acted on") {
  VmStateMachine machine;
  machine.on_qmp_ready(true);
  for (const char* body : {"", "not json", "[]", R"({"state":1})", R"({"state":"Explode"})", R"({"other":"Pause"})"}) {
    CAPTURE(body);
    const auto outcome = call(machine, "POST", "/vm/state", body);
    CHECK(outcome.response.status == 400);
    CHECK_FALSE(outcome.change);
  }
  CHECK(machine.state() == VmState::running);
  CHECK(call(machine, "DELETE", "/vm/state").response.status == 405);
  CHECK(call(machine, "GET", "/nope").response.status == 404);
  const auto inspect = call(machine, "GET", "/vm/inspect?x=1");
  CHECK(inspect.response.status == 200);
  CHECK(json_of(inspect)["cpus"] == 1);
}

TEST_CASE("describe_vm lists every device") {
  VmConfig config;
  config.cpus = 2;
  config.memory_mib = 128;
  VirtioNet net;
  net.mac = MacAddress{0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee};
  config.devices.push_back(net);
  config.devices.push_back(VirtioNet{std::nullopt, UnixgramNet{"/run/gv.sock", false}});
  config.devices.push_back(Disk{"/d.img", true, "root", BlockType::image});
  config.devices.push_back(SerialPort{SerialBus::isa, SerialOutput::stdio, ""});
  const auto inspect = describe_vm(config);
  CHECK(inspect["cpus"] == 2);
  CHECK(inspect["memory"] == 128);
  REQUIRE(inspect["devices"].size() == 4);
  CHECK(inspect["devices"][0]["macAddress"] == "5a:94:ef:e4:0c:ee");
  CHECK(inspect["devices"][0]["attachment"] == "usernet");
  CHECK(inspect["devices"][1]["unixSocketPath"] == "/run/gv.sock");
  CHECK(inspect["devices"][1]["vfkitMagic"] == false);
  CHECK(inspect["devices"][2]["readOnly"] == true);
  CHECK(inspect["devices"][3]["kind"] == "serial");
}

TEST_CASE("inspect: ptyName of pty serial ports from QMP query-chardev, bad entries ignored") {
  VmConfig config;
  config.devices.push_back(SerialPort{SerialBus::isa, SerialOutput::stdio, ""});     // serial0
  config.devices.push_back(SerialPort{SerialBus::virtio, SerialOutput::log_file, "/l"});  // console0
  config.devices.push_back(VirtioRng{});
  config.devices.push_back(SerialPort{SerialBus::virtio, SerialOutput::pty, ""});    // console1
  config.devices.push_back(SerialPort{SerialBus::isa, SerialOutput::pty, ""});       // serial1
  auto inspect = describe_vm(config);
  const auto chardevs = nlohmann::json::parse(R"([
    {"label": "qmp", "filename": "unix:/run/q.sock,server=on"},
    {"label": "console1", "filename": "pty:/dev/pts/7", "frontend-open": true},
    {"label": "serial1", "filename": "pty:/dev/pts/9"},
    {"label": "serial0", "filename": "stdio"},
    {"label": 5, "filename": "pty:/dev/pts/1"},
    {"label": "console0", "filename": ["pty:/dev/pts/2"]},
    "junk"
  ])");
  add_pty_names(inspect, config, chardevs);
  CHECK(inspect["devices"][3]["ptyName"] == "/dev/pts/7");
  CHECK(inspect["devices"][4]["ptyName"] == "/dev/pts/9");
  CHECK_FALSE(inspect["devices"][0].contains("ptyName"));
  CHECK_FALSE(inspect["devices"][1].contains("ptyName"));
  add_pty_names(inspect, config, nlohmann::json::object());  // not an array: nothing changes
  CHECK(inspect["devices"][3]["ptyName"] == "/dev/pts/7");
}

TEST_CASE("responses are serialised with length and Connection: close") {
  const auto text = serialize_rest_response(RestResponse{202, "application/json", "{}\n"});
  CHECK(text.starts_with("HTTP/1.1 202 Accepted\r\n"));
  CHECK(text.find("Content-Length: 3\r\n") != std::string::npos);
  CHECK(text.find("Connection: close\r\n\r\n{}\n") != std::string::npos);
}
