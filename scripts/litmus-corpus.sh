#!/usr/bin/env bash
# Runs the public LKMM litmus corpus (github.com/paulmckrcu/litmus) through
# `faultline litmus`, against herd7's verdicts in its files, under both of
# faultline's readings of the LKMM: the model checker's `weak` model, then
# the axiomatic `lkmm` (what it does not take it leaves to `weak`). The
# tests known to differ are listed, each with why, in
# tests/litmus-corpus/known.txt (weak) and known-lkmm.txt (lkmm). Fails on
# any other DIFF or unfinished test, and on a listed test that now agrees
# (take it off the list).
# Usage: scripts/litmus-corpus.sh [CORPUS_DIR] [faultline litmus options...]
#   CORPUS_DIR: a checkout of the corpus; without one it is cloned (at the
#   commit the lists were made for) into a temporary directory, and the run
#   is skipped, saying so, when github.com cannot be reached.
#   With --memory-model M among the options, only that model runs.
# Runs luc/ and manual/ but manual/absperf (performance tests, no
# verdicts), manual/locked (290 four-CPU lock tests, no verdicts, 10 s
# each) and manual/memb (smp_memb(), which linux-kernel.def does not have).
set -euo pipefail
cd "$(dirname "$0")/.."
commit=2f1be9ed9ae46f182ec50d0762b84451c91b41ac
corpus=${1:-}
[ $# -gt 0 ] && shift
if [ -z "$corpus" ]; then
  corpus=$(mktemp -d)
  trap 'rm -rf "$corpus"' EXIT
  if ! timeout 120 git clone -q https://github.com/paulmckrcu/litmus "$corpus" 2>/dev/null; then
    echo "litmus-corpus: github.com/paulmckrcu/litmus cannot be reached; the corpus run is skipped"
    exit 0
  fi
  git -C "$corpus" checkout -q "$commit"
fi
dirs=("$corpus/luc")
for d in "$corpus"/manual/*/; do
  case "$(basename "$d")" in absperf | locked | memb) ;; *) dirs+=("$d") ;; esac
done
models=(weak lkmm)
for a in "$@"; do
  case "$a" in --memory-model | --memory-model=*) models=() ;; esac
done
# 20 s a test, not the default 10: a slow test (C-ManfredSpraul-L1G2lock
# takes 6 s alone under weak) must not turn unfinished on a loaded machine.
run() {
  local known=tests/litmus-corpus/known.txt
  [[ " $* " == *" lkmm "* || " $* " == *"=lkmm "* ]] && known=tests/litmus-corpus/known-lkmm.txt
  build/release/faultline litmus --seconds 20 --known "$known" "$@" "${dirs[@]}" |
    grep -v '^    [0-9]' || return "${PIPESTATUS[0]}"
}
if [ ${#models[@]} -eq 0 ]; then
  run "$@"
else
  status=0
  for m in "${models[@]}"; do run --memory-model "$m" "$@" || status=$?; done
  exit $status
fi
