// src/replay/inject.h — replaying a log on the engine over a store that
// fails (faultline replay --inject SPEC).
//
// The engine runs over a FaultInjectingStore; the model of the file follows
// what the engine reports, and the replay checks that no fault is hidden
// and no data is lost without being reported:
//   - an op that saw no fault must do exactly what the model says;
//   - a read that fails must fail with an injected errno; one that returns
//     must return the model's bytes (a failed read-in caches nothing);
//   - a write that fails wrote nothing; a short one wrote what it says;
//   - fsync on an open file fails exactly when a writeback or store sync
//     failed since that file's last fsync (errseq: each open file hears of
//     it once), with the errno injected;
//   - after an fsync that succeeds, the store underneath holds the model's
//     bytes (G6: nothing written and acknowledged is lost);
//   - an op whose failure leaves its range undefined (a killer whose block
//     operation failed, a direct or mapped write cut off) is reported, and
//     the model takes the engine's contents from there on (a resync).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "faultline/engine.h"
#include "replay/oplog.h"

namespace faultline::replay {

struct InjectSpec {
  std::vector<FaultRule> rules;
  uint64_t seed = 1;
};

// "CALL=ERR@P[,...][,seed=N]": CALL a store call (read, write, truncate,
// punch_hole, zero_range, collapse_range, insert_range, sync, clone_range,
// exchange_range, write_atomic), ERR EIO, ENOSPC, ENOMEM (thrown as
// std::bad_alloc, as an allocation in the store that failed) or short (a
// write that writes half, then ENOSPC), P a probability
// in [0, 1]. E.g. "read=EIO@0.02,write=ENOSPC@0.01,sync=EIO@0.05".
// Throws std::invalid_argument naming the item that is wrong.
InjectSpec parse_inject_spec(const std::string& spec);

struct InjectReport {
  bool agreed = false;
  uint64_t ops = 0, executed = 0, skipped = 0;
  uint64_t injected = 0;         // faults the store injected
  uint64_t failed_ops = 0;       // ops that reported an injected error
  uint64_t fsync_errors = 0;     // of which fsyncs, each expected
  uint64_t durable_checks = 0;   // fsyncs after which the store matched the model
  uint64_t resyncs = 0;          // failures that left a range undefined
  uint64_t bytes_compared = 0;
};

InjectReport replay_injected(const std::vector<Op>& ops, const Config& config, const InjectSpec& spec,
                             std::ostream& out, std::unique_ptr<Store> inner = nullptr);
std::string summary_line(const InjectReport& r);

}  // namespace faultline::replay
