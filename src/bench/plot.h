// src/bench/plot.h — the report's figures, drawn by gnuplot.
//
// Owns: writing each figure's data (a .dat file, kept beside the figure so
// that it can be re-plotted) and a gnuplot script that draws it as PNG and
// SVG. Each function returns the figure's stem, or "" if gnuplot failed.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "bench/bench.h"

namespace faultline::bench {

bool have_gnuplot();
// Total pages per second against threads, a line per configuration.
std::string plot_throughput(const std::string& dir, const std::vector<Row>& rows, const std::string& workload);
// The latency tail (the fraction of faults slower than x; the kernel's
// accesses) of each configuration at one thread count.
std::string plot_latency(const std::string& dir, const std::vector<Row>& rows, const std::string& workload,
                         unsigned threads);
// Lock wait per fault, stacked by lock class, per configuration.
std::string plot_lock_wait(const std::string& dir, const std::vector<Row>& rows, const std::string& workload,
                           unsigned threads);
// Checker executions per second, per protocol.
std::string plot_checker_speed(const std::string& dir, const std::vector<std::pair<std::string, double>>& speed);

}  // namespace faultline::bench
