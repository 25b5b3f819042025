#include <doctest/doctest.h>

#include "hypervisor/config_error.hpp"
#include "hypervisor/device_parser.hpp"
#include "hypervisor/option_list.hpp"

using namespace usernet;

namespace {
/// The key a ConfigError names for text, or "" if parse_device accepted it.
std::string device_error_key(std::string_view text) {
  try {
    parse_device(text);
  } catch (const ConfigError& e) {
    return e.key();
  }
  return "";
}

std::string bootloader_error_key(std::string_view text) {
  try {
    parse_bootloader(text);
  } catch (const ConfigError& e) {
    return e.key();
  }
  return "";
}
}  // namespace

TEST_CASE("split_options keeps order, values and flags; quotes protect commas") {
  const auto list = split_options("linux,kernel=/k,\"cmdline=console=ttyS0 a=1,2\",initrd=/i,,flag");
  CHECK(list.type == "linux");
  REQUIRE(list.options.size() == 4);
  CHECK(list.options[0].key == "kernel");
  CHECK(list.options[0].value == "/k");
  CHECK(list.options[1].key == "cmdline");
  CHECK(list.options[1].value == "console=ttyS0 a=1,2");
  CHECK(list.options[3].key == "flag");
  CHECK_FALSE(list.options[3].has_value);

  const auto inner = split_options("linux,cmdline=\"x,y\"");
  REQUIRE(inner.options.size() == 1);
  CHECK(inner.options[0].value == "x,y");

  CHECK_THROWS_AS(split_options("linux,cmdline=\"open"), ConfigError);
  CHECK_THROWS_AS(split_options(",kernel=x"), ConfigError);
  CHECK_THROWS_AS(split_options(""), ConfigError);
}

TEST_CASE("virtio-net without a socket runs usernet in the launcher") {
  const auto device = parse_device("virtio-net,mac=5a:94:ef:e4:0c:ee");
  const auto& net = std::get<VirtioNet>(device);
  CHECK(std::holds_alternative<EmbeddedNet>(net.attachment));
  REQUIRE(net.mac);
  CHECK(format_mac(*net.mac) == "5a:94:ef:e4:0c:ee");
  CHECK_FALSE(std::get<VirtioNet>(parse_device("virtio-net")).mac);
}

TEST_CASE("virtio-net attachments: nat, fd, unixSocketPath, type=unixgram") {
  CHECK(std::holds_alternative<NatNet>(std::get<VirtioNet>(parse_device("virtio-net,nat")).attachment));
  const auto fd = std::get<InheritedFdNet>(std::get<VirtioNet>(parse_device("virtio-net,fd=7")).attachment);
  CHECK(fd.fd == 7);

  const auto vfkit = std::get<UnixgramNet>(std::get<VirtioNet>(parse_device("virtio-net,unixSocketPath=/run/gv.sock")).attachment);
  CHECK(vfkit.path == "/run/gv.sock");
  CHECK(vfkit.vfkit_magic);

  const auto krun = std::get<UnixgramNet>(
      std::get<VirtioNet>(parse_device("virtio-net,type=unixgram,path=/p,vfkitMagic=off,offloading=off")).attachment);
  CHECK(krun.path == "/p");
  CHECK_FALSE(krun.vfkit_magic);
  const auto magic_on = std::get<UnixgramNet>(
      std::get<VirtioNet>(parse_device("virtio-net,unixSocketPath=/p,vfkitMagic=on")).attachment);
  CHECK(magic_on.vfkit_magic);
}

TEST_CASE("virtio-net errors name the bad key") {
  CHECK(device_error_key("virtio-net,mac=5a:94:ef:e4:0c") == "mac");
  CHECK(device_error_key("virtio-net,mac=01:00:5e:00:00:01") == "mac");
  CHECK(device_error_key("virtio-net,mac") == "mac");
  CHECK(device_error_key("virtio-net,nat,unixSocketPath=/p") == "nat");
  CHECK(device_error_key("virtio-net,fd=3,unixSocketPath=/p") == "fd");
  CHECK(device_error_key("virtio-net,fd=x") == "fd");
  CHECK(device_error_key("virtio-net,fd=-1") == "fd");
  CHECK(device_error_key("virtio-net,nat=1") == "nat");
  CHECK(device_error_key("virtio-net,path=/p") == "path");
  CHECK(device_error_key("virtio-net,type=unixgram") == "path");
  CHECK(device_error_key("virtio-net,type=stream,path=/p") == "type");
  CHECK(device_error_key("virtio-net,type=unixgram,path=/p,offloading=on") == "offloading");
  CHECK(device_error_key("virtio-net,vfkitMagic=off") == "vfkitMagic");
  CHECK(device_error_key("virtio-net,unixSocketPath=/p,vfkitMagic=maybe") == "vfkitMagic");
  CHECK(device_error_key("virtio-net,bogus=1") == "bogus");
  CHECK(device_error_key("virtio-net,mac=5a:94:ef:e4:0c:ee,mac=5a:94:ef:e4:0c:ef") == "mac");
}

TEST_CASE("virtio-vsock: port, socketURL, listen by default or connect") {
  const auto listen = std::get<VirtioVsock>(parse_device("virtio-vsock,port=1024,socketURL=/tmp/v.sock"));
  CHECK(listen.port == 1024);
  CHECK(listen.socket_url == "/tmp/v.sock");
  CHECK(listen.direction == VsockDirection::listen);
  const auto connect = std::get<VirtioVsock>(parse_device("virtio-vsock,port=22,socketURL=/s,connect"));
  CHECK(connect.direction == VsockDirection::connect);

  CHECK(device_error_key("virtio-vsock,socketURL=/s") == "port");
  CHECK(device_error_key("virtio-vsock,port=0,socketURL=/s") == "port");
  CHECK(device_error_key("virtio-vsock,port=4294967296,socketURL=/s") == "port");
  CHECK(device_error_key("virtio-vsock,port=1") == "socketURL");
  CHECK(device_error_key("virtio-vsock,port=1,socketURL=/s,listen,connect") == "connect");
  CHECK(std::get<VirtioVsock>(parse_device("virtio-vsock,port=2,socketURL=unix:///run/a.sock")).socket_url ==
        "/run/a.sock");
  CHECK(device_error_key("virtio-vsock,port=1,socketURL=unix://") == "socketURL");
  CHECK(device_error_key("virtio-vsock,port=1,socketURL=/" + std::string(120, 'x')) == "socketURL");
}

namespace {
/// The key check_device_set names for these device strings, or "" if it accepts them.
std::string device_set_error_key(std::initializer_list<std::string_view> texts) {
  std::vector<Device> devices;
  for (const auto text : texts) devices.push_back(parse_device(text));
  try {
    check_device_set(devices);
  } catch (const ConfigError& e) {
    return e.key();
  }
  return "";
}
}  // namespace

TEST_CASE("device set: vsock ports and sockets and virtio-fs tags are unique") {
  CHECK(device_set_error_key({"virtio-vsock,port=1,socketURL=/a", "virtio-vsock,port=2,socketURL=/b,connect",
                              "virtio-fs,sharedDir=/x,mountTag=x", "virtio-fs,sharedDir=/x,mountTag=y"}) == "");
  CHECK(device_set_error_key({"virtio-vsock,port=1,socketURL=/a", "virtio-vsock,port=1,socketURL=/b"}) == "port");
  CHECK(device_set_error_key({"virtio-vsock,port=1,socketURL=/a", "virtio-vsock,port=2,socketURL=/a"}) ==
        "socketURL");
  CHECK(device_set_error_key({"virtio-fs,sharedDir=/x,mountTag=t", "virtio-fs,sharedDir=/y,mountTag=t"}) ==
        "mountTag");
}

TEST_CASE("nvme and usb-mass-storage: disks on other controllers; no deviceId there") {
  const auto nvme = std::get<Disk>(parse_device("nvme,path=/n.img"));
  CHECK(nvme.bus == DiskBus::nvme);
  CHECK(nvme.path == "/n.img");
  CHECK_FALSE(nvme.readonly);
  const auto usb = std::get<Disk>(parse_device("usb-mass-storage,path=/distro.iso,readonly"));
  CHECK(usb.bus == DiskBus::usb);
  CHECK(usb.readonly);
  CHECK(device_error_key("nvme") == "path");
  CHECK(device_error_key("nvme,path=/n,deviceId=x") == "deviceId");
  CHECK(device_error_key("usb-mass-storage,path=/u,type=vmdk") == "type");
}

TEST_CASE("virtio-gpu, virtio-input; rosetta is refused") {
  const auto gpu = std::get<VirtioGpu>(parse_device("virtio-gpu,width=1920,height=1080"));
  CHECK(gpu.width == 1920);
  CHECK(gpu.height == 1080);
  CHECK(std::get<VirtioGpu>(parse_device("virtio-gpu")).width == 800);
  CHECK(device_error_key("virtio-gpu,width=0") == "width");
  CHECK(device_error_key("virtio-gpu,height=99999") == "height");
  CHECK(std::get<VirtioInput>(parse_device("virtio-input,pointing")).kind == InputKind::pointing);
  CHECK(std::get<VirtioInput>(parse_device("virtio-input,keyboard")).kind == InputKind::keyboard);
  CHECK(device_error_key("virtio-input") == "pointing");
  CHECK(device_error_key("virtio-input,pointing,keyboard") == "pointing");
  CHECK(device_error_key("rosetta,mountTag=r") == "rosetta");
}

TEST_CASE("virtio-blk: path, readonly, deviceId, type") {
  const auto blk = std::get<Disk>(parse_device("virtio-blk,path=/d.img,readonly,deviceId=root"));
  CHECK(blk.path == "/d.img");
  CHECK(blk.readonly);
  CHECK(blk.device_id == "root");
  CHECK(blk.type == BlockType::image);
  CHECK(std::get<Disk>(parse_device("virtio-blk,path=/dev/sdb,type=dev")).type == BlockType::dev);
  CHECK_FALSE(std::get<Disk>(parse_device("virtio-blk,path=/d,readonly=off")).readonly);

  CHECK(device_error_key("virtio-blk") == "path");
  CHECK(device_error_key("virtio-blk,path=") == "path");
  CHECK(device_error_key("virtio-blk,path=/d,type=qcow2") == "type");
  CHECK(device_error_key("virtio-blk,path=/d,deviceId=123456789012345678901") == "deviceId");
}

TEST_CASE("virtio-serial and serial: exactly one of logFilePath, stdio, pty") {
  const auto log = std::get<SerialPort>(parse_device("virtio-serial,logFilePath=/tmp/c.log"));
  CHECK(log.bus == SerialBus::virtio);
  CHECK(log.output == SerialOutput::log_file);
  CHECK(log.log_file == "/tmp/c.log");
  CHECK(std::get<SerialPort>(parse_device("virtio-serial,stdio")).output == SerialOutput::stdio);
  CHECK(std::get<SerialPort>(parse_device("virtio-serial,pty")).output == SerialOutput::pty);
  const auto isa = std::get<SerialPort>(parse_device("serial,stdio"));
  CHECK(isa.bus == SerialBus::isa);

  CHECK(device_error_key("virtio-serial") == "logFilePath");
  CHECK(device_error_key("virtio-serial,stdio,pty") == "pty");
  CHECK(device_error_key("virtio-serial,stdio=yes,logFilePath=/x") == "stdio");
}

TEST_CASE("virtio-rng, virtio-balloon take no options") {
  CHECK(std::holds_alternative<VirtioRng>(parse_device("virtio-rng")));
  CHECK(std::holds_alternative<VirtioBalloon>(parse_device("virtio-balloon")));
  CHECK(device_error_key("virtio-rng,fast") == "fast");
  CHECK(device_error_key("virtio-balloon,size=3") == "size");
}

TEST_CASE("virtio-fs: sharedDir and mountTag") {
  const auto fs = std::get<VirtioFs>(parse_device("virtio-fs,sharedDir=/srv,mountTag=share"));
  CHECK(fs.shared_dir == "/srv");
  CHECK(fs.mount_tag == "share");
  CHECK(device_error_key("virtio-fs,mountTag=t") == "sharedDir");
  CHECK(device_error_key("virtio-fs,sharedDir=/s") == "mountTag");
  CHECK(device_error_key("virtio-fs,sharedDir=/s,mountTag=0123456789012345678901234567890123456") == "mountTag");
}

TEST_CASE("unknown device types are named") {
  CHECK(device_error_key("virtio-sound") == "virtio-sound");
  CHECK(device_error_key("nbd,uri=nbd://x") == "nbd");
}

TEST_CASE("linux bootloader") {
  const auto boot = std::get<LinuxBootloader>(
      parse_bootloader("linux,kernel=/k/vmlinux,initrd=/k/initrd,\"cmdline=console=ttyS0 usernet.test=a,b\""));
  CHECK(boot.kernel == "/k/vmlinux");
  CHECK(boot.initrd == "/k/initrd");
  CHECK(boot.cmdline == "console=ttyS0 usernet.test=a,b");
  const auto bare = std::get<LinuxBootloader>(parse_bootloader("linux,kernel=/k"));
  CHECK(bare.initrd.empty());
  CHECK(bare.cmdline.empty());

  CHECK(bootloader_error_key("linux,initrd=/i") == "kernel");
  CHECK(bootloader_error_key("linux,kernel=/k,root=/dev/vda") == "root");
  CHECK(bootloader_error_key("linux,kernel=/k,kernel=/j") == "kernel");
}

TEST_CASE("efi bootloader") {
  const auto efi = std::get<EfiBootloader>(parse_bootloader("efi,variable-store=/v.fd,create"));
  CHECK(efi.variable_store == "/v.fd");
  CHECK(efi.create);
  CHECK_FALSE(std::get<EfiBootloader>(parse_bootloader("efi,variable-store=/v")).create);
  CHECK(bootloader_error_key("efi,create") == "variable-store");
  CHECK(bootloader_error_key("macos,machineIdentifierPath=/m") == "macos");
}

TEST_CASE("virtio-net transport= picks the embedded network's socket type") {
  const auto stream = std::get<VirtioNet>(parse_device("virtio-net"));
  CHECK(std::get<EmbeddedNet>(stream.attachment).socket == EmbeddedSocket::stream);
  const auto dgram = std::get<VirtioNet>(parse_device("virtio-net,transport=dgram"));
  CHECK(std::get<EmbeddedNet>(dgram.attachment).socket == EmbeddedSocket::dgram);
  CHECK(std::get<EmbeddedNet>(std::get<VirtioNet>(parse_device("virtio-net,transport=stream")).attachment).socket ==
        EmbeddedSocket::stream);
  CHECK(device_error_key("virtio-net,transport=bess") == "transport");
  CHECK(device_error_key("virtio-net,transport") == "transport");
  CHECK(device_error_key("virtio-net,unixSocketPath=/x,transport=dgram") == "transport");
  CHECK(device_error_key("virtio-net,fd=4,transport=dgram") == "transport");
}
