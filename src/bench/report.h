// src/bench/report.h — `faultline report`: verdicts and prices in one run.
//
// Owns: the main job. It runs the model checker's default table, the
// benchmark's default set and a differential replay of generated op logs
// against the kernel, then writes DIR/report.md, DIR/report.html (one
// self-contained page), DIR/report.json and gnuplot figures (PNG and SVG),
// joining each protocol's verdicts with its cost and checking the
// benchmark targets of docs/bench.md.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace faultline::bench {

struct ReportOptions {
  std::string out_dir = "report";
  bool quick = false;   // fewer configurations, threads, rounds and executions
  std::string tmpdir;   // the kernel's files; empty: $TMPDIR or /tmp
  unsigned jobs = 2;    // checker worker processes
  // Protocols to price and check beside the default (page_lock+
  // invalidate_lock), `ideal` and the kernel; empty: the default set.
  std::vector<std::string> protocols;
};

// Returns the exit status: 0 written, 2 bad options (an unknown protocol)
// or an unwritable directory (named on `err`). Progress goes to `err`.
int run_report(const ReportOptions& opts, std::ostream& out, std::ostream& err);

}  // namespace faultline::bench
