#include "hypervisor/kvm_probe.hpp"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "netstack/base/text_file.hpp"

namespace usernet {

bool cpuinfo_has_virtualization(std::string_view cpuinfo) {
  std::size_t start = 0;
  while (start < cpuinfo.size()) {
    std::size_t end = cpuinfo.find('\n', start);
    if (end == std::string_view::npos) end = cpuinfo.size();
    const std::string_view line = cpuinfo.substr(start, end - start);
    start = end + 1;
    if (!line.starts_with("flags")) continue;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    // Whole words only: "vmx" must not match inside another flag name.
    std::string_view flags = line.substr(colon + 1);
    while (!flags.empty()) {
      const auto word_start = flags.find_first_not_of(" \t");
      if (word_start == std::string_view::npos) break;
      flags.remove_prefix(word_start);
      const auto word_end = flags.find_first_of(" \t");
      const std::string_view word = flags.substr(0, word_end);
      if (word == "vmx" || word == "svm") return true;
      if (word_end == std::string_view::npos) break;
      flags.remove_prefix(word_end);
    }
  }
  return false;
}

KvmFacts probe_kvm() {
  KvmFacts facts;
  const int kvm = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) {
    facts.open_error = std::strerror(errno);
  } else {
    facts.device_opens = true;
    facts.api_version = ::ioctl(kvm, KVM_GET_API_VERSION, 0);
    const int vm = ::ioctl(kvm, KVM_CREATE_VM, 0);
    facts.creates_vm = vm >= 0;
    if (vm >= 0) ::close(vm);
    ::close(kvm);
  }
  facts.hardware_virtualization = cpuinfo_has_virtualization(read_text_file("/proc/cpuinfo").value_or(""));
  struct stat info {};
  facts.paravirtual_only = ::stat("/sys/module/kvm_pvm", &info) == 0;
  return facts;
}

AccelDecision choose_accel(const KvmFacts& facts) {
  if (!facts.device_opens) return {Accel::tcg, "/dev/kvm cannot be opened (" + facts.open_error + ")"};
  if (facts.api_version != KVM_API_VERSION) {
    return {Accel::tcg, "/dev/kvm has API version " + std::to_string(facts.api_version)};
  }
  if (!facts.creates_vm) return {Accel::tcg, "/dev/kvm refuses to create a VM"};
  if (facts.paravirtual_only) return {Accel::tcg, "KVM is nested PVM here (kvm_pvm), which runs only PVM guest kernels"};
  if (!facts.hardware_virtualization) return {Accel::tcg, "the CPU has no vmx/svm flag"};
  return {Accel::kvm, "/dev/kvm works and the CPU has hardware virtualization"};
}

}  // namespace usernet
