// The launcher's system-facing parts over real processes and sockets (no QEMU):
// QemuProcess (fd mapping, exit status, stderr tail), RestServer on a unix socket, and
// the NIC socket helpers (socketpair, vfkit unixgram hand-off, inherited fd=N checks).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

#include "hypervisor/config_error.hpp"
#include "hypervisor/nic_sockets.hpp"
#include "hypervisor/qemu_process.hpp"
#include "hypervisor/rest_server.hpp"
#include "tests/unit/hypervisor/temp_dir.hpp"

using namespace usernet;

namespace {

/// Polls the loop until done() or 10 s passed (never blocks: done() may depend on
/// sockets the loop does not watch).
template <typename Done>
void run_until(uv_loop_t* loop, Done done) {
  for (int i = 0; i < 10000 && !done(); ++i) {
    uv_run(loop, UV_RUN_NOWAIT);
    ::usleep(1000);
  }
}

/// Runs the loop until the server closes the client socket fd; returns what it sent.
std::string read_until_closed(uv_loop_t* loop, int fd) {
  std::string received;
  run_until(loop, [&] {
    char buffer[512];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) received.append(buffer, static_cast<std::size_t>(n));
    return n == 0;
  });
  return received;
}

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  return address;
}

}  // namespace

TEST_CASE("QemuProcess maps extra fds, reports the exit status and keeps stderr's last lines") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  {
    QemuProcess process(&loop);
    process.set_echo_stderr(false);
    std::optional<ProcessExit> exit;
    const std::string script = "echo to-fd3 >&3; i=0; while [ $i -lt 30 ]; do echo line$i >&2; i=$((i+1)); done; "
                               "printf 'no newline' >&2; exit 7";
    const auto spawned = process.spawn({"sh", "-c", script}, {pipe_fds[1]}, [&](const ProcessExit& e) { exit = e; });
    REQUIRE(spawned);
    ::close(pipe_fds[1]);
    CHECK(process.pid() > 0);
    run_until(&loop, [&] { return exit.has_value(); });
    REQUIRE(exit);
    CHECK(exit->status == 7);
    CHECK(exit->signal == 0);
    const auto& lines = process.last_stderr_lines();
    REQUIRE(lines.size() == QemuProcess::kKeptLines);
    CHECK(lines.back() == "no newline");
    CHECK(lines.front() == "line11");
    char buffer[32] = {};
    CHECK(::read(pipe_fds[0], buffer, sizeof buffer - 1) == 7);
    CHECK(std::string(buffer) == "to-fd3\n");
    ::close(pipe_fds[0]);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("QemuProcess: a missing binary is an error, a killed child reports the signal") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    QemuProcess missing(&loop);
    const auto not_started = missing.spawn({"/nonexistent/qemu"}, {}, [](const ProcessExit&) {});
    REQUIRE_FALSE(not_started);
    CHECK(not_started.error().find("cannot start") == 0);
    QemuProcess sleeper(&loop);
    std::optional<ProcessExit> exit;
    REQUIRE(sleeper.spawn({"sleep", "30"}, {}, [&](const ProcessExit& e) { exit = e; }));
    CHECK(sleeper.running());
    sleeper.kill(SIGKILL);
    run_until(&loop, [&] { return exit.has_value(); });
    REQUIRE(exit);
    CHECK(exit->signal == SIGKILL);
    CHECK_FALSE(sleeper.running());
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("RestServer answers over a 0600 unix socket and removes it") {
  TempDir dir;
  const std::string path = dir.path + "/rest.sock";
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    RestRequest seen;
    RestServer server(&loop, [&](const RestRequest& request) {
      seen = request;
      return RestResponse{202, "application/json", "{\"ok\":true}\n"};
    });
    RestEndpoint endpoint;
    endpoint.kind = RestEndpoint::Kind::unix_socket;
    endpoint.path = path;
    REQUIRE(server.listen(endpoint));
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);

    const int client = ::socket(AF_UNIX, SOCK_STREAM, 0);
    const auto address = unix_address(path);
    REQUIRE(::connect(client, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    // Headers and body in two pieces: the parser must wait for the body.
    const std::string head = "POST /vm/state HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n{\"state\":";
    REQUIRE(::write(client, head.data(), head.size()) == static_cast<ssize_t>(head.size()));
    for (int i = 0; i < 20; ++i) {
      uv_run(&loop, UV_RUN_NOWAIT);
      ::usleep(1000);
    }
    CHECK(seen.method.empty());  // the body is incomplete: no request yet
    REQUIRE(::write(client, "\"Pause\"}", 8) == 8);
    const std::string reply = read_until_closed(&loop, client);
    ::close(client);
    CHECK(seen.method == "POST");
    CHECK(seen.target == "/vm/state");
    CHECK(seen.body == "{\"state\":\"Pause\"}");
    CHECK(reply.starts_with("HTTP/1.1 202 Accepted\r\n"));
    CHECK(reply.ends_with("{\"ok\":true}\n"));

    // Garbage gets a 400, not a crash.
    const int bad = ::socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(::connect(bad, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::write(bad, "\x01\x02 nonsense\r\n\r\n", 15) == 15);
    const std::string bad_reply = read_until_closed(&loop, bad);
    ::close(bad);
    CHECK(bad_reply.starts_with("HTTP/1.1 400 "));
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
  CHECK(::access(path.c_str(), F_OK) != 0);
}

TEST_CASE("connect_unixgram_peer binds next to the peer, connects and sends VFKT") {
  TempDir dir;
  const std::string peer_path = dir.path + "/gvproxy.sock";
  const int peer = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  const auto address = unix_address(peer_path);
  REQUIRE(::bind(peer, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);

  std::string local;
  const int fd = connect_unixgram_peer(peer_path, true, local);
  CHECK(local.starts_with(dir.path + "/usernet-vm-"));
  char buffer[16];
  sockaddr_un from{};
  socklen_t from_length = sizeof from;
  const ssize_t n = ::recvfrom(peer, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &from_length);
  REQUIRE(n == 4);
  CHECK(std::string(buffer, 4) == "VFKT");
  CHECK(std::string(from.sun_path) == local);  // the peer can answer us
  ::close(fd);
  ::unlink(local.c_str());

  std::string quiet_local;
  const int quiet = connect_unixgram_peer(peer_path, false, quiet_local);
  CHECK(::recv(peer, buffer, sizeof buffer, MSG_DONTWAIT) < 0);  // vfkitMagic=off: nothing sent
  ::close(quiet);
  ::unlink(quiet_local.c_str());
  ::close(peer);

  std::string missing_local;
  CHECK_THROWS_AS(connect_unixgram_peer(dir.path + "/absent.sock", true, missing_local), std::runtime_error);
  CHECK(::access(missing_local.c_str(), F_OK) != 0);  // nothing left behind

  const auto pair = make_nic_socketpair(true);
  CHECK(::send(pair.launcher_end, "frame", 5, 0) == 5);
  CHECK(::recv(pair.qemu_end, buffer, sizeof buffer, 0) == 5);
  ::close(pair.launcher_end);
  ::close(pair.qemu_end);
}

/// The ConfigError message adopt_inherited_dgram_socket throws for fd ("" if none).
std::string adopt_error(int fd) {
  try {
    adopt_inherited_dgram_socket(fd);
  } catch (const ConfigError& e) {
    CHECK(e.key() == "fd");
    return e.what();
  }
  return "";
}

TEST_CASE("adopt_inherited_dgram_socket takes a connected datagram socket and refuses the rest") {
  int pair[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) == 0);  // inheritable, like a parent's fd
  CHECK(adopt_error(pair[0]).empty());
  CHECK((::fcntl(pair[0], F_GETFD) & FD_CLOEXEC) != 0);  // reaches QEMU only where it is mapped
  ::close(pair[0]);
  ::close(pair[1]);

  const int unconnected = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK(adopt_error(unconnected).find("not connected") != std::string::npos);
  ::close(unconnected);

  int stream[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, stream) == 0);
  CHECK(adopt_error(stream[0]).find("not a datagram") != std::string::npos);
  ::close(stream[0]);
  ::close(stream[1]);

  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const std::string not_socket = adopt_error(pipe_fds[0]);
  CHECK(not_socket.find("fd=" + std::to_string(pipe_fds[0]) + ": not a socket") != std::string::npos);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  CHECK(adopt_error(pipe_fds[0]).find("no such descriptor") != std::string::npos);  // closed now
}

TEST_CASE("RestServer on TCP 127.0.0.1") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    RestServer server(&loop, [](const RestRequest& request) {
      return RestResponse{200, "text/plain", request.method + " " + request.target + "\n"};
    });
    RestEndpoint endpoint;
    endpoint.kind = RestEndpoint::Kind::tcp;
    endpoint.host = "127.0.0.1";
    endpoint.port = 0;  // any free port
    REQUIRE(server.listen(endpoint));
    const int port = server.tcp_port();
    REQUIRE(port > 0);

    const int client = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(client, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    const std::string request = "GET /vm/inspect HTTP/1.1\r\nHost: x\r\n\r\n";
    REQUIRE(::write(client, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
    const std::string reply = read_until_closed(&loop, client);
    ::close(client);
    CHECK(reply.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(reply.ends_with("GET /vm/inspect\n"));

    // A second server on the same port reports the error instead of crashing.
    RestServer clash(&loop, [](const RestRequest&) { return RestResponse{}; });
    endpoint.port = static_cast<std::uint16_t>(port);
    const auto clashed = clash.listen(endpoint);
    REQUIRE_FALSE(clashed);
    CHECK(clashed.error().find("cannot listen") != std::string::npos);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}
