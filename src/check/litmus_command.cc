// src/check/litmus_command.cc — `faultline litmus FILE|DIR...` (see
// litmus.h): runs each test, prints its verdict beside herd7's from the
// file, and sums them up.
//
// Owns: finding the tests (a directory's *.litmus files, recursively, in
// name order), the per-test line and JSON object, and the exit status.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "check/litmus.h"
#include "sync/model/model.h"

namespace faultline_check {

namespace {

namespace fs = std::filesystem;

// The files named, a directory standing for its *.litmus files.
std::vector<fs::path> litmus_paths(const std::vector<std::string>& args, std::ostream& err, bool* missing) {
  std::vector<fs::path> files;
  for (const std::string& a : args) {
    std::error_code ec;
    if (fs::is_directory(a, ec)) {
      std::vector<fs::path> in;
      for (const auto& e : fs::recursive_directory_iterator(a, fs::directory_options::skip_permission_denied, ec))
        if (e.is_regular_file() && e.path().extension() == ".litmus") in.push_back(e.path());
      std::sort(in.begin(), in.end());
      files.insert(files.end(), in.begin(), in.end());
    } else if (fs::is_regular_file(a, ec)) {
      files.emplace_back(a);
    } else {
      err << fmt::format("faultline litmus: '{}' is neither a file nor a directory\n", a);
      *missing = true;
    }
  }
  return files;
}

bool slurp(const fs::path& p, std::string* text) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *text = ss.str();
  return !in.bad();
}

struct Tally {
  unsigned agree = 0, differ = 0, unfinished = 0, unread = 0, unjudged = 0, skipped = 0, known = 0, stale = 0;
  unsigned not_taken = 0;  // under lkmm: what the axiomatic model leaves to `weak` (LitmusUnsupported)
};

// The --known file: test name -> why it differs. Throws naming the file
// and line when a line has a name and no reason.
std::map<std::string, std::string> read_known(const std::string& path) {
  std::map<std::string, std::string> known;
  if (path.empty()) return known;
  std::string text;
  if (!slurp(path, &text)) throw std::invalid_argument(fmt::format("cannot read '{}'", path));
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream words(line);
    std::string name, reason;
    if (!(words >> name)) continue;
    std::getline(words >> std::ws, reason);
    if (reason.empty())
      throw std::invalid_argument(fmt::format("{}:{}: '{}' has no reason after its name", path, n, name));
    known[name] = reason;
  }
  return known;
}

// A known test's judgement: "known DIFF", "known UNFINISHED", or, when it
// agrees, a failure of the list.
std::string judge_known(const std::string& judged, Tally& tally) {
  if (judged == "DIFF" || judged == "UNFINISHED") {
    ++tally.known;
    return "known " + judged;
  }
  if (judged != "agree") {
    ++tally.unjudged;
    return judged;
  }
  ++tally.agree;
  ++tally.stale;
  return "agree, but listed as known";
}

// agree or DIFF against herd7's verdict (with its DATARACE flag for a test
// with plain accesses), or its flag where the test has one instead
// ("Result: Flag srcu-bad-nesting": whether some execution raised it);
// otherwise what the file says.
std::string judge(const Litmus& t, const LitmusRun& r, const std::string& verdict) {
  if (!t.lkmm.empty()) {
    bool same_race = !t.plain_accesses || r.flags.contains("data-race") == t.lkmm_datarace;
    return verdict == t.lkmm && same_race ? "agree" : "DIFF";
  }
  if (t.lkmm_note.starts_with("Flag ")) return r.flags.contains(t.lkmm_note.substr(5)) ? "agree" : "DIFF";
  return t.lkmm_note.empty() ? "no herd7 verdict" : "herd7: " + t.lkmm_note;
}

// One test: its line on `out`, its object in the JSON lines.
nlohmann::json run_one(const fs::path& file, const LitmusOptions& o, const std::map<std::string, std::string>& known,
                       std::ostream& out, Tally& tally) {
  nlohmann::json j = {{"file", file.string()}, {"memory_model", o.memory_model}};
  std::string text;
  Litmus t;
  try {
    if (!slurp(file, &text)) throw std::invalid_argument("litmus: cannot read the file");
    t = parse_litmus(text);
  } catch (const LitmusNotC& e) {
    ++tally.skipped;
    out << fmt::format("{}: SKIPPED: {}\n", file.string(), e.what() + 8);
    j["skipped"] = e.what();
    return j;
  } catch (const std::invalid_argument& e) {
    ++tally.unread;
    out << fmt::format("{}: UNREADABLE: {}\n", file.string(), e.what());
    j["error"] = e.what();
    return j;
  }
  j["name"] = t.name;
  auto start = std::chrono::steady_clock::now();
  LitmusRun r;
  try {
    // A flag (a data race too) must be looked for in every execution; every state only with --states.
    bool until_decided = !o.states && !t.lkmm_note.starts_with("Flag ") && !t.plain_accesses;
    r = o.memory_model == "lkmm" ? run_litmus_lkmm(t, o.seconds)
                                 : run_litmus(t, o.memory_model, o.unbounded ? faultline::sync::model::kUnbounded : o.bound,
                                              o.reorder_bound, o.seconds, until_decided);
  } catch (const LitmusUnsupported& e) {
    ++tally.not_taken;
    out << fmt::format("{}: NOT TAKEN: {}\n", t.name, e.what());
    j["not_taken"] = e.what();
    return j;
  } catch (const std::invalid_argument& e) {
    ++tally.unread;
    out << fmt::format("{}: ERROR: {}\n", t.name, e.what());
    j["error"] = e.what();
    return j;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string verdict = r.unfinished ? "Unfinished" : r.verdict();
  std::string judged = r.unfinished ? "UNFINISHED" : judge(t, r, verdict);
  auto listed = known.find(t.name);
  if (listed != known.end()) {
    judged = judge_known(judged, tally);
  } else {
    ++(judged == "agree" ? tally.agree : judged == "DIFF" ? tally.differ : judged == "UNFINISHED" ? tally.unfinished
                                                                                               : tally.unjudged);
  }
  std::string flags;
  for (const std::string& f : r.flags)
    if (f != "data-race") flags += fmt::format(", flag {}", f);
  // A data race is shown as herd7 shows it, after the verdict.
  std::string ours = verdict + (r.flags.contains("data-race") ? " DATARACE" : "");
  std::string herd7 = t.lkmm.empty() ? "-" : t.lkmm + (t.lkmm_datarace ? " DATARACE" : "");
  out << fmt::format("{:<40} {:<10} herd7 {:<10} {:<10} {} states, {} executions{}{}{}{}, {:.2f} s\n", t.name, ours,
                     herd7, judged, r.states.size(), r.executions,
                     r.dropped ? fmt::format(" ({} dropped: a promise unkept)", r.dropped) : "", r.deadlocked ? fmt::format(" ({} deadlocked)", r.deadlocked) : "",
                     r.decided ? " (stopped once decided)" : "", flags, secs);
  if (listed != known.end()) out << fmt::format("    known: {}\n", listed->second);
  if (o.states || judged == "DIFF")
    for (const auto& [state, n] : r.states) out << fmt::format("    {}  ({})\n", state, n);
  j.update({{"verdict", verdict},
            {"herd7", t.lkmm},
            {"herd7_note", t.lkmm_note},
            {"herd7_datarace", t.lkmm_datarace},
            {"result", judged},
            {"quantifier", t.quantifier},
            {"positive", r.positive},
            {"negative", r.negative},
            {"states", r.states},
            {"executions", r.executions},
            {"deadlocked", r.deadlocked},
            {"dropped", r.dropped},
            {"flags", r.flags},
            {"stopped_once_decided", r.decided},
            {"known", listed != known.end() ? listed->second : ""},
            {"seconds", secs}});
  return j;
}

}  // namespace

int run_litmus_command(const LitmusOptions& o, std::ostream& out, std::ostream& err) {
  bool missing = false;
  std::vector<fs::path> files = litmus_paths(o.paths, err, &missing);
  std::ofstream json;
  if (!o.json.empty()) {
    json.open(o.json);
    if (!json) {
      err << fmt::format("faultline litmus: cannot write '{}'\n", o.json);
      return 2;
    }
  }
  std::map<std::string, std::string> known;
  try {
    known = read_known(o.known);
  } catch (const std::invalid_argument& e) {
    err << fmt::format("faultline litmus: --known: {}\n", e.what());
    return 2;
  }
  Tally tally;
  for (const fs::path& f : files) {
    nlohmann::json j = run_one(f, o, known, out, tally);
    if (json.is_open()) json << j.dump() << "\n" << std::flush;
  }
  out << fmt::format(
      "{} tests under {}: {} agree with herd7, {} DIFF, {} unfinished, {} unreadable, {} without a verdict, {} not C{}{}\n",
      files.size(), o.memory_model, tally.agree, tally.differ, tally.unfinished, tally.unread, tally.unjudged,
      tally.skipped, o.memory_model == "lkmm" ? fmt::format(", {} not taken (left to weak)", tally.not_taken) : "",
      o.known.empty() ? "" : fmt::format(", {} known to differ, {} listed as known but agree", tally.known, tally.stale));

  if (json.is_open() && !json) {
    err << fmt::format("faultline litmus: writing '{}' failed\n", o.json);
    return 2;
  }
  if (missing || tally.unread) return 2;
  return tally.differ || tally.unfinished || tally.stale ? 1 : 0;
}

}  // namespace faultline_check
