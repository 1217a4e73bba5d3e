#!/usr/bin/env bash
# Replays the bundled fsx op log against the engine and the real kernel side
# by side. Extra arguments go to `faultline replay` (e.g. --against engine,
# --frames 64).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release faultline >/dev/null
exec build/release/faultline replay "$@" examples/ops/sample.fsxops
