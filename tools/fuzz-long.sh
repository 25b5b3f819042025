#!/bin/sh
# Long fuzzing, not CI: builds the fuzz preset (clang + libFuzzer) and runs every target in
# tests/fuzz for 10 million executions each (the hardening issue's minimum), one after the
# other, then prints target -> executions -> time -> exec/s -> result.
#
#   tools/fuzz-long.sh                      # every target, -runs=10000000 each (hours on 2 cores)
#   tools/fuzz-long.sh fuzz_dns fuzz_dhcp   # only these
#   tools/fuzz-long.sh --runs 1000000       # fewer executions
#   tools/fuzz-long.sh --seconds 30         # a time budget per target instead: exec/s survey
#   tools/fuzz-long.sh --no-build           # use build/fuzz as it is
#   tools/fuzz-long.sh --save-corpus        # then minimise what was found into tests/fuzz/corpus/<target>/
#
# Seeds: tests/fuzz/corpus/<target>/ if it exists, and tests/fuzz/regressions/ (as tools/test.sh).
# New inputs go to a scratch corpus (kept under build/fuzz/corpus/<target>/ for the next run);
# crashes go to build/fuzz/<target>-crash-*. Exit status 1 if any target failed.
set -eu

cd "$(dirname "$0")/.."
runs=10000000
seconds=""
build=1
save=""
targets=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --no-build) build=""; shift ;;
    --save-corpus) save=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "fuzz-long: unknown option $1" >&2; exit 2 ;;
    *) targets="$targets $1"; shift ;;
  esac
done

if [ -n "$build" ]; then
  cmake --preset fuzz >/dev/null
  nice cmake --build --preset fuzz
fi
if [ -z "$targets" ]; then
  for binary in build/fuzz/tests/fuzz/fuzz_*; do
    [ -x "$binary" ] && targets="$targets $(basename "$binary")"
  done
fi
[ -n "$targets" ] || { echo "fuzz-long: no fuzz targets in build/fuzz/tests/fuzz" >&2; exit 1; }

if [ -n "$seconds" ]; then limit="-max_total_time=$seconds"; else limit="-runs=$runs"; fi
table=$(mktemp)
trap 'rm -f "$table"' EXIT
failed=0
for target in $targets; do
  binary=build/fuzz/tests/fuzz/$target
  [ -x "$binary" ] || { printf '%s\t-\t-\t-\tmissing\n' "$target" >>"$table"; failed=1; continue; }
  corpus=build/fuzz/corpus/$target
  mkdir -p "$corpus"
  seeds=tests/fuzz/regressions
  [ -d "tests/fuzz/corpus/$target" ] && seeds="tests/fuzz/corpus/$target $seeds"
  log=build/fuzz/$target-long.log
  echo "fuzz-long: $target ($limit), log $log" >&2
  start=$(date +%s)
  # shellcheck disable=SC2086 # seeds is a list of directories
  if nice "$binary" "$limit" -print_final_stats=1 -artifact_prefix="build/fuzz/$target-" \
       "$corpus" $seeds >"$log" 2>&1; then
    result=ok
  else
    result="FAILED (see $log)"
    failed=1
  fi
  elapsed=$(( $(date +%s) - start ))
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  if [ -n "$save" ] && [ "$result" = ok ]; then
    # Keep only the inputs that add coverage: the committed seed corpus stays small.
    mkdir -p "tests/fuzz/corpus/$target"
    nice "$binary" -merge=1 "tests/fuzz/corpus/$target" "$corpus" >>"$log" 2>&1
  fi
  printf '%s\t%s\t%s s\t%s\t%s\n' "$target" "${executions:-?}" "$elapsed" "${rate:-?}" "$result" >>"$table"
done

echo
echo "| target | executions | time | exec/s | result |"
echo "|---|---:|---:|---:|---|"
awk -F '\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' "$table"
exit "$failed"
