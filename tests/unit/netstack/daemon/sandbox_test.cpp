// The sandbox's pieces, each tried in a forked child so the test process keeps its
// privileges: the seccomp allow-list really refuses, Landlock really confines, and
// --user/--group resolve names the way the system's databases say.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "netstack/daemon/capabilities.hpp"
#include "netstack/daemon/daemon_options.hpp"
#include "netstack/daemon/landlock.hpp"
#include "netstack/daemon/seccomp_filter.hpp"
#include "netstack/base/unix_address.hpp"
#include "netstack/daemon/user_switch.hpp"

using namespace usernet;

namespace {

/// Runs `body` in a forked child; returns what it reported ("" = all good), or how the
/// child died.
std::string in_child(const std::function<std::string()>& body) {
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    const std::string report = body();
    [[maybe_unused]] auto n = ::write(pipe_fds[1], report.data(), report.size());
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string report;
  char buffer[512];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) report.append(buffer, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (WIFSIGNALED(status)) return "child killed by signal " + std::to_string(WTERMSIG(status));
  return report;
}

std::string status_line(const std::string& key) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with(key + ":")) return line.substr(key.size() + 1);
  return {};
}

std::string trim(std::string text) {
  text.erase(0, text.find_first_not_of(" \t"));
  return text;
}

bool bind_unix(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const auto address = unix_address(path);
  const bool ok = fd >= 0 && address &&
                  ::bind(fd, reinterpret_cast<const sockaddr*>(&*address), sizeof *address) == 0;
  if (fd >= 0) ::close(fd);
  return ok;
}

ParsedDaemonOptions parse(std::vector<const char*> args) {
  args.insert(args.begin(), "usernetd");
  return parse_daemon_options(static_cast<int>(args.size()), args.data());
}

}  // namespace

TEST_CASE("seccomp: calls outside the allow-list fail with EPERM, the daemon's calls still work") {
  const std::string report = in_child([]() -> std::string {
    if (Status done = forbid_new_privileges(); !done) return done.error();
    if (Status done = install_seccomp_filter(); !done) return done.error();
    std::string problems;
    if (trim(status_line("Seccomp")) != "2") problems += "Seccomp is not 2; ";
    char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
    if (::execve("/bin/true", argv, environ) != -1 || errno != EPERM) problems += "execve not refused; ";
    if (::socket(AF_PACKET, SOCK_RAW, 0) != -1 || errno != EPERM) problems += "AF_PACKET socket not refused; ";
    if (::setuid(0) != -1 || errno != EPERM) problems += "setuid not refused; ";
    if (::mkdir("/tmp/usernet-seccomp-should-not-exist", 0700) != -1 || errno != EPERM) problems += "mkdir not refused; ";
    const int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (udp < 0) problems += std::string("UDP socket refused: ") + std::strerror(errno) + "; ";
    else ::close(udp);
    // Threads still start: clone3 says ENOSYS and libc falls back to clone(CLONE_THREAD).
    bool ran = false;
    try {
      std::thread([&] { ran = true; }).join();
    } catch (const std::exception& e) {
      problems += std::string("thread refused: ") + e.what() + "; ";
    }
    if (!ran) problems += "thread did not run; ";
    return problems;
  });
  CHECK(report == "");
}

#if !defined(__SANITIZE_ADDRESS__)
TEST_CASE("seccomp: no fork (release builds; LeakSanitizer needs one, so sanitizer builds allow it)") {
  const std::string report = in_child([]() -> std::string {
    if (Status done = forbid_new_privileges(); !done) return done.error();
    if (Status done = install_seccomp_filter(); !done) return done.error();
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    if (pid > 0) return "fork succeeded";
    return errno == EPERM ? "" : std::string("fork failed with ") + std::strerror(errno);
  });
  CHECK(report == "");
}
#endif

TEST_CASE("landlock: reads only beneath the allowed paths, sockets only in the allowed directories") {
  if (landlock_abi() == 0) {
    MESSAGE("this kernel has no Landlock; skipped");
    return;
  }
  char dir_template[] = "/tmp/usernet-landlock-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string root = dir_template;
  for (const char* sub : {"/readable", "/hidden", "/sockets"}) REQUIRE(::mkdir((root + sub).c_str(), 0700) == 0);
  std::ofstream(root + "/readable/file") << "yes";
  std::ofstream(root + "/hidden/file") << "no";
  const std::string report = in_child([&]() -> std::string {
    if (Status done = forbid_new_privileges(); !done) return done.error();
    LandlockRules rules{{root + "/readable", root + "/missing"}, {root + "/sockets"}};
    if (Status done = apply_landlock(rules); !done) return done.error();
    std::string problems;
    const int readable = ::open((root + "/readable/file").c_str(), O_RDONLY | O_CLOEXEC);
    if (readable < 0) problems += "allowed file unreadable; ";
    else ::close(readable);
    if (::open((root + "/hidden/file").c_str(), O_RDONLY | O_CLOEXEC) != -1 || errno != EACCES)
      problems += "hidden file readable; ";
    if (::open((root + "/readable/new").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600) != -1 || errno != EACCES)
      problems += "file created in a read-only path; ";
    if (!bind_unix(root + "/sockets/s.sock")) problems += "socket refused in the socket directory; ";
    if (bind_unix(root + "/hidden/s.sock")) problems += "socket bound outside the socket directories; ";
    if (::unlink((root + "/sockets/s.sock").c_str()) != 0) problems += "socket not removable; ";
    return problems;
  });
  CHECK(report == "");
  std::filesystem::remove_all(root);
}

TEST_CASE("capabilities: as root, a child drops all of them and the bounding set") {
  if (::geteuid() != 0) {
    MESSAGE("not root; skipped");
    return;
  }
  const std::string report = in_child([]() -> std::string {
    if (Status done = forbid_new_privileges(); !done) return done.error();
    bool skipped = true;
    if (Status done = clear_capability_bounding_set(skipped); !done) return done.error();
    if (skipped) return "bounding set skipped as root";
    if (Status done = drop_all_capabilities(); !done) return done.error();
    std::string problems;
    for (const char* key : {"CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"})
      if (trim(status_line(key)) != "0000000000000000") problems += std::string(key) + " not empty; ";
    if (trim(status_line("NoNewPrivs")) != "1") problems += "NoNewPrivs not 1; ";
    return problems;
  });
  CHECK(report == "");
}

TEST_CASE("--user/--group: names and numbers from the system's databases") {
  const passwd* nobody = ::getpwnam("nobody");
  const group* nogroup = ::getgrnam("nogroup");
  REQUIRE(nobody != nullptr);
  REQUIRE(nogroup != nullptr);
  const uid_t nobody_uid = nobody->pw_uid;
  const gid_t nobody_gid = nobody->pw_gid;
  const gid_t nogroup_gid = nogroup->gr_gid;
  auto user_only = resolve_user_switch("nobody", "");
  REQUIRE(user_only);
  CHECK(user_only->uid == nobody_uid);
  CHECK(user_only->gid == nobody_gid);  // the user's primary group

  auto both = resolve_user_switch(std::to_string(nobody_uid), "nogroup");
  REQUIRE(both);
  CHECK(both->uid == nobody_uid);
  CHECK(both->gid == nogroup_gid);

  auto group_only = resolve_user_switch("", std::to_string(nogroup_gid));
  REQUIRE(group_only);
  CHECK(group_only->uid == ::geteuid());
  CHECK(group_only->gid == nogroup_gid);

  const auto no_user = resolve_user_switch("no-such-user-here", "");
  REQUIRE_FALSE(no_user);
  CHECK(no_user.error() == "--user: no such user 'no-such-user-here'");
  const auto no_group = resolve_user_switch("nobody", "no-such-group-here");
  REQUIRE_FALSE(no_group);
  CHECK(no_group.error() == "--group: no such group 'no-such-group-here'");
  if (::getpwuid(4000111) == nullptr) {
    const auto bare_uid = resolve_user_switch("4000111", "");
    REQUIRE_FALSE(bare_uid);
    CHECK(bare_uid.error().find("needs --group") != std::string::npos);
    auto bare = resolve_user_switch("4000111", "4000111");
    REQUIRE(bare);
    CHECK(bare->uid == 4000111);
  }
}

TEST_CASE("daemon options: --user, --group and --sandbox") {
  auto none = parse({"--tap", "t"});
  REQUIRE(none.action == ParsedDaemonOptions::Action::run);
  CHECK_FALSE(none.options.run_as);
  CHECK_FALSE(none.options.sandbox);

  auto all = parse({"--tap", "t", "--user", "nobody", "--group", "nogroup", "--sandbox"});
  REQUIRE(all.action == ParsedDaemonOptions::Action::run);
  REQUIRE(all.options.run_as);
  CHECK(all.options.run_as->uid == ::getpwnam("nobody")->pw_uid);
  CHECK(all.options.run_as->gid == ::getgrnam("nogroup")->gr_gid);
  CHECK(all.options.sandbox);

  auto bad = parse({"--tap", "t", "--user", "no-such-user-here"});
  CHECK(bad.action == ParsedDaemonOptions::Action::fail);
  CHECK(bad.message == "--user: no such user 'no-such-user-here'");
}
