// src/bench/workloads.h — the benchmark's workloads and one run of one.
//
// Owns: run_workload(), which sets a workload up on a peer, starts its
// workers (threads, or forked processes for the kernel in process mode)
// and its killer, lets them warm up, measures a window and collects the
// workers' counters. The workers and the killer share one page of
// MAP_SHARED memory with the conductor (the phase word and the results),
// so that a forked worker reports like a thread does.
#pragma once

#include <string>

#include "bench/bench.h"
#include "bench/peer.h"

namespace faultline::bench {

struct RunSpec {
  std::string workload;
  unsigned threads = 1;
  double seconds = 0.4;
  double killer_rate = 200;
  uint64_t page_fault3_bytes = uint64_t{128} << 20;
  uint64_t giant_db_frames = 8192;
};

// Frames the engine needs for the workload to run without reclaim, except
// giant_db, whose file is 4x its pool so that reclaim runs constantly.
uint64_t engine_frames(const RunSpec& spec);

RunResult run_workload(Peer& peer, const RunSpec& spec);

// Nanoseconds per tick of the timestamp counter the workers read around
// each access (calibrated once against CLOCK_MONOTONIC).
double ns_per_tick();

}  // namespace faultline::bench
