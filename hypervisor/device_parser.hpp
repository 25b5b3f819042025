// vfkit-style --device and --bootloader strings -> VM model. Errors are ConfigError
// naming the bad key (the caller exits with status 2).
#pragma once

#include <string_view>
#include <vector>

#include "hypervisor/vm_config.hpp"

namespace usernet {

/// Parses one --device value, e.g. "virtio-net,mac=5a:94:ef:e4:0c:ee" or
/// "virtio-blk,path=disk.img,readonly,deviceId=root". Types: virtio-net, virtio-vsock,
/// virtio-blk, nvme, usb-mass-storage, virtio-serial, serial (QEMU extension: COM1/ttyS0),
/// virtio-rng, virtio-balloon, virtio-fs, virtio-gpu, virtio-input.
Device parse_device(std::string_view text);

/// Checks what single devices cannot: each vsock port and each vsock socketURL appears
/// once (vfkit: one device per port), each virtio-fs mountTag once. Throws ConfigError.
void check_device_set(const std::vector<Device>& devices);

/// Parses one --bootloader value: "linux,kernel=K[,initrd=I][,cmdline=C]" or
/// "efi,variable-store=V[,create]".
Bootloader parse_bootloader(std::string_view text);

}  // namespace usernet
