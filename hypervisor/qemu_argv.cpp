#include "hypervisor/qemu_argv.hpp"

#include <type_traits>

#include "hypervisor/config_error.hpp"

namespace usernet {

namespace {

/// Collects argv and hands out per-type device numbers (net0, net1, blk0...).
struct ArgvBuilder {
  const QemuRuntime& runtime;
  std::vector<std::string> argv;
  std::size_t nets = 0, net_fds_used = 0, disks = 0, serials = 0, isa_serials = 0, rngs = 0;
  std::size_t balloons = 0, filesystems = 0;
  bool stdio_used = false;
  bool vsock_added = false;
  bool usb_added = false;

  /// Appends an option and its argument.
  void add(std::string option, std::string value) {
    argv.push_back(std::move(option));
    argv.push_back(std::move(value));
  }

  /// The next runtime fd for a NIC that needs one; throws if the launcher gave too few.
  NetFd take_net_fd() {
    if (net_fds_used >= runtime.net_fds.size()) {
      throw ConfigError("virtio-net", "internal: no socket prepared for virtio-net device " + std::to_string(nets));
    }
    return runtime.net_fds[net_fds_used++];
  }
};

/// The -chardev backend spec (without id) for a serial port's output.
std::string chardev_for(ArgvBuilder& b, const SerialPort& serial) {
  switch (serial.output) {
    case SerialOutput::stdio:
      if (b.stdio_used) throw ConfigError("stdio", "only one serial port can use stdio");
      b.stdio_used = true;
      return "stdio,signal=off";
    case SerialOutput::pty:
      return "pty";
    case SerialOutput::log_file:
      return "file,path=" + qemu_escape(serial.log_file);
  }
  throw ConfigError("serial", "internal: unknown serial output");
}

/// The Linux kernel (bzImage or PVH ELF), initrd and command line.
void add_bootloader(ArgvBuilder& b, const LinuxBootloader& boot) {
  b.add("-kernel", boot.kernel);
  if (!boot.initrd.empty()) b.add("-initrd", boot.initrd);
  if (!boot.cmdline.empty()) b.add("-append", boot.cmdline);
}

/// OVMF code (read-only) plus the VM's own variable store as two pflash drives.
void add_bootloader(ArgvBuilder& b, const EfiBootloader& boot) {
  b.add("-drive", "if=pflash,format=raw,readonly=on,file=" + qemu_escape(b.runtime.efi_code));
  b.add("-drive", "if=pflash,format=raw,file=" + qemu_escape(boot.variable_store));
}

/// -netdev for the attachment + virtio-net-pci (no iPXE option ROM: we boot kernels).
void add_device(ArgvBuilder& b, const VirtioNet& net) {
  const std::string id = "net" + std::to_string(b.nets++);
  std::string netdev;
  if (std::holds_alternative<NatNet>(net.attachment)) {
    netdev = "user,id=" + id;
  } else {
    // EmbeddedNet, UnixgramNet and InheritedFdNet: the launcher prepared the socket (an
    // inherited fd=N is mapped to QEMU's next descriptor like the others).
    const NetFd fd = b.take_net_fd();
    if (fd.kind == NetFdKind::stream) {
      netdev = "stream,id=" + id + ",addr.type=fd,addr.str=" + std::to_string(fd.fd);
    } else {
      netdev = "dgram,id=" + id + ",local.type=fd,local.str=" + std::to_string(fd.fd);
    }
  }
  b.add("-netdev", netdev);
  std::string device = "virtio-net-pci,netdev=" + id + ",romfile=";
  if (net.mac) device += ",mac=" + format_mac(*net.mac);
  b.add("-device", device);
}

/// One vhost-user-vsock-pci for all vsock entries (the port mappings live in the backend).
void add_device(ArgvBuilder& b, const VirtioVsock&) {
  if (b.vsock_added) return;
  if (b.runtime.vsock_socket.empty()) {
    throw ConfigError("virtio-vsock", "internal: no vhost-user socket prepared for virtio-vsock");
  }
  b.vsock_added = true;
  b.add("-chardev", "socket,id=vsock,path=" + qemu_escape(b.runtime.vsock_socket));
  b.add("-device", "vhost-user-vsock-pci,chardev=vsock");
}

/// A raw drive (image file, host block device or ISO) on its controller: virtio-blk-pci
/// (deviceId = serial), an NVMe controller (which needs a serial), or a USB stick on one
/// shared xHCI controller.
void add_device(ArgvBuilder& b, const Disk& disk) {
  const std::string n = std::to_string(b.disks++);
  const std::string id = (disk.bus == DiskBus::virtio ? "blk" : disk.bus == DiskBus::nvme ? "nvme" : "usb") + n;
  std::string drive = "if=none,id=" + id + ",format=raw,file=" + qemu_escape(disk.path);
  if (disk.readonly) drive += ",readonly=on";
  b.add("-drive", drive);
  switch (disk.bus) {
    case DiskBus::virtio: {
      std::string device = "virtio-blk-pci,drive=" + id;
      if (!disk.device_id.empty()) device += ",serial=" + qemu_escape(disk.device_id);
      b.add("-device", device);
      return;
    }
    case DiskBus::nvme:
      b.add("-device", "nvme,drive=" + id + ",serial=usernet" + n);
      return;
    case DiskBus::usb:
      if (!b.usb_added) {
        b.usb_added = true;
        b.add("-device", "qemu-xhci,id=usb");
      }
      b.add("-device", "usb-storage,bus=usb.0,drive=" + id + ",removable=on");
      return;
  }
}

/// virtio: a virtio-serial-pci controller with one virtconsole (guest hvc0);
/// isa: the next legacy UART (COM1 = guest ttyS0).
void add_device(ArgvBuilder& b, const SerialPort& serial) {
  const std::string backend = chardev_for(b, serial);
  if (serial.bus == SerialBus::isa) {
    const std::string id = serial_chardev_id(SerialBus::isa, b.isa_serials++);
    b.add("-chardev", backend + ",id=" + id);
    b.add("-serial", "chardev:" + id);
    return;
  }
  const std::string n = std::to_string(b.serials);
  const std::string id = serial_chardev_id(SerialBus::virtio, b.serials++);
  b.add("-device", "virtio-serial-pci,id=vserial" + n);
  b.add("-chardev", backend + ",id=" + id);
  b.add("-device", "virtconsole,bus=vserial" + n + ".0,chardev=" + id);
}

/// Entropy from the host's /dev/urandom.
void add_device(ArgvBuilder& b, const VirtioRng&) {
  const std::string id = "rng" + std::to_string(b.rngs++);
  b.add("-object", "rng-random,id=" + id + ",filename=/dev/urandom");
  b.add("-device", "virtio-rng-pci,rng=" + id);
}

void add_device(ArgvBuilder& b, const VirtioBalloon&) {
  b.add("-device", "virtio-balloon-pci,id=balloon" + std::to_string(b.balloons++));
}

/// A headless virtio GPU with vfkit's resolution as its preferred mode.
void add_device(ArgvBuilder& b, const VirtioGpu& gpu) {
  b.add("-device", "virtio-gpu-pci,xres=" + std::to_string(gpu.width) + ",yres=" + std::to_string(gpu.height));
}

/// vfkit's pointing device is a tablet (absolute coordinates), like a Mac trackpad.
void add_device(ArgvBuilder& b, const VirtioInput& input) {
  b.add("-device", input.kind == InputKind::pointing ? "virtio-tablet-pci" : "virtio-keyboard-pci");
}

/// vhost-user-fs-pci against the virtiofsd the launcher started for this share.
void add_device(ArgvBuilder& b, const VirtioFs& fs) {
  const std::size_t n = b.filesystems++;
  if (n >= b.runtime.virtiofs_sockets.size()) {
    throw ConfigError("virtio-fs", "internal: no virtiofsd socket prepared for virtio-fs device " + std::to_string(n));
  }
  const std::string id = "fs" + std::to_string(n);
  b.add("-chardev", "socket,id=" + id + ",path=" + qemu_escape(b.runtime.virtiofs_sockets[n]));
  b.add("-device", "vhost-user-fs-pci,chardev=" + id + ",tag=" + qemu_escape(fs.mount_tag));
}

}  // namespace

std::string serial_chardev_id(SerialBus bus, std::size_t index_on_bus) {
  return (bus == SerialBus::virtio ? "console" : "serial") + std::to_string(index_on_bus);
}

std::string qemu_escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    out.push_back(c);
    if (c == ',') out.push_back(',');
  }
  return out;
}

bool needs_shared_memory(const VmConfig& config) {
  for (const Device& device : config.devices) {
    if (std::holds_alternative<VirtioVsock>(device) || std::holds_alternative<VirtioFs>(device)) return true;
  }
  return false;
}

std::vector<std::string> build_qemu_argv(const VmConfig& config, const QemuRuntime& runtime) {
  if (!config.bootloader) throw ConfigError("bootloader", "a --bootloader is required");
  if (config.cpus == 0) throw ConfigError("cpus", "--cpus must be at least 1");
  if (config.memory_mib == 0) throw ConfigError("memory", "--memory must be at least 1 MiB");
  if (runtime.qmp_socket.empty()) throw ConfigError("qmp", "internal: no QMP socket path");

  ArgvBuilder b{runtime, {runtime.binary}};
  // No default devices, no user config, no display, no monitor on stdio; a guest reboot
  // ends QEMU like a poweroff does.
  b.argv.insert(b.argv.end(), {"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"});
  b.add("-accel", config.accel == Accel::kvm ? "kvm" : "tcg");
  // TCG's default qemu64 model lacks SSE4.2/POPCNT (x86-64-v2, which RHEL 9 and Fedora
  // CoreOS guests require) and PCLMUL; "max" is everything TCG can emulate.
  b.add("-cpu", config.accel == Accel::kvm ? "host" : "max");
  b.add("-smp", std::to_string(config.cpus));
  b.add("-m", std::to_string(config.memory_mib) + "M");
  if (needs_shared_memory(config)) {
    b.add("-object", "memory-backend-memfd,id=mem,size=" + std::to_string(config.memory_mib) + "M,share=on");
    b.add("-machine", "pc,memory-backend=mem");
  } else {
    b.add("-machine", "pc");
  }
  std::visit([&b](const auto& boot) { add_bootloader(b, boot); }, *config.bootloader);
  for (const Device& device : config.devices) {
    std::visit([&b](const auto& d) { add_device(b, d); }, device);
  }
  if (b.net_fds_used != runtime.net_fds.size()) {
    throw ConfigError("virtio-net", "internal: " + std::to_string(runtime.net_fds.size()) +
                                        " NIC sockets prepared, " + std::to_string(b.net_fds_used) + " used");
  }
  b.add("-chardev", "socket,id=qmp,path=" + qemu_escape(runtime.qmp_socket) + ",server=on,wait=off");
  b.add("-mon", "chardev=qmp,mode=control");
  if (!config.pidfile.empty()) b.add("-pidfile", config.pidfile);
  return b.argv;
}

}  // namespace usernet
