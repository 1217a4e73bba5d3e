#!/usr/bin/env bash
# faultline as a dependency, on this machine, the way a user takes it:
#  1. from a fresh clone of the committed HEAD (nothing left in the
#     working tree can help it), a plain `cmake -DCMAKE_BUILD_TYPE=Release`
#     build (no preset, so no -Werror) of everything, and
#     `cmake --install --prefix` into a fresh prefix;
#  2. examples/consumer built against the installed package with
#     find_package, shared and static, and run;
#  3. the same program built through pkg-config, and run;
#  4. examples/consumer with faultline as a subproject (add_subdirectory):
#     only the library is built, no tests, benchmarks or checker.
# Usage: scripts/install-test.sh [WORKDIR]   (default build/install-test)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-build/install-test}
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
prefix=$work/prefix
scripts/deps.sh
git clone -q "$PWD" "$work/src"
cd "$work/src"
src=$PWD

echo "== plain Release build, installed into $prefix"
# The prefix given at install time, not at configure time: the package
# (CMake's and pkg-config's) must find itself wherever it was put.
cmake -S . -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build"
cmake --install "$work/build" --prefix "$prefix" >/dev/null
for f in include/faultline/engine.h lib/libfaultline.a lib/libfaultline.so lib/cmake/faultline/faultlineConfig.cmake \
         lib/pkgconfig/faultline.pc bin/faultline; do
  [ -e "$prefix/$f" ] || { echo "install-test: $prefix/$f was not installed"; exit 1; }
done
"$prefix/bin/faultline" --version

run() {  # the example program exits non-zero if any access saw a killed page
  local what=$1; shift
  echo "== $what"
  TMPDIR=$work "$@" | tail -2
}

for kind in shared static; do
  static=OFF; [ $kind = static ] && static=ON
  cmake -S examples/consumer -B "$work/consumer-$kind" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$prefix" -DCONSUMER_STATIC=$static >/dev/null
  cmake --build "$work/consumer-$kind" >/dev/null
  run "find_package(faultline), $kind" "$work/consumer-$kind/concurrent_killers"
done
if [ "$(ldd "$work/consumer-static/concurrent_killers" | grep -c libfaultline)" -ne 0 ]; then
  echo "install-test: the static consumer loads libfaultline.so"; exit 1
fi

PKG_CONFIG_PATH=$prefix/lib/pkgconfig
export PKG_CONFIG_PATH
c++ -std=c++20 -O2 examples/concurrent_killers.cc $(pkg-config --cflags --libs faultline) -pthread \
    -Wl,-rpath,"$prefix/lib" -o "$work/pkgconfig-consumer"
run "pkg-config faultline ($(pkg-config --modversion faultline))" "$work/pkgconfig-consumer"

cmake -S examples/consumer -B "$work/consumer-subproject" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DFAULTLINE_SOURCE_DIR="$src" >/dev/null
cmake --build "$work/consumer-subproject" >/dev/null
extra=$(cd "$work/consumer-subproject" && ninja -t targets all | grep -cE '_test:|micro_bench:|faultline:|model_engine' || true)
if [ "$extra" -ne 0 ]; then
  echo "install-test: as a subproject, faultline built more than its library"; exit 1
fi
run "add_subdirectory(faultline)" "$work/consumer-subproject/concurrent_killers"
echo "install-test: ok"
