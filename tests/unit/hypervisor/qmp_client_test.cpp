#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "hypervisor/qmp_client.hpp"

using namespace usernet;

namespace {

/// A fake QEMU: the other end of the client's socket, driven by the test.
struct FakeQemu {
  int fd = -1;
  std::string received;

  /// Writes raw bytes to the client.
  void send(const std::string& bytes) const { REQUIRE(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size())); }
  /// Drains what the client wrote so far (non-blocking).
  void pump() {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) received.append(buf, static_cast<std::size_t>(n));
  }
  /// The complete lines the client sent, parsed.
  std::vector<nlohmann::json> commands() const {
    std::vector<nlohmann::json> out;
    QmpLineSplitter splitter;
    for (const auto& line : splitter.feed(received)) out.push_back(nlohmann::json::parse(line));
    return out;
  }
};

/// Runs the loop until done() or about 2 s have passed; returns whether done() became true
/// (done() is not called again after that: it may have side effects).
bool run_until(uv_loop_t* loop, FakeQemu* qemu, const std::function<bool()>& done) {
  for (int i = 0; i < 400; ++i) {
    if (done()) return true;
    uv_run(loop, UV_RUN_NOWAIT);
    if (qemu != nullptr) qemu->pump();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

/// Closes every handle left on the loop and runs it dry (ASan checks for leaks).
void drain(uv_loop_t* loop) {
  for (int i = 0; i < 10; ++i) uv_run(loop, UV_RUN_NOWAIT);
  CHECK(uv_loop_close(loop) == 0);
}

const char* kGreeting = R"({"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}}, "capabilities": ["oob"]}})"
                        "\r\n";
}  // namespace

TEST_CASE("QMP handshake, queued command, reply by id, events") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
  FakeQemu qemu{fds[1], {}};

  bool ready = false;
  std::vector<std::string> events;
  std::string closed_why;
  {
    QmpClient client(&loop, {[&] { ready = true; }, [&](const QmpMessage& m) { events.push_back(m.event); },
                             [&](const std::string& why) { closed_why = why; }});
    client.open(fds[0]);
    nlohmann::json status;
    client.execute("query-status", nullptr, [&](const QmpMessage& m) { status = m.body; });

    qemu.send(kGreeting);
    REQUIRE(run_until(&loop, &qemu, [&] { return qemu.commands().size() == 1; }));
    CHECK(qemu.commands()[0]["execute"] == "qmp_capabilities");
    CHECK_FALSE(ready);
    // Nothing but the handshake goes out before the handshake is done.
    const auto capabilities_id = qemu.commands()[0]["id"].get<std::uint64_t>();
    qemu.send(R"({"return": {}, "id": )" + std::to_string(capabilities_id) + "}\r\n");
    REQUIRE(run_until(&loop, &qemu, [&] { return qemu.commands().size() == 2; }));
    CHECK(ready);
    const auto query = qemu.commands()[1];
    CHECK(query["execute"] == "query-status");

    // An event arrives in two pieces, then the reply.
    qemu.send(R"({"timestamp": {"seconds": 1, "microseconds": 0}, "event": "NETDEV_STR)");
    qemu.send("EAM_CONNECTED\", \"data\": {\"netdev-id\": \"net0\"}}\r\n");
    qemu.send(R"({"return": {"running": true, "status": "running"}, "id": )" + query["id"].dump() + "}\r\n");
    REQUIRE(run_until(&loop, &qemu, [&] { return !status.is_null(); }));
    CHECK(status["status"] == "running");
    CHECK(events == std::vector<std::string>{"NETDEV_STREAM_CONNECTED"});

    // Errors reach the reply handler too; unknown ids and garbage lines are ignored.
    std::string error_class;
    client.execute("cont", nullptr, [&](const QmpMessage& m) { error_class = m.error_class; });
    REQUIRE(run_until(&loop, &qemu, [&] { return qemu.commands().size() == 3; }));
    qemu.send("not json\r\n{\"return\": {}, \"id\": 999}\r\n");
    qemu.send(R"({"error": {"class": "GenericError", "desc": "x"}, "id": )" + qemu.commands()[2]["id"].dump() + "}\r\n");
    REQUIRE(run_until(&loop, &qemu, [&] { return !error_class.empty(); }));
    CHECK(error_class == "GenericError");

    // QEMU goes away: on_closed says so.
    ::close(qemu.fd);
    REQUIRE(run_until(&loop, nullptr, [&] { return !closed_why.empty(); }));
    CHECK(closed_why == "QMP connection closed by QEMU");
    CHECK_FALSE(client.ready());
  }
  drain(&loop);
}

TEST_CASE("QMP client gives up on an endless line") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
  FakeQemu qemu{fds[1], {}};
  std::string closed_why;
  {
    QmpClient client(&loop, {{}, {}, [&](const std::string& why) { closed_why = why; }});
    client.open(fds[0]);
    const std::string chunk(64 * 1024, 'x');
    for (int i = 0; i < 200 && closed_why.empty(); ++i) {
      (void)::write(qemu.fd, chunk.data(), chunk.size());  // may be short or EAGAIN: fine
      uv_run(&loop, UV_RUN_NOWAIT);
    }
    CHECK(closed_why == "QMP message too long");
  }
  ::close(qemu.fd);
  drain(&loop);
}

TEST_CASE("QMP connect retries until QEMU's socket appears, and times out when it never does") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  char dir_template[] = "/tmp/usernet-qmp-XXXXXX";
  const std::string dir = ::mkdtemp(dir_template);
  const std::string path = dir + "/qmp.sock";

  std::string closed_why;
  bool ready = false;
  {
    QmpClient client(&loop, {[&] { ready = true; }, {}, [&](const std::string& why) { closed_why = why; }});
    client.connect(path, 5000);
    int spins = 0;
    run_until(&loop, nullptr, [&] { return ++spins > 60; });  // ~0.3 s of retries, socket missing
    CHECK(closed_why.empty());

    // Now the "QEMU" listens; the client connects and handshakes.
    const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(listener, 1) == 0);
    ::fcntl(listener, F_SETFL, O_NONBLOCK);
    int accepted = -1;
    REQUIRE(run_until(&loop, nullptr, [&] { return (accepted = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0; }));
    FakeQemu qemu{accepted, {}};
    qemu.send(kGreeting);
    REQUIRE(run_until(&loop, &qemu, [&] { return qemu.commands().size() == 1; }));
    qemu.send("{\"return\": {}, \"id\": " + qemu.commands()[0]["id"].dump() + "}\r\n");
    REQUIRE(run_until(&loop, &qemu, [&] { return ready; }));
    ::close(accepted);
    ::close(listener);
    ::unlink(path.c_str());
  }
  {
    closed_why.clear();
    QmpClient client(&loop, {{}, {}, [&](const std::string& why) { closed_why = why; }});
    client.connect(dir + "/never.sock", 100);
    REQUIRE(run_until(&loop, nullptr, [&] { return !closed_why.empty(); }));
    CHECK(closed_why.find("cannot connect to QMP socket") == 0);
    CHECK(closed_why.find("no such file or directory") != std::string::npos);
  }
  ::rmdir(dir.c_str());
  drain(&loop);
}
