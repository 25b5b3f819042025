#include "netstack/daemon/sandbox.hpp"

#include <spdlog/spdlog.h>

#include <climits>
#include <cstdlib>
#include <filesystem>

#include "netstack/daemon/capabilities.hpp"
#include "netstack/daemon/daemon_options.hpp"
#include "netstack/daemon/seccomp_filter.hpp"
#include "netstack/base/text_file.hpp"

namespace usernet {

namespace {

/// Threads of this process, from /proc/self/status (0 if unreadable).
int thread_count() {
  const auto status = read_text_file("/proc/self/status");
  if (!status) return 0;
  const auto at = status->find("\nThreads:");
  return at == std::string::npos ? 0 : std::atoi(status->c_str() + at + 9);
}

std::string parent_of(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

/// The file itself, and its directory with the directory of the file it points to: a
/// resolver file is replaced by a rename (a new inode) when a VPN connects, so a rule on
/// the file alone would stop matching.
void add_followed_file(std::vector<std::string>& paths, const std::string& path) {
  paths.push_back(parent_of(path));
  char real[PATH_MAX];
  if (::realpath(path.c_str(), real) != nullptr) paths.push_back(parent_of(real));
}

/// The socket path of unix://, unixgram:// and unixpacket:// URLs; "" for others.
std::string unix_url_path(const std::string& url) {
  const auto scheme_end = url.find("://");
  if (!url.starts_with("unix") || scheme_end == std::string::npos) return {};
  return url.substr(scheme_end + 3);
}

}  // namespace

SandboxPlan plan_sandbox(const DaemonOptions& options) {
  SandboxPlan plan;
  plan.user = options.run_as;
  plan.restrict = options.sandbox;
  auto& read = plan.landlock.read_beneath;
  auto& sockets = plan.landlock.sockets_beneath;
  add_followed_file(read, options.dns.resolv_conf);
  read.emplace_back("/dev/null");
  char self[PATH_MAX];
  if (::realpath("/proc/self", self) != nullptr) read.emplace_back(self);  // /proc/self is a symlink to /proc/PID
  auto add_socket = [&](const std::string& path) {
    if (!path.empty()) sockets.push_back(parent_of(path));
  };
  for (const auto* urls : {&options.listen, &options.listen_qemu, &options.listen_vfkit, &options.listen_bess,
                           &options.services})
    for (const auto& url : *urls) add_socket(unix_url_path(url));
  for (const auto& spec : options.forwards)
    if (spec.protocol == ForwardProtocol::unix_socket) add_socket(spec.local_path);
  for (const auto& spec : options.ssh_forwards) add_socket(spec.socket_path);
  add_socket(options.pid_file);
  return plan;
}

Status apply_sandbox(const SandboxPlan& plan) {
  if (!plan.user && !plan.restrict) return {};
  if (const int threads = thread_count(); threads != 1)
    return Error{"sandbox: " + std::to_string(threads) + " threads run already; it must be applied before any starts"};
  if (plan.restrict) {
    if (Status done = forbid_new_privileges(); !done) return Error{"no_new_privs: " + done.error()};
    bool skipped = false;
    if (Status done = clear_capability_bounding_set(skipped); !done)
      return Error{"capability bounding set: " + done.error()};
    if (skipped) spdlog::info("sandbox: capability bounding set kept (no CAP_SETPCAP); no_new_privs makes it unusable");
  }
  if (plan.user) {
    if (Status done = switch_user(*plan.user); !done)
      return Error{"--user/--group " + plan.user->name + ": " + done.error()};
    spdlog::info("sandbox: running as {}", plan.user->name);
  }
  if (!plan.restrict) return {};
  if (Status done = drop_all_capabilities(); !done) return Error{"capabilities: " + done.error()};
  if (const int abi = landlock_abi(); abi == 0) {
    spdlog::info("sandbox: the kernel has no Landlock; the filesystem stays as the user's rights allow");
  } else if (Status done = apply_landlock(plan.landlock); !done) {
    return Error{"landlock: " + done.error()};
  } else {
    spdlog::info("sandbox: Landlock ABI {}: reads limited to {} paths, new unix sockets to {} directories", abi,
                 plan.landlock.read_beneath.size(), plan.landlock.sockets_beneath.size());
  }
  if (Status done = install_seccomp_filter(); !done) return Error{"seccomp: " + done.error()};
  spdlog::info("sandbox: no capabilities, no_new_privs, seccomp allow-list in force");
  return {};
}

}  // namespace usernet
