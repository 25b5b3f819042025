#include <doctest/doctest.h>

#include <algorithm>

#include "hypervisor/config_error.hpp"
#include "hypervisor/device_parser.hpp"
#include "hypervisor/qemu_argv.hpp"

using namespace usernet;

namespace {
/// A config booting /k with the given --device strings.
VmConfig config_with(std::initializer_list<std::string_view> devices) {
  VmConfig config;
  config.cpus = 2;
  config.memory_mib = 256;
  config.bootloader = LinuxBootloader{"/k", "/i", "console=ttyS0 quiet"};
  for (const auto text : devices) config.devices.push_back(parse_device(text));
  return config;
}

QemuRuntime runtime() {
  QemuRuntime rt;
  rt.qmp_socket = "/run/vm/qmp.sock";
  return rt;
}

/// The argument after each occurrence of option, in order.
std::vector<std::string> values_of(const std::vector<std::string>& argv, std::string_view option) {
  std::vector<std::string> values;
  for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == option) values.push_back(argv[i + 1]);
  }
  return values;
}

bool contains(const std::vector<std::string>& argv, std::string_view word) {
  return std::find(argv.begin(), argv.end(), word) != argv.end();
}

std::string error_key(const VmConfig& config, const QemuRuntime& rt) {
  try {
    build_qemu_argv(config, rt);
  } catch (const ConfigError& e) {
    return e.key();
  }
  return "";
}
}  // namespace

TEST_CASE("base command line: TCG, no defaults, no display, no reboot, QMP socket") {
  const auto argv = build_qemu_argv(config_with({}), runtime());
  CHECK(argv.front() == "qemu-system-x86_64");
  CHECK(contains(argv, "-nodefaults"));
  CHECK(contains(argv, "-no-reboot"));
  CHECK(values_of(argv, "-display") == std::vector<std::string>{"none"});
  CHECK(values_of(argv, "-accel") == std::vector<std::string>{"tcg"});
  CHECK(values_of(argv, "-smp") == std::vector<std::string>{"2"});
  CHECK(values_of(argv, "-m") == std::vector<std::string>{"256M"});
  CHECK(values_of(argv, "-machine") == std::vector<std::string>{"pc"});
  CHECK(values_of(argv, "-kernel") == std::vector<std::string>{"/k"});
  CHECK(values_of(argv, "-initrd") == std::vector<std::string>{"/i"});
  CHECK(values_of(argv, "-append") == std::vector<std::string>{"console=ttyS0 quiet"});
  CHECK(values_of(argv, "-chardev") ==
        std::vector<std::string>{"socket,id=qmp,path=/run/vm/qmp.sock,server=on,wait=off"});
  CHECK(values_of(argv, "-mon") == std::vector<std::string>{"chardev=qmp,mode=control"});
  CHECK(values_of(argv, "-pidfile").empty());
  CHECK(values_of(argv, "-cpu") == std::vector<std::string>{"max"});
}

TEST_CASE("kvm adds -cpu host; pidfile is passed on") {
  auto config = config_with({});
  config.accel = Accel::kvm;
  config.pidfile = "/run/vm.pid";
  const auto argv = build_qemu_argv(config, runtime());
  CHECK(values_of(argv, "-accel") == std::vector<std::string>{"kvm"});
  CHECK(values_of(argv, "-cpu") == std::vector<std::string>{"host"});
  CHECK(values_of(argv, "-pidfile") == std::vector<std::string>{"/run/vm.pid"});
}

TEST_CASE("linux bootloader without initrd and cmdline omits them") {
  auto config = config_with({});
  config.bootloader = LinuxBootloader{"/k", "", ""};
  const auto argv = build_qemu_argv(config, runtime());
  CHECK(values_of(argv, "-initrd").empty());
  CHECK(values_of(argv, "-append").empty());
}

TEST_CASE("efi bootloader: OVMF code read-only plus the variable store") {
  auto config = config_with({});
  config.bootloader = EfiBootloader{"/vm/vars,1.fd", false};
  const auto argv = build_qemu_argv(config, runtime());
  CHECK(values_of(argv, "-kernel").empty());
  CHECK(values_of(argv, "-drive") ==
        std::vector<std::string>{"if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
                                 "if=pflash,format=raw,file=/vm/vars,,1.fd"});
}

TEST_CASE("embedded virtio-net uses the launcher's socketpair fd (stream or dgram)") {
  auto rt = runtime();
  rt.net_fds = {{5, NetFdKind::stream}};
  auto argv = build_qemu_argv(config_with({"virtio-net,mac=5a:94:ef:e4:0c:ee"}), rt);
  CHECK(values_of(argv, "-netdev") == std::vector<std::string>{"stream,id=net0,addr.type=fd,addr.str=5"});
  CHECK(values_of(argv, "-device") ==
        std::vector<std::string>{"virtio-net-pci,netdev=net0,romfile=,mac=5a:94:ef:e4:0c:ee"});

  rt.net_fds = {{6, NetFdKind::dgram}};
  argv = build_qemu_argv(config_with({"virtio-net"}), rt);
  CHECK(values_of(argv, "-netdev") == std::vector<std::string>{"dgram,id=net0,local.type=fd,local.str=6"});
  CHECK(values_of(argv, "-device") == std::vector<std::string>{"virtio-net-pci,netdev=net0,romfile="});
}

TEST_CASE("unixgram virtio-net and fd=N use the descriptors the launcher mapped; nat uses slirp") {
  auto rt = runtime();
  // fd=4 in the launcher reaches QEMU as its descriptor 10 (the launcher maps it like its
  // own sockets, so N can never collide with them).
  rt.net_fds = {{9, NetFdKind::dgram}, {10, NetFdKind::dgram}};
  const auto argv = build_qemu_argv(
      config_with({"virtio-net,nat", "virtio-net,unixSocketPath=/gv.sock", "virtio-net,fd=4"}), rt);
  CHECK(values_of(argv, "-netdev") == std::vector<std::string>{"user,id=net0",
                                                               "dgram,id=net1,local.type=fd,local.str=9",
                                                               "dgram,id=net2,local.type=fd,local.str=10"});
  CHECK(values_of(argv, "-device").size() == 3);
}

TEST_CASE("virtio-net needing a socket fails clearly when the launcher prepared none, or too many") {
  CHECK(error_key(config_with({"virtio-net"}), runtime()) == "virtio-net");
  CHECK(error_key(config_with({"virtio-net,fd=4"}), runtime()) == "virtio-net");
  auto rt = runtime();
  rt.net_fds = {{5, NetFdKind::stream}};
  CHECK(error_key(config_with({"virtio-net,nat"}), rt) == "virtio-net");
}

TEST_CASE("virtio-vsock: one vhost-user device for all ports, with shared memfd RAM") {
  auto rt = runtime();
  rt.vsock_socket = "/run/vm/vhost-vsock.sock";
  const auto config = config_with({"virtio-vsock,port=1024,socketURL=/a", "virtio-vsock,port=22,socketURL=/b,connect"});
  CHECK(needs_shared_memory(config));
  const auto argv = build_qemu_argv(config, rt);
  CHECK(values_of(argv, "-device") == std::vector<std::string>{"vhost-user-vsock-pci,chardev=vsock"});
  CHECK(contains(argv, "socket,id=vsock,path=/run/vm/vhost-vsock.sock"));
  CHECK(values_of(argv, "-object") == std::vector<std::string>{"memory-backend-memfd,id=mem,size=256M,share=on"});
  CHECK(values_of(argv, "-machine") == std::vector<std::string>{"pc,memory-backend=mem"});
  CHECK(error_key(config, runtime()) == "virtio-vsock");
}

TEST_CASE("virtio-blk: raw drive, readonly, serial from deviceId, commas escaped") {
  const auto argv = build_qemu_argv(
      config_with({"virtio-blk,\"path=/img/a,b.raw\",readonly,deviceId=root", "virtio-blk,path=/dev/sdb,type=dev"}),
      runtime());
  CHECK(values_of(argv, "-drive") == std::vector<std::string>{"if=none,id=blk0,format=raw,file=/img/a,,b.raw,readonly=on",
                                                              "if=none,id=blk1,format=raw,file=/dev/sdb"});
  CHECK(values_of(argv, "-device") ==
        std::vector<std::string>{"virtio-blk-pci,drive=blk0,serial=root", "virtio-blk-pci,drive=blk1"});
}

TEST_CASE("nvme needs a serial; USB sticks share one xHCI controller; gpu and input devices") {
  const auto argv = build_qemu_argv(
      config_with({"nvme,path=/n.img", "usb-mass-storage,path=/a.iso,readonly", "usb-mass-storage,path=/b.img",
                   "virtio-gpu,width=1024,height=768", "virtio-input,pointing", "virtio-input,keyboard"}),
      runtime());
  CHECK(values_of(argv, "-drive") == std::vector<std::string>{"if=none,id=nvme0,format=raw,file=/n.img",
                                                              "if=none,id=usb1,format=raw,file=/a.iso,readonly=on",
                                                              "if=none,id=usb2,format=raw,file=/b.img"});
  CHECK(values_of(argv, "-device") ==
        std::vector<std::string>{"nvme,drive=nvme0,serial=usernet0", "qemu-xhci,id=usb",
                                 "usb-storage,bus=usb.0,drive=usb1,removable=on",
                                 "usb-storage,bus=usb.0,drive=usb2,removable=on", "virtio-gpu-pci,xres=1024,yres=768",
                                 "virtio-tablet-pci", "virtio-keyboard-pci"});
}

TEST_CASE("virtio-blk path with a comma is one option, not two") {
  // split_options would cut "path=/img/a,b.raw" at the comma; quoting keeps it whole.
  const auto blk = std::get<Disk>(parse_device("virtio-blk,\"path=/img/a,b.raw\""));
  CHECK(blk.path == "/img/a,b.raw");
}

TEST_CASE("serial ports: virtconsole on virtio-serial-pci, or COM1 for the isa extension") {
  const auto argv = build_qemu_argv(
      config_with({"virtio-serial,logFilePath=/log/c.txt", "serial,stdio", "virtio-serial,pty"}), runtime());
  CHECK(values_of(argv, "-chardev") ==
        std::vector<std::string>{"file,path=/log/c.txt,id=console0", "stdio,signal=off,id=serial0", "pty,id=console1",
                                 "socket,id=qmp,path=/run/vm/qmp.sock,server=on,wait=off"});
  CHECK(values_of(argv, "-serial") == std::vector<std::string>{"chardev:serial0"});
  CHECK(values_of(argv, "-device") ==
        std::vector<std::string>{"virtio-serial-pci,id=vserial0", "virtconsole,bus=vserial0.0,chardev=console0",
                                 "virtio-serial-pci,id=vserial1", "virtconsole,bus=vserial1.0,chardev=console1"});
}

TEST_CASE("only one serial port may use stdio") {
  CHECK(error_key(config_with({"serial,stdio", "virtio-serial,stdio"}), runtime()) == "stdio");
}

TEST_CASE("virtio-rng and virtio-balloon") {
  const auto argv = build_qemu_argv(config_with({"virtio-rng", "virtio-balloon"}), runtime());
  CHECK(values_of(argv, "-object") == std::vector<std::string>{"rng-random,id=rng0,filename=/dev/urandom"});
  CHECK(values_of(argv, "-device") == std::vector<std::string>{"virtio-rng-pci,rng=rng0", "virtio-balloon-pci,id=balloon0"});
  CHECK_FALSE(needs_shared_memory(config_with({"virtio-rng", "virtio-balloon"})));
}

TEST_CASE("virtio-fs: vhost-user-fs-pci on virtiofsd's socket, shared memory") {
  auto rt = runtime();
  rt.virtiofs_sockets = {"/run/vm/fs0.sock"};
  const auto config = config_with({"virtio-fs,sharedDir=/srv,mountTag=share"});
  const auto argv = build_qemu_argv(config, rt);
  CHECK(values_of(argv, "-device") == std::vector<std::string>{"vhost-user-fs-pci,chardev=fs0,tag=share"});
  CHECK(contains(argv, "socket,id=fs0,path=/run/vm/fs0.sock"));
  CHECK(values_of(argv, "-machine") == std::vector<std::string>{"pc,memory-backend=mem"});
  CHECK(error_key(config, runtime()) == "virtio-fs");
}

TEST_CASE("config errors: no bootloader, zero cpus or memory, no QMP path") {
  auto config = config_with({});
  config.bootloader.reset();
  CHECK(error_key(config, runtime()) == "bootloader");
  config = config_with({});
  config.cpus = 0;
  CHECK(error_key(config, runtime()) == "cpus");
  config = config_with({});
  config.memory_mib = 0;
  CHECK(error_key(config, runtime()) == "memory");
  CHECK(error_key(config_with({}), QemuRuntime{}) == "qmp");
}

TEST_CASE("qemu_escape doubles commas only") {
  CHECK(qemu_escape("a,b,,c") == "a,,b,,,,c");
  CHECK(qemu_escape("plain/path") == "plain/path");
  CHECK(qemu_escape("") == "");
}
