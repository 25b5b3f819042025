#!/usr/bin/env bash
# The one test command (README, .ci/run): installs dependencies, builds, and runs every
# test — unit tests, namespace integration tests and QEMU e2e tests under ASan/UBSan,
# plus a short run of each fuzz target. Needs root (network namespaces, TAP devices).
#
#   tools/test.sh          # everything (root)
#   tools/test.sh --unit   # build and run only the unit tests; no root, dependencies
#                          # already installed (tools/setup-deps.sh once, as root)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = --unit ]; then
  cmake --preset asan >/dev/null && cmake --build --preset asan
  exec ctest --preset asan -L unit --output-on-failure
fi

if [ "$(id -u)" != 0 ]; then
  echo "tools/test.sh: run as root (it creates network namespaces and TAP devices)" >&2
  exit 1
fi

tools/setup-deps.sh

# The sanitizer build runs the tests; the release build gives the RSS test its usernetd
# and the vsock e2e tests their static usernet-forwarder (tools/bench needs the whole preset).
cmake --preset asan >/dev/null && cmake --build --preset asan
cmake --preset release >/dev/null && cmake --build --preset release --target usernetd usernet-forwarder

# clang-tidy over our sources (.clang-tidy); any finding fails the run.
tools/tidy.sh build/asan

# ThreadSanitizer: the SSH forwards run libssh sessions on a worker thread next to the
# loop; their unit tests and the sshd integration test (real sshd, real relays) run under TSan.
cmake --preset tsan >/dev/null && cmake --build --preset tsan --target unit_netstack usernetd
ctest --preset tsan -R 'unit.netstack|integration.test_ssh_forward' --output-on-failure

# Fuzz each protocol engine briefly (clang + libFuzzer); a crash fails the run.
cmake --preset fuzz >/dev/null && cmake --build --preset fuzz --target fuzz_targets
fuzz_seconds=${USERNET_FUZZ_SECONDS:-20}
for target in build/fuzz/tests/fuzz/fuzz_*; do
  [ -x "$target" ] || continue
  name=$(basename "$target")
  # Seeds: the target's own corpus and every past crash; new inputs go to a scratch dir.
  seeds=tests/fuzz/regressions
  [ -d "tests/fuzz/corpus/$name" ] && seeds="tests/fuzz/corpus/$name $seeds"
  corpus=$(mktemp -d)
  echo "fuzzing $name for ${fuzz_seconds}s"
  # shellcheck disable=SC2086  # seeds is a list of directories
  "$target" -max_total_time="$fuzz_seconds" -artifact_prefix=build/fuzz/ "$corpus" $seeds 2>&1 | tail -n 3
  rm -rf "$corpus"
done

ctest --preset asan --output-on-failure
