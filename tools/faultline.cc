// tools/faultline.cc — the faultline command.
//
//   faultline replay [--against engine|kernel|both] [--protocol P] [--frames N]
//                    [--engine-store memory|file] [--tmpdir DIR] LOG
//   faultline generate [--seed N] [--count N] [--max-file BYTES] [-o FILE]
//   faultline check [--protocol P|all] [--scenario S|all] [--memory-model M|all]
//                   [--strategy random|pct|exhaustive] [--bound K] [--executions N] [--seconds S]
//                   [--seed N] [--replay SCHEDULE] [--json FILE]
//   faultline bench [--protocol P,...|all] [--workload W,...|all] [--threads 1,2,4,16]
//                   [--seconds S] [--rounds N] [--killer-rate R] [--json FILE] [--csv FILE]
//   faultline report [--out DIR] [--quick] [--tmpdir DIR] [--jobs N]
//   faultline litmus [--memory-model M] [--bound K|--unbounded] [--reorder-bound R] [--seconds S]
//                    [--states] [--json FILE] FILE|DIR...
//   faultline --version
//
// Exit status: 0 success (or agreement), 1 a difference was found, 2 bad
// usage or a malformed log (with a message naming the bad value or line).
#include <CLI/CLI.hpp>
#include <unistd.h>
#include <fmt/format.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "faultline/faultline.h"
#ifdef FAULTLINE_HAVE_CHECK
#include "bench/report.h"
#include "check/check.h"
#include "check/litmus.h"
#endif
#include "bench/bench.h"
#include "replay/generator.h"
#include "replay/inject.h"
#include "replay/oplog.h"
#include "replay/replayer.h"

namespace {

using namespace faultline;
using namespace faultline::replay;

struct ReplayArgs {
  std::string against = "both";
  std::string protocol = Config{}.protocol;
  uint64_t frames = 4096;
  std::string tmpdir;
  std::string engine_store = "memory";
  std::string inject;
  std::string fs;
  bool direct = false;
  std::string log;
};

// replay --inject: the engine over a store that fails, against the model.
int run_injected(const std::vector<Op>& ops, const ReplayOptions& opts, const std::string& spec_text) {
  InjectSpec spec;
  try {
    spec = parse_inject_spec(spec_text);
  } catch (const std::invalid_argument& e) {
    std::cerr << "faultline replay: " << e.what() << "\n";
    return 2;
  }
  InjectReport r;
  try {
    std::string dir = opts.engine_on_file ? default_tmpdir(opts.tmpdir) : std::string();
    r = replay_injected(ops, opts.config, spec, std::cout, make_replay_store(dir));
  } catch (const Error& e) {  // a bad --protocol or --frames, an unwritable tmpdir
    std::cerr << "faultline replay: " << e.what() << "\n";
    return 2;
  }
  if (!r.agreed) return 1;
  std::cout << summary_line(r) << "\n";
  return 0;
}

int run_replay(const ReplayArgs& a) {
  if (std::filesystem::is_directory(a.log)) {
    std::cerr << fmt::format("faultline replay: '{}' is a directory, not an op log\n", a.log);
    return 2;
  }
  std::ifstream in(a.log);
  if (!in) {
    std::cerr << fmt::format("faultline replay: cannot open log '{}'\n", a.log);
    return 2;
  }
  std::vector<Op> ops;
  try {
    ops = parse_oplog(in);
  } catch (const ParseError& e) {
    std::cerr << fmt::format("faultline replay: {}: {}\n", a.log, e.what());
    return 2;
  }
  static const std::map<std::string, Against> kAgainst = {
      {"engine", Against::engine}, {"kernel", Against::kernel}, {"both", Against::both}};
  ReplayOptions opts;
  opts.against = kAgainst.at(a.against);
  opts.config.protocol = a.protocol;
  opts.config.frames = a.frames;
  opts.tmpdir = a.tmpdir;
  opts.engine_on_file = a.engine_store == "file";
  opts.xfs = a.fs == "xfs";
  opts.direct = a.direct;
  if (!a.inject.empty()) return run_injected(ops, opts, a.inject);
  ReplayReport r;
  try {
    r = replay_ops(ops, opts, std::cout);
  } catch (const Error& e) {  // a bad --protocol or --frames
    std::cerr << "faultline replay: " << e.what() << "\n";
    return 2;
  } catch (const std::runtime_error& e) {  // the kernel target could not start
    std::cerr << "faultline replay: " << e.what() << "\n";
    return 2;
  }
  if (!r.agreed) return 1;
  std::cout << summary_line(r, opts.against) << "\n";
  return 0;
}

int run_generate(const GenOptions& g, const std::string& out_path) {
  auto ops = generate_ops(g);
  bool to_stdout = out_path.empty() || out_path == "-";
  std::ofstream file;
  if (!to_stdout) file.open(out_path);
  std::ostream& out = to_stdout ? std::cout : file;
  if (out) write_oplog(out, ops, g);
  out.flush();
  if (!to_stdout) file.close();
  // A full disk (/dev/full) or a file that takes no writes (/proc/version)
  // shows only here: the log would be lost without a word.
  if (!out || (!to_stdout && file.fail())) {
    std::cerr << fmt::format("faultline generate: cannot write '{}': {}\n", to_stdout ? "standard output" : out_path,
                             std::strerror(errno ? errno : EIO));
    return 2;
  }
  return 0;
}

// "a,b,c" or "all" (empty: every one).
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> v;
  if (s == "all") return v;
  size_t start = 0;
  for (;;) {
    size_t comma = s.find(',', start);
    v.push_back(s.substr(start, comma - start));
    if (comma == std::string::npos) return v;
    start = comma + 1;
  }
}

struct BenchArgs {
  std::string configs = "all", workloads = "all", threads = "1,2,4,16", json, csv;
};

// The numbers of a comma-separated list; bench::validate() checks their range.
std::vector<unsigned> parse_threads(const std::string& s) {
  std::vector<unsigned> v;
  for (const auto& t : split_list(s)) {
    size_t used = 0;
    unsigned long n = 0;
    try {
      n = std::stoul(t, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (t.empty() || used != t.size() || n > UINT_MAX)
      throw Error(Errc::invalid_argument, fmt::format("--threads: '{}' is not a number", t));
    v.push_back(static_cast<unsigned>(n));
  }
  return v;
}

// Opens every output file before the long run, so a bad path fails at once.
std::unique_ptr<std::ofstream> open_output(const std::string& path, const char* what) {
  if (path.empty()) return nullptr;
  auto f = std::make_unique<std::ofstream>(path);
  if (!*f) throw Error(Errc::invalid_argument, fmt::format("{}: cannot write '{}'", what, path));
  return f;
}

int run_bench_command(const BenchArgs& a, bench::BenchOptions o) {
  try {
    o.configs = split_list(a.configs);
    o.workloads = split_list(a.workloads);
    o.threads = parse_threads(a.threads);
    bench::validate(o);
    auto json = open_output(a.json, "--json");
    auto csv = open_output(a.csv, "--csv");
    if (::isatty(2))
      o.progress = [](unsigned done, unsigned total, const std::string& what) {
        std::cerr << fmt::format("\r[{}/{}] {:<60}", done, total, what) << (done == total ? "\n" : "") << std::flush;
      };
    auto rows = bench::run_bench(o);
    bench::print_table(rows, std::cout);
    if (json) bench::write_json(rows, o, *json);
    if (csv) bench::write_csv(rows, *csv);
    return 0;
  } catch (const Error& e) {
    std::cerr << "faultline bench: " << e.what() << "\n";
    return 2;
  } catch (const std::runtime_error& e) {
    std::cerr << "faultline bench: " << e.what() << "\n";
    return 2;
  }
}

// CLI11 reads "-1" into an unsigned option as 2^64-1, and a number past
// 2^64-1 as 2^64-1: refuse both, naming the value.
const CLI::Validator kNonNegative(
    [](std::string& s) {
      if (!s.empty() && s[0] == '-') return "must not be negative, got " + s;
      uint64_t v = 0;
      bool too_big = false;
      if (!faultline::replay::parse_u64(s, &v, &too_big) && too_big) return "out of range (more than 2^64 - 1): " + s;
      return std::string();
    },
    "NONNEGATIVE");
// Range checks pass NaN (every comparison with it is false).
const CLI::Validator kFinite(
    [](std::string& s) {
      double v = 0;
      return CLI::detail::lexical_cast(s, v) && std::isfinite(v) ? std::string() : "not a finite number: " + s;
    },
    "FINITE");

// The file --json will write, checked before a long run: it must be
// writable now, not after the table has run.
bool writable(const std::string& path, const char* command) {
  if (path.empty()) return true;
  std::ofstream probe(path, std::ios::app);
  if (probe) return true;
  std::cerr << fmt::format("faultline {}: cannot write '{}'\n", command, path);
  return false;
}

// A schedule is what a BUG printed: digits and lower-case letters.
// --shard I/N: 1 <= I <= N; co.shard is 0-based.
bool parse_shard(const std::string& s, unsigned* shard, unsigned* shards) {
  unsigned i = 0, n = 0;
  char slash = 0, extra = 0;
  if (std::sscanf(s.c_str(), "%u%c%u%c", &i, &slash, &n, &extra) != 3 || slash != '/' || i < 1 || i > n ||
      n > 100000) {
    std::cerr << "faultline check: --shard '" << s << "' is not I/N with 1 <= I <= N <= 100000\n";
    return false;
  }
  *shard = i - 1;
  *shards = n;
  return true;
}

bool schedule_ok(const std::string& s) {
  if (std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'); }))
    return true;
  std::cerr << fmt::format("faultline check: --replay '{}' is not a schedule (digits and a-z, as a BUG prints it)\n", s);
  return false;
}

// An option given where it cannot act is a mistake the user should hear of
// (exit 2), not something silently ignored.
bool given_in_vain(const CLI::App* sub, std::initializer_list<const char*> names, bool in_vain, const char* why) {
  if (!in_vain) return false;
  for (const char* name : names)
    if (sub->count(name) > 0) {
      std::cerr << fmt::format("faultline {}: {} means nothing {}\n", sub->get_name(), name, why);
      return true;
    }
  return false;
}

// What CLI11 answers unclearly: a first word that is no command ("A
// subcommand is required"), and --version with more after it (it prints
// the version and ignores the rest).
bool command_line_ok(const CLI::App& app, int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (std::find(args.begin(), args.end(), "--version") != args.end() && args.size() > 1) {
    std::cerr << "faultline: --version takes nothing else; got " << args.size() - 1 << " more argument(s)\n";
    return false;
  }
  if (args.empty() || args[0].empty() || args[0][0] == '-') return true;
  std::string names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name() == args[0]) return true;
    names += (names.empty() ? "" : ", ") + sub->get_name();
  }
  std::cerr << fmt::format("faultline: unknown command {} (the commands: {})\n", faultline::replay::quote_token(args[0]),
                           names);
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"faultline: the Linux file-mapping subsystem in user space, with pluggable fault/kill protocols"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("faultline ") + FAULTLINE_VERSION);
  app.option_defaults()->always_capture_default();

  ReplayArgs ra;
  auto* replay = app.add_subcommand("replay", "Replay an fsx op log (.fsxops) against the engine, the kernel, or both");
  replay->add_option("--against", ra.against, "engine, kernel or both")
      ->check(CLI::IsMember({"engine", "kernel", "both"}));
  replay->add_option("--protocol", ra.protocol, "MAPGUARD[+CREATIONGUARD] for the engine");
  replay->add_option("--frames", ra.frames, "frames in the engine's pool (4 KiB each)")->check(kNonNegative);
  replay->add_option("--tmpdir", ra.tmpdir, "directory for the kernel's file (default $TMPDIR or /tmp)");
  replay->add_option("--engine-store", ra.engine_store, "the engine's store: memory, or file (a real file in the tmpdir)")
      ->check(CLI::IsMember({"memory", "file"}));
  replay->add_option("--fs", ra.fs,
                     "xfs: the kernel's file on a scratch XFS, loop-mounted for the replay and removed after "
                     "(root, xfsprogs); for clone_range and dedupe_range")
      ->check(CLI::IsMember({"xfs"}));
  replay->add_flag("--direct", ra.direct, "replay read and write as O_DIRECT (dread, dwrite), for logs of fsx -Z");
  replay->add_option("--inject", ra.inject,
                     "inject store faults, e.g. read=EIO@0.02,write=ENOSPC@0.01,write=short@0.01,sync=EIO@0.05,seed=1 "
                     "(the engine against the model)");
  replay->add_option("LOG", ra.log, "the op log")->required();

  GenOptions g;
  std::string out_path;
  auto* gen = app.add_subcommand("generate", "Write a random op log around page, folio and EOF boundaries");
  gen->add_option("--seed", g.seed, "random seed")->check(kNonNegative);
  gen->add_option("--count", g.count, "number of ops")->check(CLI::Range(uint64_t{1}, uint64_t{100000000}));
  gen->add_option("--max-file", g.max_file, "largest file size in bytes")
      ->check(CLI::Range(uint64_t{1} << 18, uint64_t{1} << 32));
  gen->add_option("-o,--output", out_path, "output file (default: standard output)");
  gen->add_flag("--reflink", g.reflink, "emit clone_range and dedupe_range too (replay them with --fs xfs)");
  gen->add_flag("--exchange", g.exchange, "emit exchange_range too (replay them with --fs xfs)");
  gen->add_flag("--atomic", g.atomic, "emit write_atomic too (replay them with --fs xfs)");

  BenchArgs ba;
  bench::BenchOptions bo;
  auto* benchc = app.add_subcommand("bench", "Price every protocol: workloads on the engine, beside the ideal and the kernel");
  benchc->add_option("--protocol", ba.configs, "protocols, ideal, kernel (comma-separated), or all")->capture_default_str();
  benchc->add_option("--workload", ba.workloads,
                     "page_fault3, page_fault3_proc, hot_file, giant_db, readers (comma-separated), or all")
      ->capture_default_str();
  benchc->add_option("--threads", ba.threads, "thread counts (comma-separated)")->capture_default_str();
  benchc->add_option("--seconds", bo.seconds, "measured seconds per run")->check(kFinite)->capture_default_str();
  benchc->add_option("--rounds", bo.rounds, "interleaved runs of each configuration")->capture_default_str();
  benchc->add_option("--killer-rate", bo.killer_rate, "killer operations per second (giant_db, readers)")
      ->capture_default_str();
  benchc->add_option("--tmpdir", bo.tmpdir, "directory for the kernel's files (default $TMPDIR or /tmp)");
  benchc->add_option("--json", ba.json, "write the rows as JSON to this file");
  benchc->add_option("--csv", ba.csv, "write the rows as CSV to this file");

#ifdef FAULTLINE_HAVE_CHECK
  faultline_check::CheckOptions co;
  std::string cp = "all", cs = "all", cm = "all";
  auto* check = app.add_subcommand("check", "Run protocols x scenarios x memory models under the model checker");
  check->add_option("--protocol", cp, "MAPGUARD[+CREATIONGUARD], a comma-separated list or shell patterns of them, or all");
  check->add_option("--scenario", cs,
                    "KILLER-vs-ACCESSOR (e.g. punch-vs-fault), a comma-separated list or shell patterns "
                    "('*-vs-2faults'), or all");
  check->add_option("--memory-model", cm, "sc, tso, weak, or all")->check(CLI::IsMember({"sc", "tso", "weak", "all"}));
  check->add_option("--strategy", co.strategy, "random, pct or exhaustive")
      ->check(CLI::IsMember({"random", "pct", "exhaustive"}));
  check->add_option("--bound", co.bound, "exhaustive: preemption bound k")->check(CLI::Range(0u, 8u));
  check
      ->add_option("--reorder-bound,--flush-bound", co.reorder_bound,
                   "exhaustive: stores held back (tso: in the store buffer; weak: propagating late)")
      ->check(CLI::Range(0u, 8u));
  bool no_reduction = false;
  check
      ->add_option("--reduction", co.reduction,
                   "exhaustive: dpor (dynamic partial-order reduction with sleep sets), sleep-sets, or none")
      ->check(CLI::IsMember({"dpor", "sleep-sets", "none"}))
      ->capture_default_str();
  check->add_flag("--no-reduction", no_reduction,
                  "exhaustive: run every schedule within the bounds (--reduction none), for cross-checking");
  check->add_option("--depth", co.depth, "PCT depth d (d-1 priority change points)")->check(CLI::Range(1u, 10u));
  check
      ->add_option("--executions", co.executions,
                   "executions per cell (random, pct: default 1000; exhaustive: a cap, none by default)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 32));
  check->add_option("--seconds", co.seconds, "time limit per cell (0: none)")
      ->check(kFinite & CLI::Range(0.0, 86400.0));
  check->add_option("--seed", co.seed, "random seed")->check(kNonNegative);
  check->add_option("--replay", co.replay, "replay one execution from its schedule string");
  check->add_option("--jobs", co.jobs, "run this many cells at once, each in a process of its own")
      ->check(CLI::Range(1u, 256u));
  check->add_option("--json", co.json, "write one object per cell to this file, a line each as the cells finish");
  check->add_option("--seeded-bug", co.seeded_bug,
                    "plant a known bug in the engine, by name (src/mm/seeded_bug.h; docs/history.md)");
  std::string shard;
  check->add_option("--shard", shard,
                    "I/N: run only the I-th of N shares of the table (1 <= I <= N); merge their --json with "
                    "'faultline check merge'");
  check
      ->add_option("--split-depth", co.split_depth,
                   "exhaustive: split each cell's schedule space by its first K decisions; a --shard is then a "
                   "part of every cell, not a share of the cells")
      ->check(CLI::Range(0u, 1000000u));
  bool no_progress = false;
  check->add_flag("--no-progress", no_progress,
                  "no progress on stderr (by default a line per cell, redrawn in place on a terminal)");
  std::vector<std::string> merge_files;
  auto* merge = check->add_subcommand("merge", "Merge the --json files of sharded runs into the one table");
  merge->add_option("files", merge_files, "the shards' JSON files")->required()->check(CLI::ExistingFile);
  std::string merge_json;
  merge->add_option("--json", merge_json, "write the merged cells to this file, as check --json does");
  for (auto* cmd : {check, merge})
    cmd->add_option("--traces", co.traces,
                    "none, first (one trace per distinct bug, the shortest) or all (one per BUG cell)")
        ->check(CLI::IsMember({"none", "first", "all"}))
        ->capture_default_str();

  bench::ReportOptions ro;
  auto* report = app.add_subcommand(
      "report", "The main job: the checker's table, the benchmark and a differential replay, joined in one report");
  report->add_option("--out", ro.out_dir, "directory for report.md, report.html, report.json and the figures")
      ->capture_default_str();
  report->add_flag("--quick", ro.quick, "a smaller run (about two minutes): fewer protocols, threads and executions");
  report->add_option("--tmpdir", ro.tmpdir, "directory for the kernel's files (default $TMPDIR or /tmp)");
  report->add_option("--jobs", ro.jobs, "checker worker processes")->check(CLI::Range(1u, 256u))->capture_default_str();
  report->add_option("--protocol", ro.protocols,
                     "price and check these protocols (comma-separated) beside page_lock+invalidate_lock, ideal "
                     "and the kernel (default: the standard set)")
      ->delimiter(',');

  faultline_check::LitmusOptions lo;
  auto* litmus = app.add_subcommand(
      "litmus", "Run litmus tests in herd7's C format for the Linux-kernel memory model; verdicts beside herd7's");
  litmus->add_option("--memory-model", lo.memory_model,
                     "sc, tso, weak (the LKMM, the model checker's), or lkmm (the LKMM's axioms over candidate "
                     "executions, as herd7 checks them)")
      ->check(CLI::IsMember({"sc", "tso", "weak", "lkmm"}))
      ->capture_default_str();
  auto* litmus_bound = litmus->add_option("--bound", lo.bound, "preemption bound of the exhaustive search")
                           ->check(CLI::Range(0u, 8u))
                           ->capture_default_str();
  litmus->add_flag("--unbounded", lo.unbounded,
                   "no preemption bound: every interleaving, up to reordering independent steps (source-set DPOR "
                   "with sleep sets)")
      ->excludes(litmus_bound);
  litmus->add_option("--reorder-bound", lo.reorder_bound, "stores held back (propagating late)")
      ->check(CLI::Range(0u, 8u))
      ->capture_default_str();
  litmus->add_option("--seconds", lo.seconds, "time limit per test (0: none)")
      ->check(kFinite & CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  litmus->add_flag("--states", lo.states, "print every final state and how many executions ended in it");
  litmus->add_option("--json", lo.json, "write one object per test to this file, a line each");
  litmus->add_option("--known", lo.known,
                     "a file of tests known to differ from herd7 or not to finish, 'NAME reason' a line: they do not fail "
                     "the run; one that agrees does (take it off the list)");
  litmus->add_option("paths", lo.paths, "litmus files, or directories of them")->required();
#endif

  if (!command_line_ok(app, argc, argv)) return 2;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    if (*replay) {
      if (given_in_vain(replay, {"--protocol", "--frames", "--engine-store", "--inject"}, ra.against == "kernel",
                        "with --against kernel: only the engine has protocols, frames and stores"))
        return 2;
      if (given_in_vain(replay, {"--fs"}, ra.against == "engine" && ra.engine_store == "memory",
                        "with --against engine and the memory store: nothing is on a filesystem"))
        return 2;
      if (given_in_vain(replay, {"--inject"}, replay->count("--against") && ra.against == "both",
                        "with --against both: the kernel's disk does not fail on demand; use --against engine"))
        return 2;
      if (!ra.inject.empty()) ra.against = "engine";
      return run_replay(ra);
    }
  if (*benchc) return run_bench_command(ba, bo);
#ifdef FAULTLINE_HAVE_CHECK
  if (*report) return bench::run_report(ro, std::cout, std::cerr);
  if (*litmus) {
    if (!writable(lo.json, "litmus")) return 2;
    return faultline_check::run_litmus_command(lo, std::cout, std::cerr);
  }
  if (*check && *merge) {
    if (!writable(merge_json, "check merge")) return 2;
    return faultline_check::run_check_merge(merge_files, co.traces, merge_json, std::cout, std::cerr);
  }
  if (*check) {
    if (!shard.empty() && !parse_shard(shard, &co.shard, &co.shards)) return 2;
    if (given_in_vain(check, {"--bound", "--reorder-bound", "--reduction", "--no-reduction", "--split-depth"}, co.strategy != "exhaustive",
                      "without --strategy exhaustive") ||
        given_in_vain(check, {"--depth"}, co.strategy != "pct", "without --strategy pct"))
      return 2;
    if (no_reduction) co.reduction = "none";
    co.protocols = split_list(cp);
    co.scenarios = split_list(cs);
    if (cm != "all") co.memory_models = {cm};
    co.progress = !no_progress;
    if (!writable(co.json, "check") || !schedule_ok(co.replay)) return 2;
    return faultline_check::run_check(co, std::cout, std::cerr);
  }
#endif
  return run_generate(g, out_path);
  } catch (const std::bad_alloc&) {  // e.g. --frames larger than this machine's memory
    std::cerr << "faultline: out of memory: a size asked for (--frames, a length in the log) does not fit\n";
    return 2;
  }
}
