#!/usr/bin/env bash
# The main job: build faultline and write the report — the model checker's
# verdicts, the benchmark's prices beside the ideal and the kernel, and a
# differential replay against the kernel — to report/ (report.md,
# report.html, report.json, figures). Quick by default (about a minute);
# `scripts/run.sh --full` runs the full set (about 6 minutes). Other
# arguments go to `faultline report` (e.g. --out DIR, --tmpdir DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release faultline >/dev/null
args=(--quick)
if [ "${1:-}" = "--full" ]; then
  args=()
  shift
fi
exec build/release/faultline report "${args[@]}" "$@"
