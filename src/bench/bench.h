// src/bench/bench.h — `faultline bench`: the price of each protocol.
//
// Owns: the benchmark's options, the workloads' names, one run's result
// and the aggregated rows. A row is one (workload, configuration, thread
// count); a configuration is a protocol name, "ideal" (the protocol seam
// doing nothing: the unlocked map guard, no creation guard) or "kernel"
// (the same workload on real files through real system calls). Runs of
// the configurations of one (workload, threads) interleave, A B C A B C,
// so that a noisy machine shifts them alike; each figure is the median
// over the rounds with its spread (min and max). docs/bench.md defines the
// workloads and the kernel code path each stands for.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/histogram.h"
#include "faultline/engine.h"

namespace faultline::bench {

struct BenchOptions {
  std::vector<std::string> configs;    // protocols, "ideal", "kernel"; empty: all
  std::vector<std::string> workloads;  // empty: all
  std::vector<unsigned> threads = {1, 2, 4, 16};
  double seconds = 0.4;      // measured time of one run (after its warm-up)
  unsigned rounds = 3;       // runs of each configuration, interleaved
  double killer_rate = 200;  // killer operations per second (giant_db, readers)
  std::string tmpdir;        // the kernel's files; empty: $TMPDIR or /tmp
  uint64_t page_fault3_bytes = uint64_t{128} << 20;  // each thread's file
  uint64_t giant_db_frames = 8192;                   // the engine's pool; the file is 4x
  // Called after each run with (runs done, runs in all, what just ran).
  std::function<void(unsigned, unsigned, const std::string&)> progress;
};

const std::vector<std::string>& workload_names();
// "ideal", every protocol of the registry with invalidate_lock, page_lock
// alone, "kernel".
std::vector<std::string> all_configs();
// Throws Error(invalid_argument) naming a bad workload, configuration or
// thread count.
void validate(const BenchOptions& opts);

// One run's totals, over the measured window only.
struct RunResult {
  double seconds = 0;
  uint64_t touches = 0;     // pages accessed (mapped touches, pages read)
  uint64_t faults = 0;      // by the worker threads
  uint64_t retries = 0;     // engine only
  uint64_t killer_ops = 0;
  uint64_t bus_errors = 0;
  Histogram access_ns;      // every timed access (a touch, or one read())
  Histogram fault_ns;       // accesses that faulted (engine only)
  uint64_t lock_wait_ns[kLockClasses] = {};
  uint64_t lock_contentions[kLockClasses] = {};
};

struct Spread {
  double median = 0, min = 0, max = 0;
};

struct Row {
  std::string workload, config;
  unsigned threads = 0;
  bool kernel = false, unsafe = false;  // unsafe: the ideal where a killer runs
  Spread pages_per_sec_per_thread, faults_per_sec, killer_ops_per_sec;
  double retries_per_fault = 0, bus_errors_per_sec = 0;
  double lock_wait_ns_per_fault[kLockClasses] = {};
  double ratio_to_ideal = 0, ratio_to_kernel = 0;  // medians; 0 where absent
  std::vector<RunResult> runs;                      // one per round
  Histogram access_all, fault_all;                  // merged over the rounds

  // The row's headline latencies: its faults on the engine; on the kernel,
  // whose faults cannot be told apart from outside, its accesses.
  const Histogram& latency() const { return kernel ? access_all : fault_all; }
  // The lock class with the most wait per fault: its index, or -1 (and
  // its name, or "") with no wait at all.
  int dominant_lock_index() const;
  std::string dominant_lock() const;
};

// One row of `rows`, or nullptr.
const Row* find_row(const std::vector<Row>& rows, const std::string& workload, const std::string& config,
                    unsigned threads);

// The figures as the table, the report and the figures print them.
std::string format_rate(double v);             // 1.23M, 45.6k, 789
std::string format_ns(uint64_t ns);            // 850ns, 12µs, 3ms; "–" for none
std::string format_ratio(double r);            // 0.93×; "–" where absent
std::string format_spread(const Spread& s);    // ±7%: half the range over the median

// Runs the whole matrix. Throws Error(invalid_argument) for bad options and
// std::runtime_error if the kernel peer cannot make its files.
std::vector<Row> run_bench(const BenchOptions& opts);

void print_table(const std::vector<Row>& rows, std::ostream& out);
nlohmann::json to_json(const std::vector<Row>& rows, const BenchOptions& opts);
void write_json(const std::vector<Row>& rows, const BenchOptions& opts, std::ostream& out);
void write_csv(const std::vector<Row>& rows, std::ostream& out);

}  // namespace faultline::bench
