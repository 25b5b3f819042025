// The VM model of usernet-vm: what vfkit's command line describes (CPUs, memory, one
// bootloader, a list of devices), independent of the hypervisor that runs it.
// qemu_argv.hpp turns it into a QEMU command line; device_parser.hpp builds it from
// vfkit-style strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "netstack/base/ethernet.hpp"

namespace usernet {

/// Direct kernel boot: kernel (bzImage or PVH ELF vmlinux), optional initrd and command line.
struct LinuxBootloader {
  std::string kernel;
  std::string initrd;   // empty: none
  std::string cmdline;  // empty: none
};

/// UEFI firmware (OVMF) with a per-VM variable store; create: copy the template if missing.
struct EfiBootloader {
  std::string variable_store;
  bool create = false;
};

using Bootloader = std::variant<LinuxBootloader, EfiBootloader>;

/// virtio-net attachments.
/// The socket type between QEMU and the embedded network: stream = 4-byte big-endian
/// length framing (-netdev stream), dgram = one frame per datagram (-netdev dgram).
enum class EmbeddedSocket { stream, dgram };

/// usernet runs inside the launcher; QEMU gets one end of a socketpair
/// (usernet-vm extension `transport=stream|dgram`, default stream).
struct EmbeddedNet {
  EmbeddedSocket socket = EmbeddedSocket::stream;
};
/// An external usernetd/gvproxy on a unix datagram socket (vfkit `unixSocketPath=` or
/// krunkit `type=unixgram,path=`); vfkit_magic: send the 4-byte "VFKT" datagram first.
struct UnixgramNet {
  std::string path;
  bool vfkit_magic = true;
};
/// QEMU's own user-mode network (slirp), vfkit `nat`.
struct NatNet {};
/// vfkit `fd=N`: a connected SOCK_DGRAM socket inherited from the parent process.
struct InheritedFdNet {
  int fd = -1;
};
using NetAttachment = std::variant<EmbeddedNet, UnixgramNet, NatNet, InheritedFdNet>;

struct VirtioNet {
  std::optional<MacAddress> mac;
  NetAttachment attachment = EmbeddedNet{};
};

/// vsock direction, vfkit semantics: listen = the guest connects to a host unix socket
/// (socket_url), connect = host clients connect to socket_url and reach the guest's port.
enum class VsockDirection { listen, connect };

/// One vsock port mapping; all of them share a single virtio-vsock device.
struct VirtioVsock {
  std::uint32_t port = 0;
  std::string socket_url;
  VsockDirection direction = VsockDirection::listen;
};

/// vfkit `type=`: a disk image file or a host block device (both are raw for QEMU).
enum class BlockType { image, dev };

/// The controller a disk hangs on: vfkit's `virtio-blk`, `nvme` and `usb-mass-storage`
/// devices (the last one also carries ISO images).
enum class DiskBus { virtio, nvme, usb };

/// vfkit's device type name for a disk on `bus`.
inline const char* disk_type_name(DiskBus bus) {
  switch (bus) {
    case DiskBus::nvme: return "nvme";
    case DiskBus::usb: return "usb-mass-storage";
    case DiskBus::virtio: break;
  }
  return "virtio-blk";
}

struct Disk {
  std::string path;
  bool readonly = false;
  std::string device_id;  // virtio-blk: the disk's serial (guest: /dev/disk/by-id/virtio-<id>)
  BlockType type = BlockType::image;
  DiskBus bus = DiskBus::virtio;
};

/// Where a serial port's output goes.
enum class SerialOutput { log_file, stdio, pty };

/// Guest console. virtio = vfkit `virtio-serial` (guest hvc0); isa = QEMU-native extension
/// `serial` (the legacy COM1 UART, guest ttyS0, usable before any module is loaded).
enum class SerialBus { virtio, isa };

struct SerialPort {
  SerialBus bus = SerialBus::virtio;
  SerialOutput output = SerialOutput::stdio;
  std::string log_file;  // for SerialOutput::log_file
};

struct VirtioRng {};
struct VirtioBalloon {};

/// vfkit `virtio-gpu,width=W,height=H` (QEMU runs headless: the GPU exists for the guest).
struct VirtioGpu {
  unsigned width = 800;
  unsigned height = 600;
};

/// vfkit `virtio-input,pointing|keyboard`.
enum class InputKind { pointing, keyboard };
struct VirtioInput {
  InputKind kind = InputKind::keyboard;
};

/// Host directory shared through virtiofsd; the guest mounts it by mount_tag.
struct VirtioFs {
  std::string shared_dir;
  std::string mount_tag;
};

using Device = std::variant<VirtioNet, VirtioVsock, Disk, SerialPort, VirtioRng, VirtioBalloon, VirtioFs,
                            VirtioGpu, VirtioInput>;

/// Hardware acceleration. tcg works everywhere; kvm only where /dev/kvm really runs guests.
enum class Accel { tcg, kvm };

struct VmConfig {
  unsigned cpus = 1;              // vfkit default
  std::uint64_t memory_mib = 512; // vfkit default
  std::optional<Bootloader> bootloader;
  std::vector<Device> devices;
  Accel accel = Accel::tcg;
  std::string pidfile;            // empty: none
};

}  // namespace usernet
