#!/usr/bin/env bash
# Installs faultline's build and test dependencies from Debian's packages.
# Checks first; runs apt-get update/install only for what is missing.
set -euo pipefail
pkgs=(cmake ninja-build g++ pkg-config liburcu-dev libgtest-dev libgmock-dev
      libbenchmark-dev libcli11-dev libfmt-dev nlohmann-json3-dev relacy-dev
      libboost-context-dev gnuplot-nox clang libclang-rt-14-dev xfsprogs slurm-wlm munge)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q >&2
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
