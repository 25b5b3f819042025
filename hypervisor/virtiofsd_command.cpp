#include "hypervisor/virtiofsd_command.hpp"

#include <algorithm>

#include "hypervisor/config_error.hpp"

namespace usernet {

namespace {

/// Splits a PATH value at ':'; an empty entry means the current directory (POSIX).
std::vector<std::string> path_directories(std::string_view path_env) {
  std::vector<std::string> directories;
  std::size_t start = 0;
  while (start <= path_env.size()) {
    const std::size_t end = std::min(path_env.find(':', start), path_env.size());
    const std::string_view entry = path_env.substr(start, end - start);
    directories.push_back(entry.empty() ? "." : std::string(entry));
    start = end + 1;
  }
  return directories;
}

/// First "<dir>/name" over the PATH directories that is executable; "" when none.
std::string search_path(std::string_view name, std::string_view path_env,
                        const std::function<bool(const std::string&)>& is_executable) {
  if (path_env.empty()) return "";
  for (const auto& directory : path_directories(path_env)) {
    std::string candidate = directory + "/" + std::string(name);
    if (is_executable(candidate)) return candidate;
  }
  return "";
}

}  // namespace

std::optional<VirtiofsdFlavour> detect_virtiofsd_flavour(std::string_view help_text) {
  // Each flavour's help names its own way to give the shared directory.
  if (help_text.find("--shared-dir") != std::string_view::npos) return VirtiofsdFlavour::rust;
  if (help_text.find("source=PATH") != std::string_view::npos) return VirtiofsdFlavour::qemu_c;
  return std::nullopt;
}

std::string_view virtiofsd_flavour_name(VirtiofsdFlavour flavour) {
  switch (flavour) {
    case VirtiofsdFlavour::qemu_c:
      return "QEMU C virtiofsd";
    case VirtiofsdFlavour::rust:
      return "Rust virtiofsd";
  }
  return "virtiofsd";
}

std::string find_virtiofsd(std::string_view explicit_path, std::string_view path_env,
                           const std::function<bool(const std::string&)>& is_executable) {
  if (!explicit_path.empty()) {
    if (explicit_path.find('/') != std::string_view::npos) {
      if (is_executable(std::string(explicit_path))) return std::string(explicit_path);
      throw ConfigError("virtiofsd", "--virtiofsd " + std::string(explicit_path) + ": not an executable file");
    }
    std::string found = search_path(explicit_path, path_env, is_executable);
    if (found.empty()) throw ConfigError("virtiofsd", "--virtiofsd " + std::string(explicit_path) + ": not found in PATH");
    return found;
  }
  if (std::string found = search_path("virtiofsd", path_env, is_executable); !found.empty()) return found;
  std::string tried = "virtiofsd in PATH";
  for (const char* fallback : kVirtiofsdFallbacks) {
    if (is_executable(fallback)) return fallback;
    tried += std::string(", ") + fallback;
  }
  throw ConfigError("virtiofsd", "virtio-fs needs virtiofsd, found none (tried " + tried +
                                     "); install qemu-system-common or virtiofsd, or pass --virtiofsd PATH");
}

std::string fuse_option_escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::vector<std::string> build_virtiofsd_argv(const VirtiofsdRequest& request) {
  if (request.shared_dir.empty()) throw ConfigError("virtio-fs", "virtio-fs: sharedDir is empty");
  if (request.listen_fd < 0) throw ConfigError("virtio-fs", "internal: no listening socket for virtiofsd");
  const std::string fd = "--fd=" + std::to_string(request.listen_fd);
  // Errors only unless verbose: C virtiofsd warns about harmless things on every disconnect.
  switch (request.flavour) {
    case VirtiofsdFlavour::qemu_c:
      return {request.binary, fd, "-o", "source=" + fuse_option_escape(request.shared_dir), "-o", "cache=auto",
              "-o", "sandbox=namespace", "-o", request.verbose ? "log_level=info" : "log_level=err"};
    case VirtiofsdFlavour::rust:
      return {request.binary, fd, "--shared-dir=" + request.shared_dir, "--cache=auto", "--sandbox=namespace",
              request.verbose ? "--log-level=info" : "--log-level=error"};
  }
  throw ConfigError("virtio-fs", "internal: unknown virtiofsd flavour");
}

}  // namespace usernet
