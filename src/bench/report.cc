// src/bench/report.cc — the main job (see report.h).
//
// Three measurements, then one document: the checker's verdict table
// (PCT, every protocol x scenario x memory model), the benchmark matrix,
// and a differential replay of generated logs (engine against kernel).
// The joined table puts each protocol's verdicts beside its prices; the
// targets section says plainly which benchmark targets were met.
#include "bench/report.h"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "bench/bench.h"
#include "bench/document.h"
#include "bench/plot.h"
#include "check/check.h"
#include "faultline/error.h"
#include "protocol/protocol.h"
#include "replay/generator.h"
#include "replay/replayer.h"

namespace faultline::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kDefaultProtocol = "page_lock+invalidate_lock";

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string fmt_eta(double s) { return fmt::format("{}:{:02}", static_cast<int>(s) / 60, static_cast<int>(s) % 60); }

// ---- the three measurements ----------------------------------------------

struct Verdicts {
  unsigned verified = 0, passed = 0, bug = 0;
  uint64_t executions = 0;
  double seconds = 0;
  std::set<std::string> guarantees;  // violated
};

// The default and the protocols asked for, each once, in that order
// (run_report has made their names canonical).
std::vector<std::string> asked_protocols(const ReportOptions& o) {
  std::vector<std::string> v{kDefaultProtocol};
  for (const auto& p : o.protocols)
    if (std::find(v.begin(), v.end(), p) == v.end()) v.push_back(p);
  return v;
}

std::vector<std::string> checked_protocols(const ReportOptions& o) {
  return o.protocols.empty() ? faultline_check::all_protocols() : asked_protocols(o);
}

std::vector<faultline_check::Cell> run_checker(const ReportOptions& o, std::ostream& err) {
  faultline_check::CheckOptions co;
  co.strategy = "pct";
  co.executions = o.quick ? 100 : 0;  // 0: the checker's default (1,000 per cell)
  co.jobs = o.jobs;
  co.progress = ::isatty(2);  // a counter redrawn in place: terminals only
  std::vector<faultline_check::CellKey> keys;
  // The 2 MiB worlds under sc only: an execution there is a thousand
  // times longer.
  for (const auto& p : checked_protocols(o))
    for (const auto& s : faultline_check::all_scenarios())
      for (const char* m : {"sc", "tso", "weak"})
        if (std::string(m) == "sc" || !faultline_check::big_world(s)) keys.push_back({p, s, m});
  err << fmt::format("[report 1/3] checker: {} cells, PCT, {} executions each\n", keys.size(),
                     o.quick ? 100 : 1000);
  auto t0 = Clock::now();
  auto cells = faultline_check::run_cells_in_workers(keys, co, err);
  err << fmt::format("checker: {} cells in {:.0f} s\n", cells.size(), since(t0));
  return cells;
}

std::map<std::string, Verdicts> summarize_verdicts(const std::vector<faultline_check::Cell>& cells) {
  std::map<std::string, Verdicts> v;
  for (const auto& c : cells) {
    Verdicts& p = v[c.protocol];
    p.verified += c.verdict == "VERIFIED";
    p.passed += c.verdict == "PASSED";
    if (c.verdict == "BUG") {
      ++p.bug;
      p.guarantees.insert(c.guarantee);
    }
    p.executions += c.executions;
    p.seconds += c.seconds;
  }
  return v;
}

BenchOptions bench_options(const ReportOptions& o) {
  BenchOptions b;
  b.tmpdir = o.tmpdir;
  if (o.quick) {
    b.configs = {"ideal", kDefaultProtocol, "page_lock_unfair+invalidate_lock", "page_lock_fair+invalidate_lock",
                 "i_mmap_rwsem+invalidate_lock",
                 "no_new_maps+invalidate_lock", "kernel"};
    b.threads = {1, 2, 16};
    b.rounds = 2;
    b.seconds = 0.1;
    b.page_fault3_bytes = uint64_t{32} << 20;
  } else {
    b.threads = {1, 2, 4, 16};
    b.rounds = 3;
    b.seconds = 0.25;
  }
  if (!o.protocols.empty()) {
    b.configs = {"ideal"};
    for (const auto& p : asked_protocols(o)) b.configs.push_back(p);
    b.configs.push_back("kernel");
  }
  return b;
}

std::vector<Row> run_benchmarks(BenchOptions& b, std::ostream& err) {
  auto t0 = Clock::now();
  bool tty = ::isatty(2);
  b.progress = [&](unsigned done, unsigned total, const std::string& what) {
    double eta = since(t0) / done * (total - done);
    std::string line = fmt::format("[bench {}/{}, ETA {}] {}", done, total, fmt_eta(eta), what);
    if (tty) err << fmt::format("\r{:<78}", line) << (done == total ? "\n" : "") << std::flush;
    else if (done % 10 == 0 || done == total) err << line << "\n";
  };
  err << "[report 2/3] benchmark\n";
  return run_bench(b);
}

struct ReplaySummary {
  unsigned logs = 0, agreed = 0;
  uint64_t ops = 0, bytes = 0;
  std::string first_difference;
};

ReplaySummary run_replays(const ReportOptions& o, std::ostream& err) {
  ReplaySummary s;
  unsigned logs = o.quick ? 2 : 6;
  uint64_t count = o.quick ? 2000 : 5000;
  err << fmt::format("[report 3/3] differential replay: {} generated logs of {} ops, engine against kernel\n", logs,
                     count);
  for (unsigned seed = 1; seed <= logs; ++seed) {
    replay::GenOptions g;
    g.seed = seed;
    g.count = count;
    replay::ReplayOptions ro;
    ro.tmpdir = o.tmpdir;
    ro.config.frames = 4096;
    std::ostringstream diff;
    auto r = replay::replay_ops(replay::generate_ops(g), ro, diff);
    ++s.logs;
    s.agreed += r.agreed;
    s.ops += r.executed;
    s.bytes += r.bytes_compared;
    if (!r.agreed && s.first_difference.empty()) s.first_difference = fmt::format("seed {}: {}", seed, diff.str());
  }
  return s;
}

// ---- the document -----------------------------------------------------------

double total_rate(const Row* r) { return r ? r->pages_per_sec_per_thread.median * r->threads : 0; }

struct Facts {
  const std::vector<Row>& rows;
  const std::map<std::string, Verdicts>& verdicts;
  const BenchOptions& bench;
  unsigned max_threads() const { return bench.threads.back(); }
  bool claims_guarantees(const std::string& p) const {
    auto it = verdicts.find(p);
    return it != verdicts.end() && it->second.bug == 0;
  }
  // The protocol with no BUG and the highest single-thread page_fault3.
  std::string best_protocol() const {
    std::string best;
    double v = -1;
    for (const Row& r : rows)
      if (r.workload == "page_fault3" && r.threads == 1 && claims_guarantees(r.config) &&
          r.pages_per_sec_per_thread.median > v) {
        v = r.pages_per_sec_per_thread.median;
        best = r.config;
      }
    return best;
  }
};

std::string verdict_cell(const Facts& f, const std::string& config) {
  if (config == "ideal") return "not a protocol: the floor (unsafe with killers)";
  if (config == "kernel") return "the peer (Linux, this machine)";
  auto it = f.verdicts.find(config);
  if (it == f.verdicts.end()) return "–";
  const Verdicts& v = it->second;
  std::string s = fmt::format("{} verified, {} passed, {} BUG", v.verified, v.passed, v.bug);
  if (v.bug) {
    std::string gs;
    for (const auto& g : v.guarantees) gs += (gs.empty() ? "" : ",") + g;
    s += " (" + gs + ")";
  }
  return s;
}

void joined_table(Document& d, const Facts& f) {
  unsigned tmax = f.max_threads();
  d.heading(2, "Verdicts and prices, per protocol");
  d.paragraph(fmt::format(
      "Each protocol's model-checker verdicts (every scenario under `sc`, `tso` and `weak`; the 2 MiB worlds, PMD "
      "mappings and khugepaged, under `sc`) beside what it costs. "
      "page_fault3 columns are pages touched per second; scaling is total throughput at T threads over total at "
      "fewer; giant_db runs with a killer at {:.0f} operations per second.",
      f.bench.killer_rate));
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> configs;
  for (const Row& r : f.rows)
    if (r.workload == f.rows.front().workload && r.threads == f.rows.front().threads) configs.push_back(r.config);
  for (const auto& c : configs) {
    const Row* pf1 = find_row(f.rows, "page_fault3", c, 1);
    const Row* pf2 = find_row(f.rows, "page_fault3", c, 2);
    const Row* pfm = find_row(f.rows, "page_fault3", c, tmax);
    const Row* h2 = find_row(f.rows, "hot_file", c, 2);
    const Row* hm = find_row(f.rows, "hot_file", c, tmax);
    const Row* g = find_row(f.rows, "giant_db", c, tmax);
    rows.push_back({"`" + c + "`", verdict_cell(f, c), pf1 ? format_rate(pf1->pages_per_sec_per_thread.median) : "–",
                    pf1 ? format_ratio(pf1->ratio_to_ideal) : "–", pf1 ? format_ratio(pf1->ratio_to_kernel) : "–",
                    pf2 && pf1 ? format_ratio(total_rate(pf2) / total_rate(pf1)) : "–",
                    pfm && pf2 ? format_ratio(total_rate(pfm) / total_rate(pf2)) : "–",
                    hm && h2 ? format_ratio(total_rate(hm) / total_rate(h2)) : "–",
                    g ? format_rate(g->pages_per_sec_per_thread.median) : "–",
                    g ? format_ns(g->latency().quantile(0.999)) : "–",
                    g && !g->dominant_lock().empty() ? g->dominant_lock() : "–"});
  }
  d.table({"protocol", "checker", "page_fault3 1T pages/s", "×ideal", "×kernel", "2T/1T",
           fmt::format("{}T/2T", tmax), fmt::format("hot_file {}T/2T", tmax), fmt::format("giant_db {}T pages/s/T", tmax),
           "giant_db p99.9", "giant_db top lock wait"},
          rows);
}

void targets(Document& d, const Facts& f) {
  d.heading(2, "Targets");
  std::vector<std::string> items;
  auto mark = [](bool met) { return met ? "**met**" : "**MISSED**"; };
  std::string best = f.best_protocol();
  unsigned tmax = f.max_threads();
  const Row* pf1 = find_row(f.rows, "page_fault3", best, 1);
  const Row* pf2 = find_row(f.rows, "page_fault3", best, 2);
  const Row* pfm = find_row(f.rows, "page_fault3", best, tmax);
  if (pf1 && pf1->ratio_to_ideal > 0) {
    items.push_back(fmt::format("page_fault3, 1 thread: the best protocol that claims G1–G6, `{}`, runs at {} of "
                                "`ideal` (target: within 1.1×, i.e. at least 0.91): {}. Against the kernel: {}.",
                                best, format_ratio(pf1->ratio_to_ideal), mark(pf1->ratio_to_ideal >= 1 / 1.1),
                                format_ratio(pf1->ratio_to_kernel)));
  }
  if (pf1 && pf2) {
    double s = total_rate(pf2) / total_rate(pf1);
    items.push_back(fmt::format("page_fault3, 2 threads: `{}` at {} its 1-thread throughput (target 1.9×): {}.", best,
                                format_ratio(s), mark(s >= 1.9)));
  }
  if (pf2 && pfm && tmax > 2) {
    double s = total_rate(pfm) / total_rate(pf2);
    items.push_back(fmt::format("page_fault3, {} threads: `{}` keeps {} of its 2-thread throughput (target 0.9×): {}.",
                                tmax, best, format_ratio(s), mark(s >= 0.9)));
  }
  const Row* h2 = find_row(f.rows, "hot_file", kDefaultProtocol, 2);
  const Row* hm = find_row(f.rows, "hot_file", kDefaultProtocol, tmax);
  if (h2 && hm && tmax > 2) {
    double s = total_rate(hm) / total_rate(h2);
    items.push_back(fmt::format("hot_file, {} threads: the default `{}` keeps {} of its 2-thread throughput "
                                "(target 0.8×): {}.",
                                tmax, kDefaultProtocol, format_ratio(s), mark(s >= 0.8)));
  }
  const Row* fair = find_row(f.rows, "hot_file", "page_lock_fair+invalidate_lock", tmax);
  if (fair && hm) {
    double s = total_rate(fair) / total_rate(hm);
    items.push_back(fmt::format("hot_file, {} threads: the fair page lock of 5.9-rc runs at {} of today's ({:+.0f} %), "
                                "fault p99.9 {} against {}. The kernel's history: the fair page lock cost Apache "
                                "−28 % to −63 %.",
                                tmax, format_ratio(s), (s - 1) * 100, format_ns(fair->latency().quantile(0.999)), format_ns(hm->latency().quantile(0.999))));
  }
  const Row* unfair = find_row(f.rows, "hot_file", "page_lock_unfair+invalidate_lock", tmax);
  if (unfair && hm)
    items.push_back(fmt::format("hot_file, {} threads: the unfair page lock of before 5.9 runs at {} of today's "
                                "(which hands the lock to a waiter woken five times in vain), fault p99.9 {} against {}.",
                                tmax, format_ratio(total_rate(unfair) / total_rate(hm)),
                                format_ns(unfair->latency().quantile(0.999)), format_ns(hm->latency().quantile(0.999))));
  for (const Row& r : f.rows)
    if (r.workload == "giant_db" && r.threads == tmax)
      items.push_back(fmt::format("giant_db, {} threads, killer at {:.0f}/s: `{}` {} pages/s/thread, {} p99.9{}{}.",
                                  tmax, r.killer_ops_per_sec.median, r.config, format_rate(r.pages_per_sec_per_thread.median),
                                  r.kernel ? "access" : "fault", " " + format_ns(r.latency().quantile(0.999)),
                                  r.dominant_lock().empty() ? "" : ", most wait on " + r.dominant_lock()));
  d.bullets(items);
}

// ---- the fault path, step by step ----------------------------------------

struct FaultStep {
  const char* path;  // the configuration's @PATH ("" for the default)
  const char* what;
};
constexpr FaultStep kFaultSteps[] = {
    {"@page", "one page per fault"},
    {"@around", "fault-around, 16 pages (Linux 3.15)"},
    {"", "whole large folios mapped by the fault and fault-around (6.18; the default)"},
    {"@pmd", "2 MiB folios mapped by one PMD entry (do_set_pmd)"},
};

// page_fault3 with one and two threads (which share one address space and
// mmap and munmap all the time), the default protocol at each step of the
// kernel's fault-path history and with per-VMA locks, the kernel beside.
std::vector<Row> run_fault_path(const BenchOptions& main, std::ostream& err) {
  BenchOptions b = main;
  b.configs.clear();
  for (const auto& s : kFaultSteps) b.configs.push_back(std::string(kDefaultProtocol) + s.path);
  b.configs.push_back(std::string(kDefaultProtocol) + "@vma");
  b.configs.push_back("kernel");
  b.workloads = {"page_fault3"};
  b.threads = {1, 2};
  b.progress = nullptr;
  err << "[report 2/3] the fault path, step by step\n";
  return run_bench(b);
}

void fault_path_section(Document& d, const std::vector<Row>& rows) {
  d.heading(2, "The fault path, step by step");
  d.paragraph(fmt::format("page_fault3 with one thread (a shared mapping of the thread's own file, a store to each "
                          "page, unmap), `{}` at each step of the kernel's fault-path history, the kernel beside them.",
                          kDefaultProtocol));
  std::vector<std::vector<std::string>> table;
  for (const auto& s : kFaultSteps) {
    const Row* r = find_row(rows, "page_fault3", std::string(kDefaultProtocol) + s.path, 1);
    if (!r) continue;
    double pages = r->pages_per_sec_per_thread.median;
    table.push_back({s.what, format_rate(pages), fmt::format("{:.4f}", pages > 0 ? r->faults_per_sec.median / pages : 0),
                     format_ratio(r->ratio_to_kernel)});
  }
  if (const Row* k = find_row(rows, "page_fault3", "kernel", 1))
    table.push_back({"the kernel (this machine)", format_rate(k->pages_per_sec_per_thread.median), "–", "1.00×"});
  d.table({"step", "pages/s", "faults/page", "×kernel"}, table);
  d.paragraph("What mmap_lock costs: two threads of one address space, each mapping, touching and unmapping its own "
              "file, with faults under mmap_lock and under per-VMA locks (Linux 6.4).");
  std::vector<std::vector<std::string>> locks;
  for (const std::string& c : {std::string(kDefaultProtocol), std::string(kDefaultProtocol) + "@vma",
                               std::string("kernel")}) {
    const Row* one = find_row(rows, "page_fault3", c, 1);
    const Row* two = find_row(rows, "page_fault3", c, 2);
    if (!one || !two) continue;
    locks.push_back({c == "kernel" ? "the kernel" : c.find("@vma") != std::string::npos ? "per-VMA locks" : "mmap_lock",
                     format_rate(total_rate(one)), format_rate(total_rate(two)),
                     format_ratio(total_rate(two) / total_rate(one)),
                     two->dominant_lock().empty() ? "–" : two->dominant_lock()});
  }
  d.table({"faults under", "1T pages/s", "2T pages/s", "2T/1T", "2T top lock wait"}, locks);
}

void bench_tables(Document& d, const Facts& f, const std::vector<std::string>& figures) {
  d.heading(2, "Benchmark");
  d.paragraph(fmt::format(
      "Medians over {} interleaved rounds of {:.2f} s each; ± is half the range over the median. Latencies are "
      "per fault for the engine (accesses that faulted) and per access for the kernel, whose faults cannot be told "
      "apart from outside. Lock wait is per fault, measured in the engine's sync layer on contended acquisitions.",
      f.bench.rounds, f.bench.seconds));
  for (const auto& w : workload_names()) {
    d.heading(3, w);
    std::vector<std::vector<std::string>> rows;
    for (const Row& r : f.rows) {
      if (r.workload != w) continue;
      rows.push_back({"`" + r.config + "`" + (r.unsafe ? " (unsafe)" : ""), std::to_string(r.threads),
                      format_rate(r.pages_per_sec_per_thread.median),
                      format_spread(r.pages_per_sec_per_thread),
                      format_ratio(r.ratio_to_ideal), format_ratio(r.ratio_to_kernel), format_rate(r.faults_per_sec.median),
                      fmt::format("{:.4f}", r.retries_per_fault), format_rate(r.killer_ops_per_sec.median),
                      format_ns(r.latency().quantile(0.5)), format_ns(r.latency().quantile(0.99)),
                      format_ns(r.latency().quantile(0.999)), r.dominant_lock().empty() ? "–" : r.dominant_lock()});
    }
    d.table({"config", "T", "pages/s/T", "spread", "×ideal", "×kernel", "faults/s", "retries/fault", "killer/s",
             "p50", "p99", "p99.9", "top lock"},
            rows);
    for (const auto& fig : figures)
      if (fig.find("-" + w + "-") != std::string::npos || fig == "throughput-" + w)
        d.figure(fig, fig.substr(0, fig.find('-')) + ": " + w);
  }
}

// What each kind of BUG the table shows means (docs/verdicts.md has more).
std::string bug_meaning(const std::string& g) {
  static const std::map<std::string, std::string> m = {
      {"G1", "a PTE maps a page the killer removed from the page cache: the map guard let a fault in after the kill"},
      {"G2", "the page cache or a load shows data the file no longer holds (old blocks read back in: the creation "
             "guard)"},
      {"G3", "a frame went back to the pool while something still used it (use after free)"},
      {"G4", "two pages cached for one file index, or a PTE maps the wrong file page (coherence)"},
      {"G5", "an access to a page wholly past EOF succeeded, or such a page stayed cached"},
      {"G6", "dirty data did not reach the store (a lost write)"},
      {"deadlock", "every CPU sleeps: a lock order the protocol breaks"},
      {"livelock", "a CPU retries forever without sleeping (a fault that cannot make progress)"},
      {"refcount", "a folio's references do not balance at the end (a leak or a double put)"},
      {"crash", "the engine hit an internal consistency check"},
      {"VM_BUG_ON", "a kernel assertion the scenario checks fired (a property the protocol claims; "
                    "unclaimed ones are not counted)"},
      {"error", "an operation failed that must not"}};
  auto it = m.find(g);
  return it == m.end() ? "see docs/verdicts.md" : it->second;
}

void explain_bugs(Document& d, const std::map<std::string, Verdicts>& v) {
  std::set<std::string> kinds;
  for (const auto& [p, x] : v) kinds.insert(x.guarantees.begin(), x.guarantees.end());
  if (kinds.empty()) return;
  std::vector<std::vector<std::string>> rows;
  for (const auto& g : kinds) rows.push_back({g, bug_meaning(g)});
  d.paragraph("What the BUG kinds in this table mean (docs/guarantees.md defines G1-G6):");
  d.table({"BUG", "meaning"}, rows);
}

void checker_section(Document& d, const std::map<std::string, Verdicts>& v, const std::string& fig, bool quick) {
  d.heading(2, "Model checker");
  d.paragraph(fmt::format("Every protocol × scenario × memory model (the 2 MiB worlds under `sc` only) under PCT "
                          "({} executions per cell; a BUG's "
                          "replayable schedule is printed by `faultline check`). VERIFIED needs `--strategy "
                          "exhaustive`; see docs/checker.md.",
                          quick ? 100 : 1000));
  std::vector<std::vector<std::string>> rows;
  for (const auto& [p, x] : v) {
    std::string gs;
    for (const auto& g : x.guarantees) gs += (gs.empty() ? "" : ", ") + g;
    rows.push_back({"`" + p + "`", std::to_string(x.passed), std::to_string(x.bug), gs.empty() ? "–" : gs,
                    std::to_string(x.executions), x.seconds > 0 ? format_rate(static_cast<double>(x.executions) / x.seconds) : "–"});
  }
  d.table({"protocol", "PASSED", "BUG", "guarantees broken", "executions", "executions/s"}, rows);
  explain_bugs(d, v);
  if (!fig.empty()) d.figure(fig, "checker executions per second");
}

nlohmann::json report_json(const Facts& f, const std::vector<faultline_check::Cell>& cells, const ReplaySummary& rs) {
  nlohmann::json j;
  j["bench"] = to_json(f.rows, f.bench);
  j["checker"] = nlohmann::json::array();
  for (const auto& c : cells)
    j["checker"].push_back({{"protocol", c.protocol}, {"scenario", c.scenario}, {"memory_model", c.memory_model},
                            {"verdict", c.verdict}, {"guarantee", c.guarantee}, {"executions", c.executions},
                            {"seconds", c.seconds}, {"schedule", c.schedule}});
  j["replay"] = {{"logs", rs.logs}, {"agreed", rs.agreed}, {"ops", rs.ops}, {"bytes_compared", rs.bytes},
                 {"first_difference", rs.first_difference}};
  return j;
}

std::string machine_line(const ReportOptions& o) {
  utsname u{};
  ::uname(&u);
  std::time_t now = std::time(nullptr);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  return fmt::format("{}, Linux {} on {}, {} CPUs; the kernel's files in {}; {} run.", when, u.release, u.machine,
                     ::sysconf(_SC_NPROCESSORS_ONLN), o.tmpdir.empty() ? "$TMPDIR or /tmp" : o.tmpdir,
                     o.quick ? "a quick (--quick)" : "a full");
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  if (!f) throw Error(Errc::io_error, "cannot write '" + path + "'");
}

std::vector<std::string> draw_figures(const std::string& dir, const Facts& f) {
  std::vector<std::string> figs;
  auto add = [&](const std::string& s) {
    if (!s.empty()) figs.push_back(s);
  };
  for (const auto& w : workload_names()) {
    add(plot_throughput(dir, f.rows, w));
    add(plot_latency(dir, f.rows, w, f.max_threads()));
    add(plot_lock_wait(dir, f.rows, w, f.max_threads()));
  }
  return figs;
}

}  // namespace

int run_report(const ReportOptions& given, std::ostream& out, std::ostream& err) {
  ReportOptions o = given;
  for (auto& p : o.protocols) {
    try {
      p = faultline::detail::make_protocol(p).name;  // "invalidate_lock" is the default, once
    } catch (const faultline::Error& e) {
      err << "faultline report: --protocol: " << e.what() << "\n";
      return 2;
    }
  }
  ::mkdir(o.out_dir.c_str(), 0755);
  struct stat st {};
  if (::stat(o.out_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {  // /dev/null is writable, and no directory
    err << fmt::format("faultline report: --out '{}' is not a directory\n", o.out_dir);
    return 2;
  }
  if (::access(o.out_dir.c_str(), W_OK) != 0) {
    err << fmt::format("faultline report: cannot write to directory '{}'\n", o.out_dir);
    return 2;
  }
  auto t0 = Clock::now();
  auto cells = run_checker(o, err);
  auto verdicts = summarize_verdicts(cells);
  BenchOptions b = bench_options(o);
  auto rows = run_benchmarks(b, err);
  auto fault_path = run_fault_path(b, err);
  auto replays = run_replays(o, err);
  Facts f{rows, verdicts, b};

  bool plots = have_gnuplot();
  std::vector<std::string> figs = plots ? draw_figures(o.out_dir, f) : std::vector<std::string>{};
  std::vector<std::pair<std::string, double>> speed;
  for (const auto& [p, v] : verdicts)
    if (v.seconds > 0) speed.emplace_back(p, static_cast<double>(v.executions) / v.seconds);
  std::string checker_fig = plots ? plot_checker_speed(o.out_dir, speed) : "";

  Document d;
  d.heading(1, "faultline report");
  d.paragraph(machine_line(o) + fmt::format(" Took {:.0f} s.", since(t0)));
  joined_table(d, f);
  targets(d, f);
  fault_path_section(d, fault_path);
  bench_tables(d, f, figs);
  checker_section(d, verdicts, checker_fig, o.quick);
  d.heading(2, "Differential replay");
  d.paragraph(fmt::format("{} of {} generated op logs ({} ops executed, {} bytes compared): engine and kernel {}.{}",
                          replays.agreed, replays.logs, replays.ops, replays.bytes,
                          replays.agreed == replays.logs ? "agree" : "DIFFER",
                          replays.first_difference.empty() ? "" : " First difference: " + replays.first_difference));
  if (!plots) d.paragraph("gnuplot was not found: no figures (install gnuplot-nox).");
  d.heading(2, "How to measure it again");
  d.code(fmt::format("faultline report{} --out {}\nfaultline bench --protocol {} --workload {} --threads {} --seconds "
                     "{} --rounds {}\nfaultline bench --protocol {p}@page,{p}@around,{p},{p}@pmd,{p}@vma,kernel "
                     "--workload page_fault3 --threads 1,2 --seconds {} --rounds {}\nfaultline check --strategy pct "
                     "--executions {}",
                     o.quick ? " --quick" : "", o.out_dir, o.quick ? fmt::format("{}", fmt::join(b.configs, ",")) : "all",
                     "all", fmt::format("{}", fmt::join(b.threads, ",")), b.seconds, b.rounds, b.seconds, b.rounds,
                     o.quick ? 100 : 1000, fmt::arg("p", kDefaultProtocol)));
  const std::string md = d.markdown();
  try {
    write_text(o.out_dir + "/report.md", md);
    write_text(o.out_dir + "/report.html", d.html(o.out_dir, "faultline report"));
    write_text(o.out_dir + "/report.json", report_json(f, cells, replays).dump(1) + "\n");
  } catch (const Error& e) {
    err << "faultline report: " << e.what() << "\n";
    return 2;
  }
  out << md.substr(0, md.find("\n## Benchmark")) << "\n";
  out << fmt::format("report: {}/report.md, report.html, report.json and {} figures\n", o.out_dir,
                     figs.size() + !checker_fig.empty());
  return replays.agreed == replays.logs ? 0 : 1;
}

}  // namespace faultline::bench
