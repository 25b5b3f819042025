// Pre-start checks of the files a VM config names, so a missing kernel is reported by the
// launcher before QEMU starts (QEMU's own errors come late and are harder to read).
#pragma once

#include <string>
#include <vector>

#include "hypervisor/vm_config.hpp"

namespace usernet {

/// One line per problem ("kernel /x/vmlinux: No such file or directory"); empty when all
/// files are there: kernel, initrd, virtio-blk paths, virtio-fs shared directories, the
/// EFI variable store (unless it is to be created).
std::vector<std::string> find_missing_files(const VmConfig& config);

}  // namespace usernet
