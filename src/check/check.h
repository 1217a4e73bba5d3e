// src/check/check.h — `faultline check`: protocols under the model checker.
//
// This header is shared by the command (built against the native engine)
// and the checker (built against the model backend, where the engine's
// namespace is renamed faultline_model): it uses plain types only and its
// own namespace, which the renaming does not touch.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace faultline_check {

// How far a running cell has got (CheckOptions::on_progress).
struct CellProgress {
  uint64_t executions = 0;
  double seconds = 0;
  double explored = -1;  // exhaustive: the estimated share of the search done (Strategy::explored)
};

struct CheckOptions {
  std::vector<std::string> protocols;      // names or shell patterns ("no_new_maps*"); empty: all
  std::vector<std::string> scenarios;      // names or shell patterns ("*-vs-2faults"); empty: all
  std::vector<std::string> memory_models;  // empty: all
  std::string strategy = "pct";            // random | pct | exhaustive
  unsigned bound = 2;                      // exhaustive: preemption bound k
  unsigned reorder_bound = 1;              // exhaustive: stores held back (tso, weak)
  std::string reduction = "dpor";          // exhaustive: dpor | sleep-sets | none (every schedule)
  unsigned depth = 3;                      // PCT depth (d)
  uint64_t executions = 0;                 // per cell; 0: random, pct 1000, exhaustive no cap
  double seconds = 0;                      // per cell, 0: no limit
  uint64_t seed = 1;
  std::string replay;                      // a schedule string: replay one execution
  std::string json;                        // write results here
  std::string seeded_bug;                  // plant a known bug (mm/seeded_bug.h; docs/history.md)
  bool whole_folio = true;                 // the world's Config::map_whole_folio (false: before 6.18)
  unsigned jobs = 1;                       // cells run in this many processes at once
  unsigned shard = 0, shards = 1;          // run only the cells whose place % shards == shard
  unsigned split_depth = 0;                // exhaustive, > 0: a shard is a part of every cell's schedule
                                           // space (its prefixes at this depth), not a share of the cells
  std::string traces = "first";            // none | first (one per distinct bug) | all (one per BUG cell)
  bool progress = true;
  // Told how a cell is getting on, every few seconds while it runs.
  std::function<void(const CellProgress&)> on_progress;
};

struct CellKey {
  std::string protocol, scenario, memory_model;
};

struct Cell {
  std::string protocol, scenario, memory_model, strategy, verdict;  // VERIFIED | PASSED | BUG
  int bound = -1;  // exhaustive: the preemption bound (-1: none)
  uint64_t executions = 0, steps = 0;
  double seconds = 0;
  std::string guarantee;  // for a BUG: G1..G5 or deadlock
  std::string schedule, failure;
  std::string trace;       // the engine's steps, one column per CPU
  std::string full_trace;  // every step, the synchronization primitives' too
  uint64_t index = 0, of = 0;  // its place in the whole table (of `of` cells), shards or not
  unsigned part = 0, parts = 1;  // with --split-depth: the part of the cell's schedule space searched
  uint64_t bug_prefix = 0;       // the prefix a BUG was found in (merging parts keeps the first)
  // A property the protocol does not claim (protocol.h's Claim) that an
  // execution broke: said beside the verdict, which it does not change.
  std::string unclaimed;
};

std::vector<std::string> all_scenarios();
// The scenarios of the 2 MiB worlds (accessor pmd, killer khugepaged),
// whose executions run to thousands of steps: searched at lower bounds.
bool big_world(const std::string& scenario);
std::vector<std::string> all_protocols();
// Runs one cell; throws std::invalid_argument for an unknown name.
Cell check_cell(const std::string& protocol, const std::string& scenario, const std::string& memory_model,
                const CheckOptions& opts);
// Told of each cell as it finishes: its place in `keys`, and the cell.
using CellDone = std::function<void(size_t, Cell&)>;
// Runs the cells in opts.jobs forked worker processes (src/check/workers.cc);
// the result is in the order of `keys`. With opts.progress, a line per
// finished cell on `err`.
std::vector<Cell> run_cells_in_workers(const std::vector<CellKey>& keys, const CheckOptions& opts, std::ostream& err,
                                       const CellDone& done = [](size_t, Cell&) {});
// The same, in this process when opts.jobs is 1.
std::vector<Cell> run_cells(const std::vector<CellKey>& keys, const CheckOptions& opts, std::ostream& err,
                            const CellDone& done);
// The command: runs the table (or the shard of it opts.shard names),
// prints it (and each BUG's trace), writes JSON if asked. Returns the exit
// status (0: no BUG, 1: a BUG, 2: bad input).
int run_check(const CheckOptions& opts, std::ostream& out, std::ostream& err);
// `faultline check merge`: the shards' JSON files (--json of runs with
// --shard I/N, in any order) printed as the one table an unsharded run
// prints. Exit status as run_check's; 2 for a file that is not a shard,
// a cell twice, or a shard missing. `json`: also write the merged cells
// there, as run_check's --json does (empty: not).
int run_check_merge(const std::vector<std::string>& files, const std::string& traces, const std::string& json,
                    std::ostream& out, std::ostream& err);

}  // namespace faultline_check
