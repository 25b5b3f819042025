#include "hypervisor/device_parser.hpp"

#include <limits>
#include <set>

#include "hypervisor/config_error.hpp"
#include "hypervisor/option_list.hpp"

namespace usernet {

namespace {

/// Throws ConfigError for key of device `what` with a message.
[[noreturn]] void fail(const std::string& key, const std::string& what, const std::string& message) {
  throw ConfigError(key, what + ": " + message);
}

/// A value that must be present.
std::string required(OptionReader& reader, std::string_view key) {
  auto text = reader.value(key);
  if (!text) fail(std::string(key), reader.what(), "'" + std::string(key) + "=' is required");
  return *text;
}

/// mac=: a unicast MAC address.
std::optional<MacAddress> parse_mac_option(OptionReader& reader) {
  const auto text = reader.value("mac");
  if (!text) return std::nullopt;
  const auto mac = parse_mac(*text);
  if (!mac) fail("mac", reader.what(), "bad MAC address '" + *text + "'");
  if (is_group_address(*mac)) fail("mac", reader.what(), "'" + *text + "' is a multicast address");
  return mac;
}

/// virtio-net: at most one of nat, fd=N, unixSocketPath=P or type=unixgram,path=P
/// (krunkit form, with vfkitMagic=on|off and offloading=off); none of them means usernet
/// runs inside the launcher, reached over a stream (default) or dgram socketpair
/// (transport=stream|dgram).
VirtioNet parse_net(OptionReader& reader) {
  VirtioNet net;
  net.mac = parse_mac_option(reader);
  const bool nat = reader.flag("nat");
  const auto fd = reader.number("fd", 0, std::numeric_limits<int>::max());
  const auto unix_socket_path = reader.value("unixSocketPath");
  const auto type = reader.value("type");
  const auto path = reader.value("path");
  const auto vfkit_magic = reader.optional_flag("vfkitMagic");
  const auto offloading = reader.value("offloading");
  const auto transport = reader.value("transport");

  if (type && *type != "unixgram") fail("type", reader.what(), "type must be 'unixgram', not '" + *type + "'");
  if (path && !type) fail("path", reader.what(), "'path' needs type=unixgram");
  if (offloading && !type) fail("offloading", reader.what(), "'offloading' needs type=unixgram");
  if (type && !path) fail("path", reader.what(), "type=unixgram needs path=");
  if (offloading && *offloading != "off") fail("offloading", reader.what(), "only offloading=off is supported");

  const int chosen = int{nat} + int{fd.has_value()} + int{unix_socket_path.has_value()} + int{type.has_value()};
  if (chosen > 1) {
    fail(nat ? "nat" : (fd ? "fd" : "unixSocketPath"), reader.what(),
         "nat, fd, unixSocketPath and type=unixgram exclude each other");
  }
  if (transport && chosen > 0) {
    fail("transport", reader.what(), "transport= applies only to the embedded network (no nat, fd, unixSocketPath or type)");
  }
  if (transport && *transport != "stream" && *transport != "dgram") {
    fail("transport", reader.what(), "transport must be 'stream' or 'dgram', not '" + *transport + "'");
  }
  if (vfkit_magic && !unix_socket_path && !type) {
    fail("vfkitMagic", reader.what(), "vfkitMagic needs unixSocketPath or type=unixgram");
  }

  if (nat) {
    net.attachment = NatNet{};
  } else if (fd) {
    net.attachment = InheritedFdNet{static_cast<int>(*fd)};
  } else if (unix_socket_path || type) {
    net.attachment = UnixgramNet{unix_socket_path ? *unix_socket_path : *path, vfkit_magic.value_or(true)};
  } else {
    EmbeddedNet embedded;
    if (transport == "dgram") embedded.socket = EmbeddedSocket::dgram;
    net.attachment = embedded;
  }
  return net;
}

/// virtio-vsock: port=N (1..2^32-2), socketURL=P (a unix socket path, `unix://` allowed),
/// listen (default) or connect.
VirtioVsock parse_vsock(OptionReader& reader) {
  VirtioVsock vsock;
  const auto port = reader.number("port", 1, 0xfffffffeULL);
  if (!port) fail("port", reader.what(), "'port=' is required");
  vsock.port = static_cast<std::uint32_t>(*port);
  vsock.socket_url = required(reader, "socketURL");
  if (vsock.socket_url.starts_with("unix://")) vsock.socket_url.erase(0, 7);
  if (vsock.socket_url.empty()) fail("socketURL", reader.what(), "socketURL is empty");
  if (vsock.socket_url.size() >= 108) fail("socketURL", reader.what(), "socketURL is longer than a unix socket path can be (107)");
  const bool listen = reader.flag("listen");
  const bool connect = reader.flag("connect");
  if (listen && connect) fail("connect", reader.what(), "'listen' and 'connect' exclude each other");
  vsock.direction = connect ? VsockDirection::connect : VsockDirection::listen;
  return vsock;
}

/// A disk: path=P, readonly, type=image|dev; virtio-blk also takes deviceId=ID (at most
/// 20 bytes: the virtio serial field).
Disk parse_disk(OptionReader& reader, DiskBus bus) {
  Disk disk;
  disk.bus = bus;
  disk.path = required(reader, "path");
  disk.readonly = reader.flag("readonly");
  if (bus == DiskBus::virtio) {
    if (const auto id = reader.value("deviceId")) {
      if (id->size() > 20) fail("deviceId", reader.what(), "deviceId is limited to 20 characters");
      disk.device_id = *id;
    }
  }
  if (const auto type = reader.value("type")) {
    if (*type == "image") {
      disk.type = BlockType::image;
    } else if (*type == "dev") {
      disk.type = BlockType::dev;
    } else {
      fail("type", reader.what(), "type must be 'image' or 'dev', not '" + *type + "'");
    }
  }
  return disk;
}

/// virtio-gpu: width=, height= (pixels, default 800x600).
VirtioGpu parse_gpu(OptionReader& reader) {
  VirtioGpu gpu;
  if (const auto width = reader.number("width", 1, 16384)) gpu.width = static_cast<unsigned>(*width);
  if (const auto height = reader.number("height", 1, 16384)) gpu.height = static_cast<unsigned>(*height);
  return gpu;
}

/// virtio-input: exactly one of pointing, keyboard.
VirtioInput parse_input(OptionReader& reader) {
  const bool pointing = reader.flag("pointing");
  const bool keyboard = reader.flag("keyboard");
  if (pointing == keyboard) fail("pointing", reader.what(), "exactly one of pointing or keyboard is required");
  return VirtioInput{pointing ? InputKind::pointing : InputKind::keyboard};
}

/// virtio-serial / serial: exactly one of logFilePath=F, stdio, pty.
SerialPort parse_serial(OptionReader& reader, SerialBus bus) {
  SerialPort serial;
  serial.bus = bus;
  const auto log_file = reader.value("logFilePath");
  const bool stdio = reader.flag("stdio");
  const bool pty = reader.flag("pty");
  const int chosen = int{log_file.has_value()} + int{stdio} + int{pty};
  if (chosen == 0) fail("logFilePath", reader.what(), "one of logFilePath=, stdio or pty is required");
  if (chosen > 1) fail(pty ? "pty" : "stdio", reader.what(), "logFilePath, stdio and pty exclude each other");
  if (log_file) {
    serial.output = SerialOutput::log_file;
    serial.log_file = *log_file;
  } else {
    serial.output = stdio ? SerialOutput::stdio : SerialOutput::pty;
  }
  return serial;
}

/// virtio-fs: sharedDir=D, mountTag=T (at most 36 bytes: the virtio-fs tag field).
VirtioFs parse_fs(OptionReader& reader) {
  VirtioFs fs;
  fs.shared_dir = required(reader, "sharedDir");
  fs.mount_tag = required(reader, "mountTag");
  if (fs.mount_tag.size() > 36) fail("mountTag", reader.what(), "mountTag is limited to 36 characters");
  return fs;
}

}  // namespace

Device parse_device(std::string_view text) {
  OptionList list = split_options(text);
  OptionReader reader(list.type, std::move(list.options));
  Device device;
  if (list.type == "virtio-net") {
    device = parse_net(reader);
  } else if (list.type == "virtio-vsock") {
    device = parse_vsock(reader);
  } else if (list.type == "virtio-blk") {
    device = parse_disk(reader, DiskBus::virtio);
  } else if (list.type == "nvme") {
    device = parse_disk(reader, DiskBus::nvme);
  } else if (list.type == "usb-mass-storage") {
    device = parse_disk(reader, DiskBus::usb);
  } else if (list.type == "virtio-serial") {
    device = parse_serial(reader, SerialBus::virtio);
  } else if (list.type == "serial") {
    device = parse_serial(reader, SerialBus::isa);
  } else if (list.type == "virtio-rng") {
    device = VirtioRng{};
  } else if (list.type == "virtio-balloon") {
    device = VirtioBalloon{};
  } else if (list.type == "virtio-fs") {
    device = parse_fs(reader);
  } else if (list.type == "virtio-gpu") {
    device = parse_gpu(reader);
  } else if (list.type == "virtio-input") {
    device = parse_input(reader);
  } else if (list.type == "rosetta") {
    throw ConfigError("rosetta", "rosetta: Apple's x86-64 translator exists only on Apple silicon macOS hosts");
  } else {
    throw ConfigError(list.type, "unknown device type '" + list.type + "'");
  }
  reader.reject_unknown();
  return device;
}

void check_device_set(const std::vector<Device>& devices) {
  std::set<std::uint32_t> ports;
  std::set<std::string> sockets, tags;
  for (const Device& device : devices) {
    if (const auto* vsock = std::get_if<VirtioVsock>(&device)) {
      if (!ports.insert(vsock->port).second) {
        throw ConfigError("port", "virtio-vsock: port " + std::to_string(vsock->port) + " is used twice");
      }
      if (!sockets.insert(vsock->socket_url).second) {
        throw ConfigError("socketURL", "virtio-vsock: socketURL " + vsock->socket_url + " is used twice");
      }
    } else if (const auto* fs = std::get_if<VirtioFs>(&device)) {
      if (!tags.insert(fs->mount_tag).second) {
        throw ConfigError("mountTag", "virtio-fs: mountTag " + fs->mount_tag + " is used twice");
      }
    }
  }
}

Bootloader parse_bootloader(std::string_view text) {
  OptionList list = split_options(text);
  if (list.type == "linux") {
    OptionReader reader("linux bootloader", std::move(list.options));
    LinuxBootloader linux_boot;
    linux_boot.kernel = required(reader, "kernel");
    linux_boot.initrd = reader.value("initrd").value_or("");
    linux_boot.cmdline = reader.value("cmdline").value_or("");
    reader.reject_unknown();
    return linux_boot;
  }
  if (list.type == "efi") {
    OptionReader reader("efi bootloader", std::move(list.options));
    EfiBootloader efi;
    efi.variable_store = required(reader, "variable-store");
    efi.create = reader.flag("create");
    reader.reject_unknown();
    return efi;
  }
  throw ConfigError(list.type, "unknown bootloader type '" + list.type + "' (linux or efi)");
}

}  // namespace usernet
