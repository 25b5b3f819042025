// usernet-vsockd: a user-space vhost-user-vsock device for any QEMU, no vhost_vsock module
// and no privileges needed. QEMU side:
//   -object memory-backend-memfd,id=mem,size=128M,share=on -machine memory-backend=mem
//   -chardev socket,id=vs0,path=VHOST_SOCK -device vhost-user-vsock-pci,chardev=vs0
// Host side (hybrid vsock): a guest connecting to port P reaches the unix socket
// `<uds-path>_P`; a host client connecting to `<uds-path>` and writing `CONNECT P\n` reaches
// the guest's listener on P (and first reads `OK <port>\n`).
#include <spdlog/spdlog.h>
#include <uv.h>

#include <boost/program_options.hpp>
#include <csignal>
#include <iostream>
#include <string>

#include "netstack/base/log_setup.hpp"
#include "netstack/base/uv_handles.hpp"
#include "vsock/device/vhost_user_vsock.hpp"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  usernet::vsock::VhostUserVsockConfig config;
  std::string log_level;
  po::options_description options("usernet-vsockd options");
  options.add_options()("help,h", "show this help")(
      "socket", po::value(&config.vhost_socket)->required(),
      "vhost-user unix socket QEMU connects to")(
      "guest-cid", po::value(&config.guest_cid)->default_value(3), "the guest's CID (>= 3)")(
      "uds-path", po::value(&config.uds_path)->required(),
      "hybrid vsock base path: guest port P -> <uds-path>_P; CONNECT P on <uds-path>")(
      "buffer", po::value(&config.buffer_per_connection)->default_value(256 * 1024),
      "receive buffer (credit) per connection, bytes")(
      "log-level", po::value(&log_level)->default_value("info"), "trace|debug|info|warn|error");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    if (vm.count("help")) {
      std::cout << options << "\n";
      return 0;
    }
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "usernet-vsockd: " << e.what() << "\n" << options << "\n";
    return 2;
  }
  if (config.guest_cid < 3 || config.guest_cid > 0xffffffffu) {
    std::cerr << "usernet-vsockd: --guest-cid must be between 3 and 2^32-1\n";
    return 2;
  }
  if (config.buffer_per_connection < 4096) {
    std::cerr << "usernet-vsockd: --buffer must be at least 4096\n";
    return 2;
  }
  usernet::configure_logging({"usernet-vsockd", log_level, {}, false, false});
  std::signal(SIGPIPE, SIG_IGN);

  uv_loop_t* loop = uv_default_loop();
  {
    usernet::vsock::VhostUserVsock device(loop, config);
    if (const usernet::Status started = device.start(); !started) {
      std::cerr << "usernet-vsockd: " << started.error() << "\n";
      return 1;
    }
    spdlog::info("usernet-vsockd: vhost-user socket {}, guest CID {}, uds path {}",
                 config.vhost_socket, config.guest_cid, config.uds_path);
    usernet::SignalWatcher sigint(loop, SIGINT, [loop] { uv_stop(loop); });
    usernet::SignalWatcher sigterm(loop, SIGTERM, [loop] { uv_stop(loop); });
    uv_run(loop, UV_RUN_DEFAULT);
  }
  uv_run(loop, UV_RUN_NOWAIT);  // let closed handles finish
  uv_loop_close(loop);
  return 0;
}
