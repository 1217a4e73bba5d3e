#!/usr/bin/env bash
# Runs the libFuzzer harnesses (fuzz/) for a bounded time each, built with
# clang under ASan+UBSan (the "fuzz" preset). A finding fails the run and
# leaves the input in build/fuzz/findings/: copy it to fuzz/regressions/
# HARNESS/, where the test suite replays it in every build from then on.
#
#   scripts/fuzz.sh [SECONDS_EACH]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
scripts/build.sh fuzz oplog_fuzz replay_fuzz inject_fuzz >/dev/null
harnesses=(oplog replay inject)
# litmus_fuzz needs a clang with std::source_location (fuzz/CMakeLists.txt).
if cmake --build build/fuzz --target help | grep -q '^litmus_fuzz:'; then
  cmake --build build/fuzz --target litmus_fuzz >/dev/null
  harnesses+=(litmus)
else
  echo "== litmus: skipped (this clang cannot build the model checker's engine: no std::source_location)"
fi
mkdir -p build/fuzz/findings
status=0
for harness in "${harnesses[@]}"; do
  work=build/fuzz/corpus-$harness
  mkdir -p "$work"
  log=build/fuzz/$harness.log
  # git keeps no empty folder: a harness with no finding yet has no regressions/.
  seeds=(fuzz/corpus/$harness)
  [[ -d fuzz/regressions/$harness ]] && seeds+=(fuzz/regressions/$harness)
  echo "== $harness: ${seconds} s"
  if ! build/fuzz/fuzz/${harness}_fuzz -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix=build/fuzz/findings/$harness- \
      "$work" "${seeds[@]}" >"$log" 2>&1; then
    echo "fuzz: $harness found an input that fails; the report:"
    grep -B2 -A30 -m1 'ERROR\|runtime error\|differ' "$log" || tail -40 "$log"
    ls build/fuzz/findings/
    status=1
  fi
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$log" | sed "s/^/  $harness /"
done
exit $status
