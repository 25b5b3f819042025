// Leaving root after set-up: --user/--group resolved to ids, then setgroups, setgid and
// setuid, checked so that the process cannot become root again.
#pragma once

#include <sys/types.h>

#include <string>

#include "netstack/base/result.hpp"

namespace usernet {

struct UserSwitchTarget {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;  // for the log: "nobody:nogroup (65534:65534)"
};

/// Resolves --user NAME|UID and --group NAME|GID (either may be empty; a user without a
/// group takes the user's primary group, a group without a user keeps our uid); an error
/// for an unknown name or a bad number.
Result<UserSwitchTarget> resolve_user_switch(const std::string& user, const std::string& group);

/// Switches every thread to the target: supplementary groups to just target.gid, then the
/// real/effective/saved gid, then the uid. A no-op when we already are the target and not
/// root. Afterwards checks that the ids stuck and that setuid(0) fails. On failure the
/// error names the failed call with its errno text.
Status switch_user(const UserSwitchTarget& target);

}  // namespace usernet
