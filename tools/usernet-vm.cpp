// usernet-vm: a vfkit-style VM launcher on QEMU with usernet inside. Parses the command
// line (exit 2 naming the bad flag or device key), then hands everything to the Launcher
// and exits with the status that says how the VM ended.
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <string_view>

#include "hypervisor/launcher.hpp"
#include "hypervisor/qemu_process.hpp"
#include "hypervisor/vm_options.hpp"
#include "netstack/base/fd_budget.hpp"
#include "netstack/base/log_setup.hpp"

int main(int argc, char** argv) {
  if (argc >= 3 && std::string_view(argv[1]) == usernet::kParentDeathShimFlag)
    return usernet::exec_with_parent_death_signal(argv + 2);
  auto parsed = usernet::parse_vm_options(argc, argv);
  using Action = usernet::ParsedVmOptions::Action;
  if (parsed.action == Action::print_and_exit) {
    std::fputs(parsed.message.c_str(), stdout);
    return 0;
  }
  if (parsed.action == Action::fail) {
    std::fprintf(stderr, "usernet-vm: %s (bad key: %s; see --help)\n", parsed.message.c_str(), parsed.bad_key.c_str());
    return 2;
  }
  // stdout belongs to the guest's serial console (serial,stdio): log to stderr.
  usernet::configure_logging({"usernet-vm", parsed.options.log_level, {}, true, true});
  usernet::raise_fd_limit("usernet-vm");  // the embedded network's NAT sizes its caps from it
  std::signal(SIGPIPE, SIG_IGN);  // a closed peer must be an error code, not death

  uv_loop_t* loop = uv_default_loop();
  int status = 0;
  {
    usernet::Launcher launcher(loop, std::move(parsed.options));
    status = launcher.run();
  }
  uv_run(loop, UV_RUN_NOWAIT);
  uv_loop_close(loop);
  return status;
}
