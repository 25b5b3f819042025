// usernetd: the host daemon. Parses its command line (ours, or gvproxy's when started as
// `gvproxy`), sets up logging and runs the Daemon until SIGINT/SIGTERM.
#include <spdlog/spdlog.h>
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "netstack/base/fd_budget.hpp"
#include "netstack/base/log_setup.hpp"
#include "netstack/daemon/daemon.hpp"
#include "netstack/daemon/daemon_options.hpp"
#include "netstack/daemon/gvproxy_compat.hpp"
#include "netstack/daemon/slirp4netns_compat.hpp"

namespace {

/// Which command line usernetd was started with (by the name it was started under).
enum class Personality { usernetd, gvproxy, slirp4netns };

/// slirp4netns's command line translated; exit_code >= 0 means exit now.
std::vector<std::string> slirp4netns_command_line(const std::vector<std::string>& args, int& exit_code) {
  auto translated = usernet::translate_slirp4netns_command_line(args);
  using Action = usernet::Slirp4netnsTranslation::Action;
  for (const auto& warning : translated.warnings) std::printf("%s\n", warning.c_str());
  if (translated.action == Action::print_and_exit) {
    std::fputs(translated.message.c_str(), stdout);
    exit_code = 0;
  } else if (translated.action == Action::fail) {
    if (!translated.message.empty()) std::fprintf(stderr, "slirp4netns: %s\n", translated.message.c_str());
    if (translated.show_usage) std::fputs(usernet::slirp4netns_usage().c_str(), stdout);
    exit_code = 1;
  }
  return translated.args;
}

/// gvproxy's or slirp4netns's command line when started under that name, else ours;
/// argv without the program name.
std::vector<std::string> command_line(int argc, char** argv, int& exit_code, Personality& personality) {
  std::vector<std::string> args(argv + 1, argv + argc);
  exit_code = -1;
  personality = Personality::usernetd;
  if (argc >= 1 && usernet::invoked_as_slirp4netns(argv[0])) {
    personality = Personality::slirp4netns;
    return slirp4netns_command_line(args, exit_code);
  }
  if (argc < 1 || !usernet::invoked_as_gvproxy(argv[0])) return args;
  personality = Personality::gvproxy;
  auto translated = usernet::translate_gvproxy_command_line(args);
  using GvAction = usernet::GvproxyTranslation::Action;
  if (translated.action == GvAction::print_and_exit) {
    std::fputs(translated.message.c_str(), stdout);
    exit_code = 0;
  } else if (translated.action == GvAction::fail) {
    std::fprintf(stderr, "gvproxy: %s\n", translated.message.c_str());
    exit_code = translated.exit_code;
  }
  return translated.args;
}

}  // namespace

int main(int argc, char** argv) {
  int early_exit = -1;
  Personality personality = Personality::usernetd;
  const auto args = command_line(argc, argv, early_exit, personality);
  const bool as_gvproxy = personality == Personality::gvproxy;
  if (early_exit >= 0) return early_exit;
  std::vector<const char*> argv2{argc > 0 ? argv[0] : "usernetd"};
  for (const auto& arg : args) argv2.push_back(arg.c_str());
  auto parsed = usernet::parse_daemon_options(static_cast<int>(argv2.size()), argv2.data());
  using Action = usernet::ParsedDaemonOptions::Action;
  if (parsed.action == Action::print_and_exit) {
    std::fputs(parsed.message.c_str(), stdout);
    return 0;
  }
  if (parsed.action == Action::fail) {
    // gvproxy refuses a configuration it cannot use with log.Fatal, slirp4netns with exit(1).
    if (personality == Personality::usernetd) {
      std::fprintf(stderr, "usernetd: %s (see --help)\n", parsed.message.c_str());
      return 2;
    }
    std::fprintf(stderr, "%s: %s\n", as_gvproxy ? "gvproxy" : "slirp4netns", parsed.message.c_str());
    return 1;
  }
  const auto& options = parsed.options;
  // stdout carries frames with --listen-stdio.
  usernet::configure_logging({"usernetd", options.log_level, options.log_file, options.listen_stdio, false});
  usernet::raise_fd_limit("usernetd");  // before the NAT sizes its flow caps from it
  std::signal(SIGPIPE, SIG_IGN);  // a closed host socket must be an error code, not death

  uv_loop_t* loop = uv_default_loop();
  int status = 1;
  try {
    usernet::Daemon daemon(loop, options, usernet::DaemonRole::standalone);
    status = daemon.run();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
  }
  uv_run(loop, UV_RUN_DEFAULT);  // the parts' close callbacks
  uv_loop_close(loop);
  return status;
}
