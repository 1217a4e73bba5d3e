// src/bench/plot.cc — gnuplot figures for the report (see plot.h).
#include "bench/plot.h"

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

namespace faultline::bench {
namespace {

// Runs `body` (the plot commands) twice, once per terminal.
std::string draw(const std::string& dir, const std::string& stem, const std::string& body) {
  std::string script = dir + "/" + stem + ".gp";
  {
    std::ofstream gp(script);
    gp << fmt::format("set terminal pngcairo noenhanced size 900,560 font ',10'\nset output '{0}/{1}.png'\n{2}\n"
                      "set terminal svg noenhanced size 900,560 font 'sans,11'\nset output '{0}/{1}.svg'\nreplot\n",
                      dir, stem, body);
  }
  std::string cmd = fmt::format("gnuplot '{}' 2>'{}/{}.log'", script, dir, stem);
  return std::system(cmd.c_str()) == 0 ? stem : "";
}

std::vector<std::string> configs_of(const std::vector<Row>& rows, const std::string& workload) {
  std::vector<std::string> v;
  std::set<std::string> seen;
  for (const Row& r : rows)
    if (r.workload == workload && seen.insert(r.config).second) v.push_back(r.config);
  return v;
}

std::string title_of(const std::string& config) { return config == "ideal" ? "ideal (unsynchronized)" : config; }

}  // namespace

bool have_gnuplot() { return std::system("gnuplot --version >/dev/null 2>&1") == 0; }

std::string plot_throughput(const std::string& dir, const std::vector<Row>& rows, const std::string& workload) {
  auto configs = configs_of(rows, workload);
  std::set<unsigned> threads;
  for (const Row& r : rows)
    if (r.workload == workload) threads.insert(r.threads);
  std::string stem = "throughput-" + workload;
  {
    std::ofstream dat(dir + "/" + stem + ".dat");
    dat << "# threads, then total pages/s (median) per configuration:";
    for (const auto& c : configs) dat << " " << c;
    dat << "\n";
    for (unsigned t : threads) {
      dat << t;
      for (const auto& c : configs) {
        const Row* r = find_row(rows, workload, c, t);
        dat << " " << (r ? r->pages_per_sec_per_thread.median * t : 0);
      }
      dat << "\n";
    }
  }
  std::string plots;
  for (size_t i = 0; i < configs.size(); ++i)
    plots += fmt::format("{}'{}/{}.dat' using 1:{} with linespoints lw 2 title '{}'", i ? ", " : "", dir, stem, i + 2,
                         title_of(configs[i]));
  return draw(dir, stem,
              fmt::format("set title '{}: throughput against threads (2 cores)'\nset logscale x 2\nset xlabel "
                          "'threads'\nset ylabel 'pages touched per second, all threads'\nset key outside right\n"
                          "set grid\nplot {}",
                          workload, plots));
}

std::string plot_latency(const std::string& dir, const std::vector<Row>& rows, const std::string& workload,
                         unsigned threads) {
  auto configs = configs_of(rows, workload);
  std::string stem = fmt::format("latency-{}-{}", workload, threads);
  std::string plots;
  unsigned idx = 0;
  {
    std::ofstream dat(dir + "/" + stem + ".dat");
    for (const auto& c : configs) {
      const Row* r = find_row(rows, workload, c, threads);
      if (!r) continue;
      const Histogram& h = r->latency();
      if (h.count() == 0) continue;
      dat << "# " << c << ": latency ns, fraction slower\n";
      uint64_t seen = 0;
      for (unsigned b = 0; b < Histogram::kBuckets; ++b) {
        if (!h.bucket_count(b)) continue;
        seen += h.bucket_count(b);
        if (seen == h.count()) break;
        dat << Histogram::upper_edge(b) << " " << static_cast<double>(h.count() - seen) / static_cast<double>(h.count())
            << "\n";
      }
      dat << "\n\n";
      plots += fmt::format("{}'{}/{}.dat' index {} with steps lw 2 title '{}'", idx ? ", " : "", dir, stem, idx,
                           title_of(c) + (r->kernel ? " (every access)" : ""));
      ++idx;
    }
  }
  if (plots.empty()) return "";
  return draw(dir, stem,
              fmt::format("set title '{}, {} threads: fault latency tail'\nset logscale xy\nset xlabel 'latency (ns)'\n"
                          "set ylabel 'fraction of faults slower'\nset key outside right\nset grid\nplot {}",
                          workload, threads, plots));
}

std::string plot_lock_wait(const std::string& dir, const std::vector<Row>& rows, const std::string& workload,
                           unsigned threads) {
  std::string stem = fmt::format("lockwait-{}-{}", workload, threads);
  std::set<unsigned> used;
  std::vector<const Row*> rs;
  for (const auto& c : configs_of(rows, workload)) {
    const Row* r = find_row(rows, workload, c, threads);
    if (!r || r->kernel) continue;
    rs.push_back(r);
    for (unsigned i = 0; i < kLockClasses; ++i)
      if (r->lock_wait_ns_per_fault[i] > 0) used.insert(i);
  }
  if (rs.empty() || used.empty()) return "";
  {
    std::ofstream dat(dir + "/" + stem + ".dat");
    dat << "config";
    for (unsigned i : used) dat << " " << ThreadStats::lock_class_name(i);
    dat << "\n";
    for (const Row* r : rs) {
      dat << '"' << r->config << '"';
      for (unsigned i : used) dat << " " << r->lock_wait_ns_per_fault[i];
      dat << "\n";
    }
  }
  std::string plots;
  unsigned col = 2;
  for (unsigned i : used) {
    plots += fmt::format("{}'{}/{}.dat' using {}:xtic(1) title '{}'", col > 2 ? ", " : "", dir, stem, col,
                         ThreadStats::lock_class_name(i));
    ++col;
  }
  return draw(dir, stem,
              fmt::format("set title '{}, {} threads: lock wait per fault'\nset style data histograms\n"
                          "set style histogram rowstacked\nset style fill solid 0.8 border -1\nset boxwidth 0.7\n"
                          "set xtics rotate by -30\nset ylabel 'ns waited per fault'\nset key outside right\n"
                          "set grid ytics\nset bmargin 8\nplot {}",
                          workload, threads, plots));
}

std::string plot_checker_speed(const std::string& dir, const std::vector<std::pair<std::string, double>>& speed) {
  if (speed.empty()) return "";
  std::string stem = "checker-speed";
  {
    std::ofstream dat(dir + "/" + stem + ".dat");
    for (const auto& [p, v] : speed) dat << '"' << p << "\" " << v << "\n";
  }
  return draw(dir, stem,
              fmt::format("set title 'model checker: executions per second, per protocol'\nset style data histograms\n"
                          "set style fill solid 0.8 border -1\nset boxwidth 0.7\nset xtics rotate by -30\n"
                          "set ylabel 'executions/s'\nset grid ytics\nset bmargin 8\nunset key\n"
                          "plot '{}/{}.dat' using 2:xtic(1)",
                          dir, stem));
}

}  // namespace faultline::bench
