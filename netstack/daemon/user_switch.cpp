#include "netstack/daemon/user_switch.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

namespace usernet {

namespace {

std::optional<unsigned long> parse_id(const std::string& text) {
  unsigned long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value >= 0xffffffffUL) return std::nullopt;
  return value;
}

/// getpwnam_r/getpwuid_r with a buffer that grows until the entry fits.
std::optional<passwd> find_user(const std::string& user, std::vector<char>& buffer) {
  passwd entry{};
  passwd* found = nullptr;
  const auto id = parse_id(user);
  buffer.resize(1024);
  for (;;) {
    const int rc = id ? ::getpwuid_r(static_cast<uid_t>(*id), &entry, buffer.data(), buffer.size(), &found)
                      : ::getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (rc != ERANGE) break;
    buffer.resize(buffer.size() * 2);
  }
  if (found != nullptr) return entry;
  return std::nullopt;
}

std::optional<gid_t> find_group(const std::string& group) {
  if (auto id = parse_id(group)) return static_cast<gid_t>(*id);
  std::vector<char> buffer(1024);
  ::group entry{};
  ::group* found = nullptr;
  while (::getgrnam_r(group.c_str(), &entry, buffer.data(), buffer.size(), &found) == ERANGE)
    buffer.resize(buffer.size() * 2);
  if (found == nullptr) return std::nullopt;
  return entry.gr_gid;
}

Error failed(const char* call) { return Error{std::string(call) + ": " + std::strerror(errno)}; }

}  // namespace

Result<UserSwitchTarget> resolve_user_switch(const std::string& user, const std::string& group) {
  UserSwitchTarget target{::geteuid(), ::getegid(), {}};
  if (!user.empty()) {
    std::vector<char> buffer;
    if (auto entry = find_user(user, buffer)) {
      target.uid = entry->pw_uid;
      target.gid = entry->pw_gid;
    } else if (auto id = parse_id(user); id && !group.empty()) {
      target.uid = static_cast<uid_t>(*id);  // a bare uid needs no passwd entry (containers often have none)
    } else {
      return Error{"--user: no such user '" + user + "'" + (id ? " (a uid without a passwd entry needs --group)" : "")};
    }
  }
  if (!group.empty()) {
    auto gid = find_group(group);
    if (!gid) return Error{"--group: no such group '" + group + "'"};
    target.gid = *gid;
  }
  target.name = (user.empty() ? std::to_string(target.uid) : user) + ":" +
                (group.empty() ? std::to_string(target.gid) : group) + " (" + std::to_string(target.uid) + ":" +
                std::to_string(target.gid) + ")";
  return target;
}

Status switch_user(const UserSwitchTarget& target) {
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  ::getresuid(&ruid, &euid, &suid);
  ::getresgid(&rgid, &egid, &sgid);
  const bool already = ruid == target.uid && euid == target.uid && suid == target.uid && rgid == target.gid &&
                       egid == target.gid && sgid == target.gid;
  if (already && target.uid != 0) return {};
  // glibc applies each of these to every thread of the process.
  if (::setgroups(1, &target.gid) != 0) return failed("setgroups");
  if (::setresgid(target.gid, target.gid, target.gid) != 0) return failed("setresgid");
  if (::setresuid(target.uid, target.uid, target.uid) != 0) return failed("setresuid");
  ::getresuid(&ruid, &euid, &suid);
  ::getresgid(&rgid, &egid, &sgid);
  if (ruid != target.uid || euid != target.uid || suid != target.uid || rgid != target.gid ||
      egid != target.gid || sgid != target.gid)
    return Error{"ids did not change to " + target.name};
  if (target.uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0))
    return Error{"could become root again after the switch"};
  return {};
}

}  // namespace usernet
