// fuzz/inject_fuzz.cc — libFuzzer harness for replaying a log on the engine
// over a store that fails.
//
// What `faultline replay --inject` does with a log: the engine over a
// FaultInjectingStore whose every call may fail — EIO, ENOSPC, short
// writes, and ENOMEM thrown as std::bad_alloc, as an allocation in the
// store that failed — against the model. Whatever the log and wherever the
// faults land (the seed comes from the input), each op must unwind (no lock
// held: a later op or the teardown would hang, which libFuzzer's -timeout
// reports), and the oracle must find nothing lost unreported; a
// disagreement traps, and the input is kept as a regression.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>

#include "fuzz_input.h"
#include "replay/inject.h"

using namespace faultline;
using namespace faultline::replay;

namespace {

constexpr size_t kMaxOps = 256;
// After a failed op the oracle reads the whole file back from the engine:
// files beyond this would make a run slow, not deeper (replay_fuzz takes
// the huge numbers).
constexpr uint64_t kMaxFile = uint64_t{16} << 20;

bool small_file(const Op& op) {
  auto within = [](uint64_t a, uint64_t b) { return a <= kMaxFile && b <= kMaxFile - a; };
  return within(op.off, op.len) && within(op.dest, op.len) && op.size <= kMaxFile &&
         (op.kind != OpKind::truncate || op.len <= kMaxFile);
}
constexpr const char* kSpec =
    "read=ENOMEM@0.03,write=ENOMEM@0.03,truncate=ENOMEM@0.03,punch_hole=ENOMEM@0.05,zero_range=ENOMEM@0.05,"
    "collapse_range=ENOMEM@0.05,insert_range=ENOMEM@0.05,sync=ENOMEM@0.05,clone_range=ENOMEM@0.05,"
    "exchange_range=ENOMEM@0.05,write_atomic=ENOMEM@0.05,read=EIO@0.02,write=EIO@0.02,write=short@0.02,"
    "zero_range=ENOSPC@0.02,sync=EIO@0.05";

// FNV-1a of the input: where the faults land follows from the bytes.
uint64_t seed_of(const uint8_t* data, size_t size) {
  uint64_t h = 1469598103934665603u;
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 1099511628211u;
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = parse_fuzz_input(data, size, kMaxOps);
  if (!parsed) return 0;
  std::vector<Op>& ops = *parsed;
  if (!std::all_of(ops.begin(), ops.end(), small_file)) return 0;
  InjectSpec spec = parse_inject_spec(kSpec);
  spec.seed = seed_of(data, size);
  Config config;
  config.frames = 64;
  config.readahead_pages = 8;
  std::ostringstream out;
  InjectReport r = replay_injected(ops, config, spec, out);
  if (!r.agreed) {
    std::fprintf(stderr, "the engine over a failing store lost something unreported:\n%s", out.str().c_str());
    __builtin_trap();
  }
  return 0;
}
