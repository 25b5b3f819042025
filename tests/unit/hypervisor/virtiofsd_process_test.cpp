// The system-facing parts of the virtio-fs support that run without QEMU: telling a
// virtiofsd's flavour by running its --help (fake binaries, and the real one when
// installed) and the user namespace the exec shim enters for a non-root launcher.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "hypervisor/config_error.hpp"
#include "hypervisor/user_namespace.hpp"
#include "hypervisor/virtiofsd_process.hpp"
#include "tests/unit/hypervisor/temp_dir.hpp"

using namespace usernet;

namespace {

/// Writes an executable shell script dir/name; returns its path.
std::string write_script(const TempDir& dir, const std::string& name, const std::string& body) {
  const std::string file = dir.path + "/" + name;
  std::ofstream(file) << "#!/bin/sh\n" << body << "\n";
  REQUIRE(::chmod(file.c_str(), 0755) == 0);
  return file;
}

/// The ConfigError text probe_virtiofsd_flavour throws for binary ("" if none).
std::string probe_error(const std::string& binary) {
  try {
    probe_virtiofsd_flavour(binary);
  } catch (const ConfigError& e) {
    CHECK(e.key() == "virtiofsd");
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("probe_virtiofsd_flavour reads --help from stdout and stderr") {
  TempDir dir;
  // The Rust daemon prints help on stdout; this fake C one on stderr with a failing status.
  const auto rust = write_script(dir, "rust-virtiofsd", "[ \"$1\" = --help ] || exit 9\n"
                                                 "echo 'Usage: virtiofsd [OPTIONS]'; echo '  --shared-dir <dir>'");
  const auto qemu = write_script(dir, "c-virtiofsd", "echo '    -o source=PATH             shared directory tree' >&2; exit 1");
  CHECK(probe_virtiofsd_flavour(rust) == VirtiofsdFlavour::rust);
  CHECK(probe_virtiofsd_flavour(qemu) == VirtiofsdFlavour::qemu_c);
}

TEST_CASE("probe_virtiofsd_flavour: a program that is no virtiofsd, or none at all, is a ConfigError") {
  TempDir dir;
  const auto other = write_script(dir, "other", "echo 'usage: other [-v]'");
  CHECK(probe_error(other).find("neither") != std::string::npos);
  CHECK(probe_error(dir.path + "/missing").find("cannot run " + dir.path + "/missing") == 0);
  const auto not_executable = dir.path + "/plain";
  std::ofstream(not_executable) << "text\n";
  CHECK(probe_error(not_executable).find("cannot run") == 0);
}

TEST_CASE("probe_virtiofsd_flavour on the installed QEMU virtiofsd") {
  const std::string installed = "/usr/lib/qemu/virtiofsd";
  if (::access(installed.c_str(), X_OK) != 0) {
    MESSAGE("skipped: no " << installed << " (package qemu-system-common)");
    return;
  }
  CHECK(probe_virtiofsd_flavour(installed) == VirtiofsdFlavour::qemu_c);
}

TEST_CASE("virtiofs socket paths are numbered inside the runtime directory") {
  CHECK(virtiofs_socket_path("/run/user/1000/usernet-vm.abc", 0) == "/run/user/1000/usernet-vm.abc/virtiofs0.sock");
  CHECK(virtiofs_socket_path("/tmp/d", 12) == "/tmp/d/virtiofs12.sock");
}

TEST_CASE("enter_user_namespace_as_root: uid/gid 0 inside, mapped to the caller's ids") {
  const unsigned uid = ::geteuid();
  const unsigned gid = ::getegid();
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // A forked child is single-threaded, as unshare(CLONE_NEWUSER) requires.
    ::close(pipe_fds[0]);
    const Status entered = enter_user_namespace_as_root();
    std::string report = entered ? std::string() : entered.error();
    if (entered) {
      std::ifstream uid_map("/proc/self/uid_map"), gid_map("/proc/self/gid_map");
      std::ostringstream maps;
      maps << uid_map.rdbuf() << "|" << gid_map.rdbuf();
      report = "uid=" + std::to_string(::getuid()) + " gid=" + std::to_string(::getgid()) + " maps=" + maps.str();
    }
    (void)!::write(pipe_fds[1], report.data(), report.size());
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string report;
  char buffer[512];
  ssize_t n = 0;
  while ((n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0) report.append(buffer, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CAPTURE(report);
  CHECK(report.find("uid=0 gid=0 ") == 0);
  // /proc prints each map as three right-aligned columns.
  std::istringstream maps(report.substr(report.find("maps=") + 5));
  unsigned inside = 1, outside = 0, count = 0;
  char bar = 0;
  maps >> inside >> outside >> count >> bar;
  CHECK(inside == 0);
  CHECK(outside == uid);
  CHECK(count == 1);
  CHECK(bar == '|');
  maps >> inside >> outside >> count;
  CHECK(inside == 0);
  CHECK(outside == gid);
  CHECK(count == 1);
}
