// src/bench/bench.cc — the benchmark matrix, its aggregation and output.
//
// Owns: the configurations' names, the interleaved run order, the medians
// and spreads, the ratios to the ideal and to the kernel, and the table,
// JSON and CSV forms of the rows.
#include "bench/bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <map>

#include "bench/peer.h"
#include "bench/workloads.h"
#include "protocol/protocol.h"
#include "faultline/error.h"

namespace faultline::bench {

namespace {

constexpr const char* kIdealProtocol = "unlocked";

bool workload_has_killer(const std::string& w) { return w == "giant_db" || w == "readers"; }

std::string default_tmpdir() {
  const char* t = std::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

std::unique_ptr<Peer> make_peer(const std::string& config, const RunSpec& spec, const BenchOptions& opts) {
  if (config == "kernel") return make_kernel_peer(opts.tmpdir.empty() ? default_tmpdir() : opts.tmpdir);
  bool ideal = engine_config_protocol(config) == "ideal";
  return make_engine_peer(ideal ? kIdealProtocol + config.substr(5) : config, engine_frames(spec));
}

Spread spread_of(std::vector<double> v) {
  Spread s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  s.min = v.front();
  s.max = v.back();
  return s;
}

// Medians, merged histograms and lock waits of one row from its runs.
void summarize(Row& row) {
  std::vector<double> pages, faults, kills;
  uint64_t total_faults = 0, total_retries = 0, total_bus = 0;
  double total_seconds = 0;
  double wait[kLockClasses] = {};
  for (const RunResult& r : row.runs) {
    pages.push_back(static_cast<double>(r.touches) / r.seconds / row.threads);
    faults.push_back(static_cast<double>(r.faults) / r.seconds);
    kills.push_back(static_cast<double>(r.killer_ops) / r.seconds);
    total_faults += r.faults;
    total_retries += r.retries;
    total_bus += r.bus_errors;
    total_seconds += r.seconds;
    row.access_all.merge(r.access_ns);
    row.fault_all.merge(r.fault_ns);
    for (unsigned i = 0; i < kLockClasses; ++i) wait[i] += static_cast<double>(r.lock_wait_ns[i]);
  }
  row.pages_per_sec_per_thread = spread_of(pages);
  row.faults_per_sec = spread_of(faults);
  row.killer_ops_per_sec = spread_of(kills);
  row.retries_per_fault = total_faults ? static_cast<double>(total_retries) / static_cast<double>(total_faults) : 0;
  row.bus_errors_per_sec = total_seconds > 0 ? static_cast<double>(total_bus) / total_seconds : 0;
  for (unsigned i = 0; i < kLockClasses; ++i)
    row.lock_wait_ns_per_fault[i] = total_faults ? wait[i] / static_cast<double>(total_faults) : 0;
}

// Each row's throughput against the ideal's and the kernel's of the same
// workload and thread count.
void add_ratios(std::vector<Row>& rows) {
  std::map<std::pair<std::string, unsigned>, double> ideal, kernel;
  for (const Row& r : rows) {
    if (r.config == "ideal") ideal[{r.workload, r.threads}] = r.pages_per_sec_per_thread.median;
    if (r.config == "kernel") kernel[{r.workload, r.threads}] = r.pages_per_sec_per_thread.median;
  }
  auto ratio = [](double a, const auto& m, const auto& key) {
    auto it = m.find(key);
    return it == m.end() || it->second <= 0 ? 0.0 : a / it->second;
  };
  for (Row& r : rows) {
    r.ratio_to_ideal = ratio(r.pages_per_sec_per_thread.median, ideal, std::pair{r.workload, r.threads});
    r.ratio_to_kernel = ratio(r.pages_per_sec_per_thread.median, kernel, std::pair{r.workload, r.threads});
  }
}

}  // namespace

const std::vector<std::string>& workload_names() {
  static const std::vector<std::string> names = {"page_fault3", "page_fault3_proc", "hot_file", "giant_db", "readers"};
  return names;
}

std::vector<std::string> all_configs() {
  std::vector<std::string> v = {"ideal"};
  for (const auto& m : detail::map_guard_names())
    if (m != kIdealProtocol) v.push_back(m + "+invalidate_lock");
  v.push_back("page_lock");
  v.push_back("kernel");
  return v;
}

void validate(const BenchOptions& opts) {
  const auto& ws = workload_names();
  for (const auto& w : opts.workloads)
    if (std::find(ws.begin(), ws.end(), w) == ws.end())
      throw Error(Errc::invalid_argument,
                  fmt::format("unknown workload '{}' (known: {}, or all)", w, fmt::join(ws, ", ")));
  for (const auto& c : opts.configs)
    if (std::string p = engine_config_protocol(c); p != "ideal" && c != "kernel")
      detail::make_protocol(p);  // throws naming the bad part
  if (opts.threads.empty()) throw Error(Errc::invalid_argument, "--threads: give at least one thread count");
  for (unsigned t : opts.threads)
    if (t < 1 || t > 256) throw Error(Errc::invalid_argument, fmt::format("thread count {} is not in 1..256", t));
  if (!(opts.seconds > 0 && opts.seconds <= 3600))
    throw Error(Errc::invalid_argument, fmt::format("--seconds {} is not in (0, 3600]", opts.seconds));
  if (opts.rounds < 1 || opts.rounds > 1000)
    throw Error(Errc::invalid_argument, fmt::format("--rounds {} is not in 1..1000", opts.rounds));
  if (!(opts.killer_rate > 0 && opts.killer_rate <= 1e6))
    throw Error(Errc::invalid_argument, fmt::format("--killer-rate {} is not in (0, 1000000]", opts.killer_rate));
}

int Row::dominant_lock_index() const {
  int best = -1;
  for (unsigned i = 0; i < kLockClasses; ++i)
    if (lock_wait_ns_per_fault[i] > 0 && (best < 0 || lock_wait_ns_per_fault[i] > lock_wait_ns_per_fault[best]))
      best = static_cast<int>(i);
  return best;
}

std::string Row::dominant_lock() const {
  int i = dominant_lock_index();
  return i < 0 ? "" : ThreadStats::lock_class_name(static_cast<unsigned>(i));
}

const Row* find_row(const std::vector<Row>& rows, const std::string& workload, const std::string& config,
                    unsigned threads) {
  for (const Row& r : rows)
    if (r.workload == workload && r.config == config && r.threads == threads) return &r;
  return nullptr;
}

std::string format_rate(double v) {
  if (v >= 1e9) return fmt::format("{:.2f}G", v / 1e9);
  if (v >= 1e6) return fmt::format("{:.2f}M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.1f}k", v / 1e3);
  return fmt::format("{:.0f}", v);
}

std::string format_ns(uint64_t ns) {
  if (ns == 0) return "–";
  if (ns >= 10000000) return fmt::format("{}ms", ns / 1000000);
  if (ns >= 10000) return fmt::format("{}µs", ns / 1000);
  return fmt::format("{}ns", ns);
}

std::string format_ratio(double r) { return r > 0 ? fmt::format("{:.2f}×", r) : "–"; }

std::string format_spread(const Spread& s) {
  if (s.median <= 0) return "";
  return fmt::format("±{:.0f}%", 50 * (s.max - s.min) / s.median);
}

std::vector<Row> run_bench(const BenchOptions& opts) {
  validate(opts);
  auto configs = opts.configs.empty() ? all_configs() : opts.configs;
  auto workloads = opts.workloads.empty() ? workload_names() : opts.workloads;
  std::vector<Row> rows;
  unsigned total = static_cast<unsigned>(workloads.size() * opts.threads.size() * configs.size() * opts.rounds), done = 0;
  for (const auto& w : workloads) {
    for (unsigned t : opts.threads) {
      size_t first = rows.size();
      for (const auto& c : configs) {
        Row& row = rows.emplace_back();
        row.workload = w;
        row.config = c;
        row.threads = t;
        row.kernel = c == "kernel";
        row.unsafe = c == "ideal" && workload_has_killer(w);
      }
      RunSpec spec{w, t, opts.seconds, opts.killer_rate, opts.page_fault3_bytes, opts.giant_db_frames};
      for (unsigned round = 0; round < opts.rounds; ++round) {
        for (size_t i = 0; i < configs.size(); ++i) {
          auto peer = make_peer(configs[i], spec, opts);
          rows[first + i].runs.push_back(run_workload(*peer, spec));
          if (opts.progress) opts.progress(++done, total, fmt::format("{} {} threads={}", w, configs[i], t));
        }
      }
      for (size_t i = first; i < rows.size(); ++i) summarize(rows[i]);
    }
  }
  add_ratios(rows);
  return rows;
}

// fmt pads by bytes; "µs", "×", "±" and "–" are wider in UTF-8 than on
// screen, so columns holding them are padded by hand.
static std::string pad(const std::string& s, size_t width) {
  size_t shown = 0;
  for (unsigned char c : s) shown += (c & 0xc0) != 0x80;
  return std::string(width > shown ? width - shown : 0, ' ') + s;
}

void print_table(const std::vector<Row>& rows, std::ostream& out) {
  std::string last;
  for (const Row& r : rows) {
    std::string group = fmt::format("{} threads={}", r.workload, r.threads);
    if (group != last) {
      out << fmt::format("\n{} (latency: faults on the engine, accesses on the kernel)\n{:<40} {:>9} {:>5} {:>6} {:>6} "
                         "{:>9} {:>8} {:>7} {:>8} {:>8} {:>8}  {}\n",
                         group, "config", "pages/s/T", "sprd", "xideal", "xkern", "faults/s", "retr/flt", "kill/s",
                         "p50", "p99", "p99.9", "top lock wait/fault");
      last = group;
    }
    int dom = r.dominant_lock_index();
    const Histogram& lat = r.latency();
    out << fmt::format("{:<40} {:>9} {} {} {} {:>9} {:>8.3f} {:>7} {} {} {}  {}\n",
                       r.config + (r.unsafe ? " (unsafe)" : ""), format_rate(r.pages_per_sec_per_thread.median),
                       pad(format_spread(r.pages_per_sec_per_thread), 5), pad(format_ratio(r.ratio_to_ideal), 6),
                       pad(format_ratio(r.ratio_to_kernel), 6), format_rate(r.faults_per_sec.median),
                       r.retries_per_fault, format_rate(r.killer_ops_per_sec.median),
                       pad(format_ns(lat.quantile(0.5)), 8), pad(format_ns(lat.quantile(0.99)), 8),
                       pad(format_ns(lat.quantile(0.999)), 8),
                       dom < 0 ? "–" : fmt::format("{} {:.0f}ns", r.dominant_lock(), r.lock_wait_ns_per_fault[dom]));
  }
}

namespace {
nlohmann::json spread_json(const Spread& s) { return {{"median", s.median}, {"min", s.min}, {"max", s.max}}; }
nlohmann::json quantiles_json(const Histogram& h) {
  return {{"p50", h.quantile(0.5)}, {"p99", h.quantile(0.99)}, {"p999", h.quantile(0.999)}};
}
}  // namespace

nlohmann::json to_json(const std::vector<Row>& rows, const BenchOptions& opts) {
  nlohmann::json j;
  j["seconds_per_run"] = opts.seconds;
  j["rounds"] = opts.rounds;
  j["killer_rate"] = opts.killer_rate;
  j["rows"] = nlohmann::json::array();
  for (const Row& r : rows) {
    nlohmann::json lw = nlohmann::json::object();
    for (unsigned i = 0; i < kLockClasses; ++i)
      if (r.lock_wait_ns_per_fault[i] > 0) lw[ThreadStats::lock_class_name(i)] = r.lock_wait_ns_per_fault[i];
    j["rows"].push_back({{"workload", r.workload},
                         {"config", r.config},
                         {"threads", r.threads},
                         {"unsafe", r.unsafe},
                         {"pages_per_sec_per_thread", spread_json(r.pages_per_sec_per_thread)},
                         {"faults_per_sec", spread_json(r.faults_per_sec)},
                         {"killer_ops_per_sec", spread_json(r.killer_ops_per_sec)},
                         {"retries_per_fault", r.retries_per_fault},
                         {"bus_errors_per_sec", r.bus_errors_per_sec},
                         {"access_ns", quantiles_json(r.access_all)},
                         {"fault_ns", quantiles_json(r.fault_all)},
                         {"lock_wait_ns_per_fault", lw},
                         {"ratio_to_ideal", r.ratio_to_ideal},
                         {"ratio_to_kernel", r.ratio_to_kernel}});
  }
  return j;
}

void write_json(const std::vector<Row>& rows, const BenchOptions& opts, std::ostream& out) {
  out << to_json(rows, opts).dump(1) << "\n";
}

void write_csv(const std::vector<Row>& rows, std::ostream& out) {
  out << "workload,config,threads,unsafe,pages_per_sec_per_thread,min,max,faults_per_sec,killer_ops_per_sec,"
         "retries_per_fault,access_p50_ns,access_p99_ns,access_p999_ns,fault_p50_ns,fault_p99_ns,fault_p999_ns,"
         "ratio_to_ideal,ratio_to_kernel";
  for (unsigned i = 0; i < kLockClasses; ++i) out << ",wait_ns_per_fault_" << ThreadStats::lock_class_name(i);
  out << "\n";
  for (const Row& r : rows) {
    out << fmt::format("{},{},{},{},{:.0f},{:.0f},{:.0f},{:.0f},{:.1f},{:.5f},{},{},{},{},{},{},{:.4f},{:.4f}", r.workload,
                       r.config, r.threads, r.unsafe ? 1 : 0, r.pages_per_sec_per_thread.median,
                       r.pages_per_sec_per_thread.min, r.pages_per_sec_per_thread.max, r.faults_per_sec.median,
                       r.killer_ops_per_sec.median, r.retries_per_fault, r.access_all.quantile(0.5),
                       r.access_all.quantile(0.99), r.access_all.quantile(0.999), r.fault_all.quantile(0.5),
                       r.fault_all.quantile(0.99), r.fault_all.quantile(0.999), r.ratio_to_ideal, r.ratio_to_kernel);
    for (unsigned i = 0; i < kLockClasses; ++i) out << fmt::format(",{:.1f}", r.lock_wait_ns_per_fault[i]);
    out << "\n";
  }
}

}  // namespace faultline::bench
