#include "hypervisor/vm_files.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace usernet {

namespace {

/// Adds "what path: reason" to problems unless path exists (and is a directory if wanted).
void check_path(std::vector<std::string>& problems, const std::string& what, const std::string& path,
                bool want_directory) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    problems.push_back(what + " " + path + ": " + std::strerror(errno));
  } else if (want_directory && !S_ISDIR(info.st_mode)) {
    problems.push_back(what + " " + path + ": not a directory");
  } else if (!want_directory && S_ISDIR(info.st_mode)) {
    problems.push_back(what + " " + path + ": is a directory");
  }
}

}  // namespace

std::vector<std::string> find_missing_files(const VmConfig& config) {
  std::vector<std::string> problems;
  if (config.bootloader) {
    if (const auto* linux_boot = std::get_if<LinuxBootloader>(&*config.bootloader)) {
      check_path(problems, "kernel", linux_boot->kernel, false);
      if (!linux_boot->initrd.empty()) check_path(problems, "initrd", linux_boot->initrd, false);
    } else if (const auto* efi = std::get_if<EfiBootloader>(&*config.bootloader); efi && !efi->create) {
      check_path(problems, "variable-store", efi->variable_store, false);
    }
  }
  for (const Device& device : config.devices) {
    if (const auto* disk = std::get_if<Disk>(&device)) {
      check_path(problems, std::string(disk_type_name(disk->bus)) + " path", disk->path, false);
    }
    if (const auto* fs = std::get_if<VirtioFs>(&device)) check_path(problems, "virtio-fs sharedDir", fs->shared_dir, true);
  }
  return problems;
}

}  // namespace usernet
