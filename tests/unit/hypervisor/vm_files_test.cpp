#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "hypervisor/vm_files.hpp"

using namespace usernet;

TEST_CASE("find_missing_files reports the kernel, initrd, disks and shares that are not there") {
  char dir_template[] = "/tmp/usernet-vmfiles-XXXXXX";
  const std::string dir = ::mkdtemp(dir_template);
  const std::string kernel = dir + "/vmlinux";
  std::FILE* f = std::fopen(kernel.c_str(), "w");
  REQUIRE(f != nullptr);
  std::fclose(f);

  VmConfig config;
  config.bootloader = LinuxBootloader{kernel, dir + "/missing-initrd", ""};
  config.devices.push_back(Disk{dir + "/missing.img", false, "", BlockType::image});
  config.devices.push_back(VirtioFs{kernel, "tag"});  // a file, not a directory
  config.devices.push_back(VirtioFs{dir, "ok"});
  const auto problems = find_missing_files(config);
  REQUIRE(problems.size() == 3);
  CHECK(problems[0] == "initrd " + dir + "/missing-initrd: No such file or directory");
  CHECK(problems[1] == "virtio-blk path " + dir + "/missing.img: No such file or directory");
  CHECK(problems[2] == "virtio-fs sharedDir " + kernel + ": not a directory");

  config.bootloader = LinuxBootloader{dir, "", ""};
  config.devices.clear();
  CHECK(find_missing_files(config) == std::vector<std::string>{"kernel " + dir + ": is a directory"});

  config.bootloader = EfiBootloader{dir + "/vars.fd", true};
  CHECK(find_missing_files(config).empty());
  config.bootloader = EfiBootloader{dir + "/vars.fd", false};
  CHECK(find_missing_files(config).size() == 1);

  ::unlink(kernel.c_str());
  ::rmdir(dir.c_str());
}
