// fuzz/oplog_fuzz.cc — libFuzzer harness for the op-log parser.
//
// Any bytes either parse or raise ParseError naming a line; nothing else
// may escape. What parses must print and parse back to the same ops
// (format_op and parse_oplog are inverses), or the harness traps.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "fuzz_input.h"
#include "replay/oplog.h"

using namespace faultline::replay;

namespace {

bool same(const Op& a, const Op& b) {
  return a.skip == b.skip && a.kind == b.kind && a.off == b.off && a.len == b.len && a.size == b.size &&
         a.dest == b.dest && a.keep_size == b.keep_size && a.close_open == b.close_open && a.unshare == b.unshare &&
         a.marked == b.marked;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = parse_fuzz_input(data, size);
  if (!parsed) return 0;
  const std::vector<Op>& ops = *parsed;
  std::string printed;
  for (const Op& op : ops) printed += format_op(op) + "\n";
  std::istringstream again(printed);
  std::vector<Op> back = parse_oplog(again);  // must not throw
  if (back.size() != ops.size()) __builtin_trap();
  for (size_t i = 0; i < ops.size(); ++i)
    if (!same(ops[i], back[i])) __builtin_trap();
  return 0;
}
