#include "hypervisor/launcher.hpp"

#include <spdlog/spdlog.h>
#include <cstdlib>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include "hypervisor/config_error.hpp"
#include "hypervisor/device_parser.hpp"
#include "hypervisor/kvm_probe.hpp"
#include "hypervisor/nic_sockets.hpp"
#include "hypervisor/qemu_argv.hpp"
#include "hypervisor/qemu_process.hpp"
#include "hypervisor/qmp_client.hpp"
#include "hypervisor/rest_server.hpp"
#include "hypervisor/virtiofsd_process.hpp"
#include "hypervisor/vm_files.hpp"
#include "hypervisor/vm_state.hpp"
#include "netstack/base/text_file.hpp"
#include "netstack/base/unique_fd.hpp"
#include "netstack/base/uv_handles.hpp"
#include "netstack/daemon/daemon.hpp"
#include "vsock/device/vhost_user_vsock.hpp"

namespace usernet {

namespace {

constexpr std::uint64_t kQmpConnectTimeoutMs = 10000;
constexpr std::uint64_t kQuitGraceMs = 3000;  // after quit, before SIGKILL
constexpr std::uint64_t kNetdevConnectTimeoutMs = 3000;  // NETDEV_STREAM_CONNECTED wait
/// Debian's (package ovmf) template for a new EFI variable store (`efi,...,create`).
constexpr const char* kEfiVarsTemplate = "/usr/share/OVMF/OVMF_VARS_4M.fd";
/// The vsock port Ignition fetches its config from on vfkit (and the guest's CID 2 host).
constexpr std::uint32_t kIgnitionVsockPort = 1024;

/// The embedded vhost-user-vsock device's configuration for the virtio-vsock entries:
/// `listen` ports are dialled when the guest connects, `connect` sockets are listened on.
vsock::VhostUserVsockConfig vsock_config_for(const VmConfig& config, const std::string& vhost_socket) {
  vsock::VhostUserVsockConfig vsock;
  vsock.vhost_socket = vhost_socket;
  for (const Device& device : config.devices) {
    const auto* entry = std::get_if<VirtioVsock>(&device);
    if (entry == nullptr) continue;
    auto& map = entry->direction == VsockDirection::listen ? vsock.guest_port_sockets : vsock.host_port_sockets;
    map[entry->port] = entry->socket_url;
  }
  return vsock;
}

/// The least guest RAM OVMF boots our test guest's unified kernel image with; with 128 MiB
/// it page-faults while starting the kernel and the VM hangs without a message.
constexpr std::uint64_t kEfiMinimumMemoryMiB = 192;

/// EFI boot needs OVMF's code (package ovmf) and enough RAM; the firmware's own failures
/// are silent hangs, so they are caught here. Throws ConfigError.
void check_efi_boot(const VmConfig& config, const std::string& efi_code) {
  if (!config.bootloader || !std::holds_alternative<EfiBootloader>(*config.bootloader)) return;
  if (!std::filesystem::exists(efi_code)) {
    throw ConfigError("efi", "efi bootloader: no OVMF firmware at " + efi_code + " (install package ovmf)");
  }
  if (config.memory_mib < kEfiMinimumMemoryMiB) {
    spdlog::warn("efi bootloader with {} MiB: OVMF has been seen to hang below {} MiB (use --memory 256)",
                 config.memory_mib, kEfiMinimumMemoryMiB);
  }
}

/// efi,variable-store=V,create: copies the OVMF template to V when V does not exist yet.
void create_efi_variable_store(const VmConfig& config) {
  const auto* efi = config.bootloader ? std::get_if<EfiBootloader>(&*config.bootloader) : nullptr;
  if (efi == nullptr || !efi->create || std::filesystem::exists(efi->variable_store)) return;
  std::error_code error;
  std::filesystem::copy_file(kEfiVarsTemplate, efi->variable_store, error);
  if (error) {
    throw ConfigError("variable-store", "cannot create EFI variable store " + efi->variable_store + " from " +
                                            kEfiVarsTemplate + " (package ovmf): " + error.message());
  }
}

/// A private directory for the QMP socket; removed (with its socket) at exit.
std::string make_runtime_dir() {
  const char* base = std::getenv("XDG_RUNTIME_DIR");
  std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/usernet-vm.XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  return pattern;
}

}  // namespace

struct Launcher::State {
  State(uv_loop_t* l, VmOptions o)
      : loop(l), options(std::move(o)), qemu(l),
        powerdown_timer(l, [this] { on_powerdown_timeout(); }),
        kill_timer(l, [this] { qemu.kill(SIGKILL); }),
        netdev_timer(l, [this] { on_netdev_timeout(); }) {}

  uv_loop_t* loop;
  VmOptions options;
  VmStateMachine machine;
  nlohmann::json inspect;
  std::unique_ptr<Daemon> network;  // usernet inside, for the embedded NICs
  std::unique_ptr<vsock::VhostUserVsock> vsock_device;  // virtio-vsock devices, if any
  std::unique_ptr<VirtiofsdSupervisor> filesystems;  // virtiofsd per virtio-fs device
  QemuProcess qemu;
  std::unique_ptr<QmpClient> qmp;
  std::unique_ptr<RestServer> rest;
  std::unique_ptr<RestServer> ignition;  // --ignition's HTTP server behind vsock port 1024
  std::unique_ptr<SignalWatcher> sigint, sigterm;
  Timer powerdown_timer;
  Timer kill_timer;
  Timer netdev_timer;
  std::set<std::string> unconnected_netdevs;  // stream netdevs without NETDEV_STREAM_CONNECTED
  bool qmp_up = false;
  bool resumed = false;
  std::string runtime_dir;
  std::string qmp_path;
  std::vector<std::string> unixgram_paths;  // our bound local datagram sockets
  bool pidfile_written = false;
  bool shutting_down = false;
  bool quit_sent = false;
  std::optional<int> exit_status;

  /// Sends a QMP command and logs a failure.
  void execute(const std::string& command, std::function<void(bool ok)> done = {}) {
    if (!qmp) return;
    qmp->execute(command, nullptr, [command, done](const QmpMessage& reply) {
      const bool ok = reply.kind == QmpMessageKind::result;
      if (!ok) spdlog::error("QMP {} failed: {}", command, reply.error_description);
      if (done) done(ok);
    });
  }

  /// SIGINT/SIGTERM: ask the guest to power off; a second signal quits at once.
  void on_signal() {
    if (!qemu.running()) return;
    if (shutting_down) {
      spdlog::info("second signal: quitting QEMU");
      quit();
      return;
    }
    shutting_down = true;
    spdlog::info("signal: powering the VM down (quit after {} ms)", kPowerdownGraceMs);
    execute("system_powerdown");
    powerdown_timer.start(kPowerdownGraceMs);
  }

  void on_powerdown_timeout() {
    spdlog::info("the guest did not power off within {} ms: quitting QEMU", kPowerdownGraceMs);
    quit();
  }

  /// QMP quit; SIGKILL if QEMU is still there after a grace period (or QMP is gone).
  void quit() {
    if (quit_sent) return;
    quit_sent = true;
    if (qmp && qmp->ready()) {
      execute("quit");
      kill_timer.start(kQuitGraceMs);
    } else {
      qemu.kill(SIGKILL);
    }
  }

  void on_qmp_ready() {
    // vfkit's inspect names each pty serial port's device (ptyName); QEMU chose them.
    qmp->execute("query-chardev", nullptr, [this](const QmpMessage& reply) {
      if (reply.kind == QmpMessageKind::result) add_pty_names(inspect, options.vm, reply.body);
    });
    qmp->execute("query-status", nullptr, [this](const QmpMessage& reply) {
      const bool running = reply.kind == QmpMessageKind::result && reply.body.value("running", false);
      qmp_up = true;
      if (running) {
        resumed = true;
        machine.on_qmp_ready(true);
        return;
      }
      if (!unconnected_netdevs.empty()) netdev_timer.start(kNetdevConnectTimeoutMs);
      resume_when_connected();
    });
  }

  /// QEMU was started with -S so that no event is missed; the CPUs go once QMP is up and
  /// every stream NIC reported NETDEV_STREAM_CONNECTED (the guest's first DHCP packets
  /// then find a live link). The RESUME event makes the state Running.
  void resume_when_connected() {
    if (!qmp_up || resumed || !unconnected_netdevs.empty()) return;
    resumed = true;
    netdev_timer.stop();
    execute("cont", [this](bool ok) {
      if (!ok) machine.on_qmp_ready(false);
    });
    spdlog::info("VM started (QEMU pid {})", qemu.pid());
  }

  void on_netdev_timeout() {
    std::string names;
    for (const auto& name : unconnected_netdevs) names += " " + name;
    spdlog::warn("no NETDEV_STREAM_CONNECTED within {} ms for{}; starting anyway", kNetdevConnectTimeoutMs, names);
    unconnected_netdevs.clear();
    resume_when_connected();
  }

  void on_qmp_event(const QmpMessage& event) {
    std::string reason;
    if (event.body.is_object() && event.body.contains("reason") && event.body["reason"].is_string()) {
      reason = event.body["reason"].get<std::string>();
    }
    if (event.event == "NETDEV_STREAM_CONNECTED" || event.event == "NETDEV_STREAM_DISCONNECTED") {
      spdlog::info("{} {}", event.event, event.body.dump());
      if (event.event == "NETDEV_STREAM_CONNECTED" && event.body.is_object() &&
          event.body.contains("netdev-id") && event.body["netdev-id"].is_string()) {
        unconnected_netdevs.erase(event.body["netdev-id"].get<std::string>());
        resume_when_connected();
      }
    } else {
      spdlog::debug("QMP event {} {}", event.event, event.body.dump());
    }
    machine.on_event(event.event, reason);
    spdlog::debug("VM state {}", vm_state_name(machine.state()));
  }

  void on_qemu_exit(const ProcessExit& exit) {
    machine.on_qemu_exited();
    powerdown_timer.stop();
    kill_timer.stop();
    netdev_timer.stop();
    if (machine.end() == VmEnd::crashed) {
      std::string how = exit.signal != 0 ? "was killed by signal " + std::to_string(exit.signal)
                                         : "exited with status " + std::to_string(exit.status);
      spdlog::error("QEMU {} unexpectedly; its last messages:", how);
      for (const auto& line : qemu.last_stderr_lines()) spdlog::error("  qemu: {}", line);
    } else {
      spdlog::info("VM ended ({}), QEMU exit status {}", vm_state_name(machine.state()), exit.status);
    }
    exit_status = exit_status_for(machine.end());
    if (qmp) qmp->close();
    if (filesystems) {
      filesystems->stop([this] { uv_stop(loop); });  // reap virtiofsd first
    } else {
      uv_stop(loop);
    }
  }

  /// REST request: answer, and carry out an accepted state change through QMP.
  RestResponse on_rest(const RestRequest& request) {
    auto outcome = handle_rest_request(request, machine, inspect);
    if (outcome.change) {
      const StateChange change = *outcome.change;
      const std::string command(qmp_command_for(change));
      spdlog::info("REST: {} {} -> QMP {}", request.method, request.target, command);
      if (change == StateChange::hard_stop) {
        quit();  // with the SIGKILL fallback
        return outcome.response;
      }
      execute(command, [this, change](bool ok) {
        if (!ok) machine.on_request_failed(change);
      });
    }
    return outcome.response;
  }

  /// Sockets for every NIC that needs one; fills runtime.net_fds and the child's fds.
  void prepare_nics(QemuRuntime& runtime, std::vector<UniqueFd>& child_fds) {
    std::size_t index = 0;
    for (const Device& device : options.vm.devices) {
      const auto* net = std::get_if<VirtioNet>(&device);
      if (net == nullptr) continue;
      const std::string netdev = "net" + std::to_string(index++);  // build_qemu_argv's ids
      const std::string name = "virtio-net " + netdev;
      if (const auto* embedded = std::get_if<EmbeddedNet>(&net->attachment)) {
        const bool datagram = embedded->socket == EmbeddedSocket::dgram;
        if (!network) network = std::make_unique<Daemon>(loop, options.network, DaemonRole::embedded);
        const NicSocketPair pair = make_nic_socketpair(datagram);
        if (datagram) network->attach_datagram_port(pair.launcher_end, name + " (dgram)");
        else network->attach_stream_port(pair.launcher_end, name + " (stream)");
        runtime.net_fds.push_back({child_fd_for(child_fds.size()), datagram ? NetFdKind::dgram : NetFdKind::stream});
        if (!datagram) unconnected_netdevs.insert(netdev);
        child_fds.emplace_back(pair.qemu_end);
      } else if (const auto* unixgram = std::get_if<UnixgramNet>(&net->attachment)) {
        std::string local;
        const int fd = connect_unixgram_peer(unixgram->path, unixgram->vfkit_magic, local);
        unixgram_paths.push_back(local);
        runtime.net_fds.push_back({child_fd_for(child_fds.size()), NetFdKind::dgram});
        child_fds.emplace_back(fd);
      } else if (const auto* inherited = std::get_if<InheritedFdNet>(&net->attachment)) {
        // Mapped like our own sockets: QEMU's fds 3, 4, ... would otherwise clobber N.
        adopt_inherited_dgram_socket(inherited->fd);
        runtime.net_fds.push_back({child_fd_for(child_fds.size()), NetFdKind::dgram});
        child_fds.emplace_back(inherited->fd);
      }
    }
  }

  /// --ignition: an HTTP server on a unix socket in the runtime dir that answers every GET
  /// with the file, and a virtio-vsock `listen` entry that sends guest port 1024 there.
  void prepare_ignition() {
    if (options.ignition_file.empty()) return;
    auto content = read_text_file(options.ignition_file);
    if (!content) throw ConfigError("ignition", "--ignition: cannot read " + options.ignition_file);
    const std::string socket = runtime_dir + "/ignition.sock";
    ignition = std::make_unique<RestServer>(loop, [body = std::move(*content)](const RestRequest& request) {
      if (request.method != "GET") return RestResponse{405, "text/plain", "method not allowed\n"};
      spdlog::info("ignition: guest fetched {} ({} bytes)", request.target, body.size());
      return RestResponse{200, "application/vnd.coreos.ignition+json", body};
    });
    if (const Status listening = ignition->listen(RestEndpoint{RestEndpoint::Kind::unix_socket, socket, "", 0});
        !listening) {
      throw std::runtime_error("--ignition: " + listening.error());
    }
    options.vm.devices.emplace_back(VirtioVsock{kIgnitionVsockPort, socket, VsockDirection::listen});
    check_device_set(options.vm.devices);  // a user's own port-1024 entry collides
  }

  /// The embedded vhost-user-vsock backend, listening before QEMU starts (QEMU connects to
  /// it while realizing the device); fills runtime.vsock_socket.
  void prepare_vsock(QemuRuntime& runtime) {
    const bool wanted = std::any_of(options.vm.devices.begin(), options.vm.devices.end(),
                                    [](const Device& d) { return std::holds_alternative<VirtioVsock>(d); });
    if (!wanted) return;
    runtime.vsock_socket = runtime_dir + "/vsock.sock";
    vsock_device = std::make_unique<vsock::VhostUserVsock>(loop, vsock_config_for(options.vm, runtime.vsock_socket));
    if (const Status started = vsock_device->start(); !started)
      throw std::runtime_error("virtio-vsock: " + started.error());
  }

  /// One virtiofsd per virtio-fs device, listening before QEMU starts; fills
  /// runtime.virtiofs_sockets. ConfigError when there is no usable virtiofsd.
  void prepare_filesystems(QemuRuntime& runtime) {
    filesystems = std::make_unique<VirtiofsdSupervisor>(loop);
    runtime.virtiofs_sockets = filesystems->start(
        options.vm, {options.virtiofsd_binary, runtime_dir, options.log_level == "debug", ::geteuid() != 0});
  }

  /// The disk and kernel files exist and the accelerator is chosen; an exit status if not.
  std::optional<int> check_vm() {
    const auto missing = find_missing_files(options.vm);
    if (!missing.empty()) {
      for (const auto& line : missing) spdlog::error("{}", line);
      return 2;
    }
    if (options.accel_auto) {
      const AccelDecision decision = choose_accel(probe_kvm());
      options.vm.accel = decision.accel;
      spdlog::info("accelerator: {} ({})", decision.accel == Accel::kvm ? "kvm" : "tcg", decision.reason);
    }
    return std::nullopt;
  }

  /// Prepares every device and builds QEMU's command line (started paused) and the
  /// descriptors it inherits; an exit status (2: bad configuration) when it cannot.
  std::optional<int> prepare_qemu(std::vector<std::string>& argv, std::vector<UniqueFd>& child_fds) {
    QemuRuntime runtime;
    runtime.binary = options.qemu_binary;
    runtime.qmp_socket = qmp_path;
    try {
      check_efi_boot(options.vm, runtime.efi_code);
      create_efi_variable_store(options.vm);
      prepare_nics(runtime, child_fds);
      prepare_ignition();
      prepare_vsock(runtime);
      prepare_filesystems(runtime);
      VmConfig config = options.vm;
      config.pidfile.clear();  // --pidfile names the launcher (vfkit semantics), written by start()
      argv = build_qemu_argv(config, runtime);
    } catch (const ConfigError& e) {
      spdlog::error("{}", e.what());
      return 2;
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 1;
    }
    argv.insert(argv.begin() + 1, "-S");  // start paused; resumed once QMP is connected
    spdlog::debug("QEMU command line:{}", [&argv] {
      std::string text;
      for (const auto& arg : argv) text += " " + arg;
      return text;
    }());
    return std::nullopt;
  }

  /// Connects QMP; a lost connection stops QEMU unless it is already on its way out.
  void connect_qmp() {
    qmp = std::make_unique<QmpClient>(loop, QmpClient::Callbacks{
        [this] { on_qmp_ready(); },
        [this](const QmpMessage& event) { on_qmp_event(event); },
        [this](const std::string& why) {
          if (!qemu.running()) return;
          if (machine.state() == VmState::stopping) {
            // QEMU closes QMP on its way out; give it a moment to exit by itself.
            kill_timer.start(kQuitGraceMs);
            return;
          }
          spdlog::error("QMP: {}; stopping QEMU", why);
          qemu.kill(SIGKILL);
        }});
    qmp->connect(qmp_path, kQmpConnectTimeoutMs);
  }

  /// Everything up to a running QEMU; returns an exit status when it cannot start.
  std::optional<int> start() {
    if (auto failed = check_vm()) return failed;
    inspect = describe_vm(options.vm);
    runtime_dir = make_runtime_dir();
    qmp_path = runtime_dir + "/qmp.sock";
    std::vector<std::string> argv;
    std::vector<UniqueFd> child_fds;  // closed here on every path: QEMU holds its own copies
    if (auto failed = prepare_qemu(argv, child_fds)) return failed;

    if (options.rest.kind != RestEndpoint::Kind::none) {
      rest = std::make_unique<RestServer>(loop, [this](const RestRequest& r) { return on_rest(r); });
      if (const Status listening = rest->listen(options.rest); !listening) {
        spdlog::error("{}", listening.error());
        return 1;
      }
    }
    std::vector<int> inherited;
    for (const auto& fd : child_fds) inherited.push_back(fd.get());
    const Status spawned =
        qemu.spawn(through_parent_death_shim(argv), inherited, [this](const ProcessExit& e) { on_qemu_exit(e); });
    child_fds.clear();  // QEMU holds its ends now
    if (!spawned) {
      spdlog::error("{}", spawned.error());
      return 1;
    }
    if (!options.vm.pidfile.empty()) {
      std::ofstream(options.vm.pidfile) << ::getpid() << "\n";
      pidfile_written = true;
    }
    connect_qmp();
    sigint = std::make_unique<SignalWatcher>(loop, SIGINT, [this] { on_signal(); });
    sigterm = std::make_unique<SignalWatcher>(loop, SIGTERM, [this] { on_signal(); });
    return std::nullopt;
  }

  /// Removes what the launcher created on disk (the vsock device unlinks its sockets).
  void cleanup_files() {
    vsock_device.reset();
    ignition.reset();
    if (!qmp_path.empty()) ::unlink(qmp_path.c_str());
    filesystems.reset();  // kills a virtiofsd still running, removes its socket
    if (!runtime_dir.empty()) ::rmdir(runtime_dir.c_str());
    for (const auto& path : unixgram_paths) ::unlink(path.c_str());
    if (pidfile_written) ::unlink(options.vm.pidfile.c_str());
    pidfile_written = false;
  }
};

Launcher::Launcher(uv_loop_t* loop, VmOptions options) : state_(std::make_unique<State>(loop, std::move(options))) {}

Launcher::~Launcher() {
  if (state_) state_->cleanup_files();
}

int Launcher::run() {
  std::optional<int> failed;
  try {
    failed = state_->start();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    failed = 1;
  }
  if (failed) {
    state_->cleanup_files();
    return *failed;
  }
  uv_run(state_->loop, UV_RUN_DEFAULT);
  const int status = state_->exit_status.value_or(1);
  state_->cleanup_files();
  // Close every handle, then let libuv run the close callbacks.
  state_->sigint.reset();
  state_->sigterm.reset();
  state_->rest.reset();
  state_->qmp.reset();
  state_->network.reset();
  uv_run(state_->loop, UV_RUN_NOWAIT);
  return status;
}

}  // namespace usernet
