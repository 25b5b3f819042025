#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy) over usernet's own sources, using the compile commands of
# a configured build (default build/asan). Exits non-zero on any finding. Tests are not
# checked: doctest's macros and long test cases trip the size and modernize checks.
#
#   tools/tidy.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build/asan}
[ -f "$build_dir/compile_commands.json" ] || { echo "tools/tidy.sh: no $build_dir/compile_commands.json (configure first)" >&2; exit 2; }
# The compile commands carry GCC's warning flags; clang would turn libseccomp's and lwIP's
# macros into pedantic errors that are not ours, so relax those for the parse only.
run-clang-tidy -quiet -p "$build_dir" -j "$(nproc)" \
  -extra-arg=-Wno-c99-extensions -extra-arg=-Wno-missing-field-initializers \
  -extra-arg=-Wno-unknown-warning-option \
  "$PWD/(netstack|vsock|hypervisor|dns|dhcp|tools)/.*\\.cpp$" > "$build_dir/tidy.log" 2>&1 && status=0 || status=$?
# run-clang-tidy prints every command line; show only the findings.
grep -E "(warning|error):" "$build_dir/tidy.log" | sort -u || true
if [ "$status" != 0 ]; then
  echo "tools/tidy.sh: clang-tidy found problems (full log: $build_dir/tidy.log)" >&2
  exit 1
fi
echo "tools/tidy.sh: clean"
