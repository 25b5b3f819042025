// VM model -> qemu-system-x86_64 command line (QEMU 7.2 syntax). Pure: everything the
// launcher sets up beforehand (sockets, fds, the QMP path) comes in through QemuRuntime.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/vm_config.hpp"

namespace usernet {

/// The socket type of a file descriptor handed to QEMU for a NIC.
/// stream: 4-byte big-endian length framing (-netdev stream); dgram: one frame per datagram.
enum class NetFdKind { stream, dgram };

struct NetFd {
  int fd = -1;
  NetFdKind kind = NetFdKind::stream;
};

/// What the launcher prepared before starting QEMU.
struct QemuRuntime {
  std::string binary = "qemu-system-x86_64";
  std::string qmp_socket;  // required: QEMU listens here, the launcher connects
  /// One entry per virtio-net device with EmbeddedNet, UnixgramNet or InheritedFdNet
  /// attachment, in device order: the socketpair end / the connected unixgram socket / the
  /// parent's fd=N socket, as the descriptor number QEMU inherits it under.
  std::vector<NetFd> net_fds;
  /// vhost-user socket of the embedded vsock backend; required if any VirtioVsock exists.
  std::string vsock_socket;
  /// One vhost-user socket per VirtioFs device (where its virtiofsd listens), in order.
  std::vector<std::string> virtiofs_sockets;
  /// OVMF firmware code for the efi bootloader (Debian package ovmf).
  std::string efi_code = "/usr/share/OVMF/OVMF_CODE_4M.fd";
};

/// Builds argv (argv[0] = runtime.binary). Throws ConfigError when the config and the
/// runtime do not fit (no bootloader, missing fd or socket for a device, two stdio consoles).
std::vector<std::string> build_qemu_argv(const VmConfig& config, const QemuRuntime& runtime);

/// True when the config has a vhost-user device (vsock, virtio-fs): guest RAM must then be
/// a shared memfd so the backend process can map it.
bool needs_shared_memory(const VmConfig& config);

/// The -chardev id of the n-th serial port on a bus (virtio: console<n>, isa: serial<n>);
/// QMP query-chardev reports ptys under this label.
std::string serial_chardev_id(SerialBus bus, std::size_t index_on_bus);

/// Escapes a value for QEMU's key=value option syntax (',' becomes ',,').
std::string qemu_escape(std::string_view value);

}  // namespace usernet
