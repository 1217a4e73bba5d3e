#!/usr/bin/env bash
# The test suite: build (release preset by default) and run every test
# with ctest. Usage: scripts/test.sh [PRESET] [ctest arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
shift || true
scripts/check-sync.sh
scripts/build.sh "$preset"
ctest --preset "$preset" -j2 "$@"
