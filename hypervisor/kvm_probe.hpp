// Whether KVM can run an ordinary guest kernel here, for `--accel auto` (the default):
// usernet-vm uses KVM when it works and TCG otherwise. /dev/kvm existing is not enough:
// a nested "PVM" host (kvm_pvm module, no vmx/svm) accepts KVM_CREATE_VM but runs only
// PVM-built guest kernels, and a stock kernel then spins forever after its real-mode setup.
#pragma once

#include <string>
#include <string_view>

#include "hypervisor/vm_config.hpp"

namespace usernet {

/// What the probe found out about this machine.
struct KvmFacts {
  bool device_opens = false;            // /dev/kvm opened read-write
  std::string open_error;               // why not, if it did not
  int api_version = -1;                 // KVM_GET_API_VERSION (12 is the stable API)
  bool creates_vm = false;              // KVM_CREATE_VM succeeded
  bool hardware_virtualization = false; // the CPU flags include vmx or svm
  bool paravirtual_only = false;        // the kvm_pvm module is loaded
};

/// The accelerator chosen for `--accel auto`, and the reason, for the log.
struct AccelDecision {
  Accel accel = Accel::tcg;
  std::string reason;
};

/// Opens /dev/kvm, asks its API version, creates (and drops) a VM, and reads the CPU flags
/// and the loaded modules. Never throws.
KvmFacts probe_kvm();

/// KVM only when every fact says a stock guest kernel will run; otherwise TCG with the
/// first reason it cannot.
AccelDecision choose_accel(const KvmFacts& facts);

/// True when the "flags" line of /proc/cpuinfo text names vmx (Intel VT-x) or svm (AMD-V).
bool cpuinfo_has_virtualization(std::string_view cpuinfo);

}  // namespace usernet
