// virtiofsd's command line: flavour detection from --help text, the search for a binary
// and the argv for one share, errors included.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "hypervisor/config_error.hpp"
#include "hypervisor/virtiofsd_command.hpp"

using namespace usernet;

namespace {

// Abridged help texts in each flavour's own layout.
constexpr std::string_view kQemuHelp =
    "usage: /usr/lib/qemu/virtiofsd [options]\n\n"
    "    -o cache=<mode>            cache mode. could be one of \"auto, always, none\"\n"
    "    -o source=PATH             shared directory tree\n"
    "    --socket-path=PATH         path for the vhost-user socket\n"
    "    --fd=FDNUM                 fd number of vhost-user socket\n";
constexpr std::string_view kRustHelp =
    "virtiofsd 1.10.1\nvhost-user virtio-fs device backend written in Rust\n\n"
    "Usage: virtiofsd [OPTIONS]\n\nOptions:\n"
    "      --shared-dir <shared-dir>    Shared directory path\n"
    "      --socket-path <socket-path>  vhost-user socket path\n"
    "      --fd <fd>                    File descriptor for the listening socket\n";

/// An is_executable predicate that accepts exactly the given paths.
auto only(std::set<std::string> paths) {
  return [paths = std::move(paths)](const std::string& path) { return paths.count(path) > 0; };
}

/// The ConfigError message find_virtiofsd throws ("" when it returns).
std::string find_error(std::string_view explicit_path, std::string_view path_env, std::set<std::string> executables) {
  try {
    find_virtiofsd(explicit_path, path_env, only(std::move(executables)));
  } catch (const ConfigError& e) {
    CHECK(e.key() == "virtiofsd");
    return e.what();
  }
  return "";
}

VirtiofsdRequest request(VirtiofsdFlavour flavour, std::string dir) {
  return VirtiofsdRequest{"/bin/virtiofsd", flavour, 3, std::move(dir), false};
}

}  // namespace

TEST_CASE("flavour: QEMU's C virtiofsd lists -o source=PATH, the Rust one --shared-dir") {
  CHECK(detect_virtiofsd_flavour(kQemuHelp) == VirtiofsdFlavour::qemu_c);
  CHECK(detect_virtiofsd_flavour(kRustHelp) == VirtiofsdFlavour::rust);
  CHECK_FALSE(detect_virtiofsd_flavour(""));
  CHECK_FALSE(detect_virtiofsd_flavour("Usage: cat [OPTION]... [FILE]...\n"));
  CHECK_FALSE(detect_virtiofsd_flavour("--socket-path=PATH --fd=FDNUM"));  // both have these
  CHECK(virtiofsd_flavour_name(VirtiofsdFlavour::qemu_c) == "QEMU C virtiofsd");
  CHECK(virtiofsd_flavour_name(VirtiofsdFlavour::rust) == "Rust virtiofsd");
}

TEST_CASE("find_virtiofsd: PATH first, then /usr/lib/qemu, then /usr/libexec") {
  const std::string path_env = "/opt/bin::/usr/bin";
  CHECK(find_virtiofsd("", path_env, only({"/usr/bin/virtiofsd", "/usr/lib/qemu/virtiofsd"})) == "/usr/bin/virtiofsd");
  CHECK(find_virtiofsd("", path_env, only({"/opt/bin/virtiofsd", "/usr/bin/virtiofsd"})) == "/opt/bin/virtiofsd");
  CHECK(find_virtiofsd("", path_env, only({"./virtiofsd"})) == "./virtiofsd");  // empty entry = "."
  CHECK(find_virtiofsd("", path_env, only({"/usr/lib/qemu/virtiofsd", "/usr/libexec/virtiofsd"})) ==
        "/usr/lib/qemu/virtiofsd");
  CHECK(find_virtiofsd("", "", only({"/usr/libexec/virtiofsd"})) == "/usr/libexec/virtiofsd");
  const std::string none = find_error("", path_env, {"/usr/bin/qemu-system-x86_64"});
  CHECK(none.find("found none") != std::string::npos);
  CHECK(none.find("/usr/lib/qemu/virtiofsd") != std::string::npos);
  CHECK(none.find("/usr/libexec/virtiofsd") != std::string::npos);
  CHECK(none.find("--virtiofsd") != std::string::npos);
}

TEST_CASE("find_virtiofsd: --virtiofsd wins and is never replaced by a fallback") {
  const std::set<std::string> everywhere = {"/usr/bin/virtiofsd", "/usr/lib/qemu/virtiofsd", "/srv/vfsd",
                                            "/usr/bin/my-vfsd"};
  CHECK(find_virtiofsd("/srv/vfsd", "/usr/bin", only(everywhere)) == "/srv/vfsd");
  CHECK(find_virtiofsd("my-vfsd", "/usr/bin", only(everywhere)) == "/usr/bin/my-vfsd");  // bare name: PATH
  CHECK(find_error("/srv/missing", "/usr/bin", everywhere) == "--virtiofsd /srv/missing: not an executable file");
  CHECK(find_error("missing", "/usr/bin", everywhere) == "--virtiofsd missing: not found in PATH");
}

TEST_CASE("argv for QEMU's C virtiofsd: inherited fd, -o source, cache=auto, namespace sandbox") {
  const auto argv = build_virtiofsd_argv(request(VirtiofsdFlavour::qemu_c, "/srv/share"));
  const std::vector<std::string> expected = {"/bin/virtiofsd", "--fd=3", "-o", "source=/srv/share", "-o",
                                             "cache=auto", "-o", "sandbox=namespace", "-o", "log_level=err"};
  CHECK(argv == expected);
  auto verbose = request(VirtiofsdFlavour::qemu_c, "/srv/share");
  verbose.verbose = true;
  verbose.listen_fd = 7;
  const auto loud = build_virtiofsd_argv(verbose);
  CHECK(loud[1] == "--fd=7");
  CHECK(loud.back() == "log_level=info");
}

TEST_CASE("argv for the Rust virtiofsd: --shared-dir, --cache, --sandbox") {
  const auto argv = build_virtiofsd_argv(request(VirtiofsdFlavour::rust, "/srv/a,b"));
  const std::vector<std::string> expected = {"/bin/virtiofsd",  "--fd=3",    "--shared-dir=/srv/a,b",
                                             "--cache=auto", "--sandbox=namespace", "--log-level=error"};
  CHECK(argv == expected);  // one argv word: a comma needs no escaping
}

TEST_CASE("C virtiofsd's -o parser: ',' and '\\' in a directory are escaped") {
  CHECK(fuse_option_escape("/srv/plain") == "/srv/plain");
  CHECK(fuse_option_escape("/srv/a,b") == "/srv/a\\,b");
  CHECK(fuse_option_escape("/srv/back\\slash,") == "/srv/back\\\\slash\\,");
  CHECK(fuse_option_escape("") == "");
  const auto argv = build_virtiofsd_argv(request(VirtiofsdFlavour::qemu_c, "/srv/x,cache=none"));
  CHECK(argv[3] == "source=/srv/x\\,cache=none");  // cannot smuggle in another option
}

TEST_CASE("argv errors: empty directory, no socket") {
  auto check_error = [](const VirtiofsdRequest& r, std::string_view text) {
    try {
      build_virtiofsd_argv(r);
      FAIL("no error for " << text);
    } catch (const ConfigError& e) {
      CHECK(e.key() == "virtio-fs");
      CHECK(std::string(e.what()).find(text) != std::string::npos);
    }
  };
  check_error(request(VirtiofsdFlavour::qemu_c, ""), "sharedDir is empty");
  auto no_fd = request(VirtiofsdFlavour::rust, "/srv");
  no_fd.listen_fd = -1;
  check_error(no_fd, "no listening socket");
}
