#!/usr/bin/env bash
# House rule the model checker depends on: engine code synchronizes only
# through src/sync/. Fails naming every line that breaks it.
set -euo pipefail
cd "$(dirname "$0")/.."
hits=$(grep -rn -E 'std::(atomic|mutex|shared_mutex|thread|jthread|condition_variable)\b|SYS_futex|__atomic_|__sync_' \
  --include='*.h' --include='*.cc' src include examples/protocols | grep -v -E '^src/sync/' || true)
if [ -n "$hits" ]; then
  echo "check-sync: engine code must synchronize through src/sync/ only:" >&2
  echo "$hits" >&2
  exit 1
fi
echo "check-sync: ok (no std::atomic/mutex/thread/futex outside src/sync/)"
