// fuzz/replay_fuzz.cc — libFuzzer harness for replaying a log on the engine.
//
// What `faultline replay --against engine` does with a log: parse it, then
// run its ops on the engine (a small frame pool, so that reclaim runs) and
// on the model side by side. Every input must end in one of the command's
// three outcomes — agreement, a reported difference, or a ParseError — and
// never in a crash, an uncaught exception or a hang (libFuzzer's -timeout),
// under ASan and UBSan. A difference between the engine and the model is a
// bug in one of them, so it traps too: the input is kept as a regression.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>

#include "fuzz_input.h"
#include "replay/replayer.h"

using namespace faultline;
using namespace faultline::replay;

namespace {

// Enough ops to reach deep states, few enough for thousands of runs a second.
constexpr size_t kMaxOps = 256;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = parse_fuzz_input(data, size, kMaxOps);
  if (!parsed) return 0;
  std::vector<Op>& ops = *parsed;
  ReplayOptions opts;
  opts.against = Against::engine;
  opts.config.frames = 64;
  opts.config.readahead_pages = 8;
  std::ostringstream out;
  try {
    ReplayReport r = replay_ops(ops, opts, out);
    if (!r.agreed && !r.size_column) {  // a SIZE column that is wrong is the log's fault
      std::fprintf(stderr, "engine and model differ:\n%s", out.str().c_str());
      __builtin_trap();
    }
  } catch (const ParseError&) {  // an op that is not replayed: exit 2
  }
  return 0;
}
