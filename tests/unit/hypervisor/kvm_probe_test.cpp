#include <doctest/doctest.h>

#include "hypervisor/kvm_probe.hpp"

using namespace usernet;

namespace {
/// Facts of a machine where KVM runs stock guests.
KvmFacts working_kvm() {
  KvmFacts facts;
  facts.device_opens = true;
  facts.api_version = 12;
  facts.creates_vm = true;
  facts.hardware_virtualization = true;
  return facts;
}
}  // namespace

TEST_CASE("cpuinfo: vmx or svm as whole words in a flags line") {
  CHECK(cpuinfo_has_virtualization("processor\t: 0\nflags\t\t: fpu vme de vmx sse\n"));
  CHECK(cpuinfo_has_virtualization("flags\t: fpu svm\n"));
  CHECK_FALSE(cpuinfo_has_virtualization("flags\t: fpu vme de pse sse2 hypervisor\n"));
  CHECK_FALSE(cpuinfo_has_virtualization("flags\t: vmxx svmfoo\n"));
  CHECK_FALSE(cpuinfo_has_virtualization("model name\t: vmx svm\nflags\t: fpu\n"));
  CHECK_FALSE(cpuinfo_has_virtualization(""));
  CHECK_FALSE(cpuinfo_has_virtualization("flags"));
}

TEST_CASE("auto accelerator: KVM only when everything says it runs stock guests") {
  CHECK(choose_accel(working_kvm()).accel == Accel::kvm);

  auto closed = working_kvm();
  closed.device_opens = false;
  closed.open_error = "No such file or directory";
  CHECK(choose_accel(closed).accel == Accel::tcg);
  CHECK(choose_accel(closed).reason.find("No such file") != std::string::npos);

  auto old_api = working_kvm();
  old_api.api_version = 11;
  CHECK(choose_accel(old_api).accel == Accel::tcg);

  auto no_vm = working_kvm();
  no_vm.creates_vm = false;
  CHECK(choose_accel(no_vm).accel == Accel::tcg);

  auto pvm = working_kvm();  // this build machine: nested PVM, no vmx flag
  pvm.paravirtual_only = true;
  pvm.hardware_virtualization = false;
  CHECK(choose_accel(pvm).accel == Accel::tcg);
  CHECK(choose_accel(pvm).reason.find("PVM") != std::string::npos);

  auto no_flag = working_kvm();
  no_flag.hardware_virtualization = false;
  CHECK(choose_accel(no_flag).accel == Accel::tcg);
}
