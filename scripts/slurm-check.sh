#!/usr/bin/env bash
# The checker's table as a Slurm job array: N shards (faultline check
# --shard I/N), one array task each, then one table merged from their JSON
# (faultline check merge), printed as an unsharded run prints it.
#
#   scripts/slurm-check.sh N OUTDIR [faultline check options...]
#   e.g. scripts/slurm-check.sh 8 out --strategy exhaustive --bound 2
#
# OUTDIR must be on a filesystem every node sees. Waits for the array to
# end (sbatch --wait). Exit status as faultline check's: 0 no BUG, 1 a
# BUG, 2 a shard that failed or bad input.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:?usage: slurm-check.sh N OUTDIR [check options...]}
out=$(realpath -m "${2:?usage: slurm-check.sh N OUTDIR [check options...]}")
shift 2
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "slurm-check: N must be a positive number, not '$n'" >&2; exit 2; }
bin=$(realpath build/release/faultline)
mkdir -p "$out"
rm -f "$out"/shard-*.json
# A task succeeds with a table, BUG rows or not (exit 0 or 1); 2 is a failure.
args=$(printf ' %q' "$@")
sbatch --wait --quiet --job-name=faultline-check --array="1-$n" --output="$out/shard-%a.log" \
  --wrap "$bin check --shard \$SLURM_ARRAY_TASK_ID/$n --json $out/shard-\$SLURM_ARRAY_TASK_ID.json$args >/dev/null; [ \$? -le 1 ]" ||
  { echo "slurm-check: a shard failed; logs in $out" >&2; exit 2; }
"$bin" check merge "$out"/shard-*.json
