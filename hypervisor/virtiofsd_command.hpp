// virtiofsd's command line, without running anything: which implementation a binary is
// (QEMU's C virtiofsd, Debian 12's /usr/lib/qemu/virtiofsd, or the Rust one of Debian 13's
// virtiofsd package) told by its --help text, where to look for one, and the argv that
// serves one shared directory on a listening socket the launcher made and passes down as
// an inherited descriptor (so QEMU can connect the moment it starts: no startup race).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace usernet {

/// The two virtiofsd implementations; they take different flags.
/// qemu_c: `--fd=N -o source=D -o cache=...`; rust: `--fd=N --shared-dir D --cache ...`.
enum class VirtiofsdFlavour { qemu_c, rust };

/// The flavour whose options a `virtiofsd --help` text lists; nullopt when it is neither.
std::optional<VirtiofsdFlavour> detect_virtiofsd_flavour(std::string_view help_text);

/// Printable name of a flavour for log lines ("QEMU C virtiofsd", "Rust virtiofsd").
std::string_view virtiofsd_flavour_name(VirtiofsdFlavour flavour);

/// Where virtiofsd is looked for when --virtiofsd is not given: PATH first, then these.
inline constexpr const char* kVirtiofsdFallbacks[] = {"/usr/lib/qemu/virtiofsd", "/usr/libexec/virtiofsd"};

/// The virtiofsd to run. explicit_path (--virtiofsd) wins: a name with a '/' is taken as
/// it is, a bare name is looked up in path_env. Without it: `virtiofsd` in path_env
/// (colon-separated), then kVirtiofsdFallbacks. is_executable decides what counts.
/// Throws ConfigError (key "virtiofsd") naming what was tried when nothing fits.
std::string find_virtiofsd(std::string_view explicit_path, std::string_view path_env,
                           const std::function<bool(const std::string&)>& is_executable);

/// One share: what the launcher hands to build_virtiofsd_argv.
struct VirtiofsdRequest {
  std::string binary;
  VirtiofsdFlavour flavour = VirtiofsdFlavour::qemu_c;
  int listen_fd = -1;       // the child's descriptor number of the listening unix socket
  std::string shared_dir;   // the host directory the guest sees
  bool verbose = false;     // virtiofsd logs at info level (else errors only)
};

/// argv (argv[0] = request.binary) for one share: the inherited socket, the directory,
/// cache=auto (the guest sees host changes within about a second) and sandbox=namespace
/// (virtiofsd pivots into the shared directory; needs root or a user namespace).
/// Throws ConfigError (key "virtio-fs") for an empty directory or a negative fd.
std::vector<std::string> build_virtiofsd_argv(const VirtiofsdRequest& request);

/// Escapes a value for C virtiofsd's `-o key=value[,...]` parser: ',' and '\' get a
/// backslash, so a directory name may contain either.
std::string fuse_option_escape(std::string_view value);

}  // namespace usernet
