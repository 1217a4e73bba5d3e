// src/replay/generator.h — random op logs around the interesting boundaries.
//
// Offsets and lengths cluster at page (4 KiB) and folio (64 KiB) boundaries
// and at EOF, plus or minus a byte, as the races and off-by-ones live
// there. Every op kind appears; collapse/insert are mostly valid, sometimes
// not (so that both sides must fail alike); direct I/O is block aligned.
#pragma once

#include <cstdint>
#include <ostream>
#include <vector>

#include "replay/oplog.h"

namespace faultline::replay {

struct GenOptions {
  uint64_t seed = 1;
  uint64_t count = 10000;
  uint64_t max_file = 1 << 20;
  bool reflink = false;   // clone_range and dedupe_range too (the kernel side needs XFS)
  bool exchange = false;  // exchange_range too (XFS made with exchange-range support)
  bool atomic = false;    // write_atomic too (the kernel side needs XFS)
};

std::vector<Op> generate_ops(const GenOptions& opts);
void write_oplog(std::ostream& out, const std::vector<Op>& ops, const GenOptions& opts);

}  // namespace faultline::replay
