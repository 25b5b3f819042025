#include "netstack/daemon/capabilities.hpp"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace usernet {

namespace {

Error failed(const char* call) { return Error{std::string(call) + ": " + std::strerror(errno)}; }

/// The highest capability this kernel knows (newer kernels add some).
int last_capability() {
  int last = CAP_LAST_CAP;
  std::ifstream("/proc/sys/kernel/cap_last_cap") >> last;
  return last;
}

bool capability_sets(__user_cap_data_struct (&data)[_LINUX_CAPABILITY_U32S_3]) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  return ::syscall(SYS_capget, &header, data) == 0;
}

}  // namespace

Status forbid_new_privileges() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return failed("prctl(PR_SET_NO_NEW_PRIVS)");
  return {};
}

Status clear_capability_bounding_set(bool& skipped) {
  skipped = false;
  const int last = last_capability();
  bool any_left = false;
  for (int cap = 0; cap <= last; ++cap) any_left = any_left || ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1;
  if (!any_left) return {};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (!capability_sets(data)) return failed("capget");
  if ((data[CAP_TO_INDEX(CAP_SETPCAP)].effective & CAP_TO_MASK(CAP_SETPCAP)) == 0) {
    skipped = true;
    return {};
  }
  for (int cap = 0; cap <= last; ++cap)
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      return failed("prctl(PR_CAPBSET_DROP)");
  return {};
}

Status drop_all_capabilities() {
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return failed("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3]{};
  if (::syscall(SYS_capset, &header, none) != 0) return failed("capset");
  __user_cap_data_struct now[_LINUX_CAPABILITY_U32S_3]{};
  if (!capability_sets(now)) return failed("capget");
  for (const auto& word : now)
    if (word.effective != 0 || word.permitted != 0 || word.inheritable != 0)
      return Error{"capabilities still set after capset"};
  return {};
}

}  // namespace usernet
