// src/check/table.cc — the verdict table: text, JSON, and merging shards
// (`faultline check merge`). See table.h.
#include "check/table.h"

#include <fmt/format.h>

#include <cctype>
#include <fstream>
#include <map>
#include <stdexcept>

namespace faultline_check {

nlohmann::json cell_json(const Cell& c) {
  return {{"protocol", c.protocol},
          {"scenario", c.scenario},
          {"memory_model", c.memory_model},
          {"strategy", c.strategy},
          {"verdict", c.verdict},
          {"executions", c.executions},
          {"bound", c.bound >= 0 ? nlohmann::json(c.bound) : nlohmann::json(nullptr)},
          {"guarantee", c.guarantee},
          {"schedule", c.schedule},
          {"failure", c.failure},
          {"steps", c.steps},
          {"seconds", c.seconds},
          {"summary", c.trace},
          {"trace", c.full_trace},
          {"cell", c.index},
          {"cells", c.of},
          {"part", c.part},
          {"parts", c.parts},
          {"bug_prefix", c.bug_prefix},
          {"unclaimed", c.unclaimed}};
}

namespace {

template <class T>
T field(const nlohmann::json& j, const char* name) {
  if (!j.is_object() || !j.contains(name))
    throw std::invalid_argument(fmt::format("a cell without the field '{}'", name));
  try {
    return j.at(name).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw std::invalid_argument(fmt::format("a cell whose '{}' is {}", name, j.at(name).dump()));
  }
}

}  // namespace

Cell cell_from_json(const nlohmann::json& j) {
  Cell c;
  c.protocol = field<std::string>(j, "protocol");
  c.scenario = field<std::string>(j, "scenario");
  c.memory_model = field<std::string>(j, "memory_model");
  c.strategy = field<std::string>(j, "strategy");
  c.verdict = field<std::string>(j, "verdict");
  c.executions = field<uint64_t>(j, "executions");
  c.bound = j.contains("bound") && j.at("bound").is_number_integer() ? j.at("bound").get<int>() : -1;
  c.guarantee = field<std::string>(j, "guarantee");
  c.schedule = field<std::string>(j, "schedule");
  c.failure = field<std::string>(j, "failure");
  c.steps = field<uint64_t>(j, "steps");
  c.seconds = field<double>(j, "seconds");
  c.trace = field<std::string>(j, "summary");
  c.full_trace = field<std::string>(j, "trace");
  c.index = field<uint64_t>(j, "cell");
  c.of = field<uint64_t>(j, "cells");
  c.part = field<unsigned>(j, "part");
  c.parts = field<unsigned>(j, "parts");
  c.bug_prefix = field<uint64_t>(j, "bug_prefix");
  c.unclaimed = j.value("unclaimed", std::string());  // absent in files of before it was
  if (c.parts == 0 || c.part >= c.parts)
    throw std::invalid_argument(fmt::format("a cell that is part {} of {}", c.part, c.parts));
  return c;
}

namespace {

// Where a failure happened, without the numbers that differ between
// cells (addresses, pages, sizes) and the moment it was seen ("(after
// truncate() returned)"): two BUG cells of one protocol with the same
// guarantee and site are one bug, found twice.
std::string site_of(const std::string& failure) {
  std::string s = failure;
  if (!s.empty() && s.back() == ')')
    if (auto open = s.rfind(" ("); open != std::string::npos) s.erase(open);
  std::string out;
  for (size_t i = 0; i < s.size();) {
    bool hex = s.compare(i, 2, "0x") == 0;
    if (!hex && !std::isdigit(static_cast<unsigned char>(s[i]))) {
      out += s[i++];
      continue;
    }
    i += hex ? 2 : 0;
    auto in_number = [hex](char ch) {
      auto u = static_cast<unsigned char>(ch);
      return hex ? std::isxdigit(u) != 0 : std::isdigit(u) != 0;
    };
    while (i < s.size() && in_number(s[i])) ++i;
    out += 'N';
  }
  return out;
}

// One distinct bug: the BUG cells that share protocol, guarantee and site.
struct Bug {
  std::vector<const Cell*> cells;
  const Cell* shortest = nullptr;  // the one with the shortest trace: the one to read
};

std::vector<Bug> distinct_bugs(const std::vector<Cell>& cells) {
  std::vector<Bug> bugs;
  std::map<std::string, size_t> by_key;
  for (const auto& c : cells) {
    if (c.verdict != "BUG") continue;
    auto [it, fresh] = by_key.try_emplace(c.protocol + "\n" + c.guarantee + "\n" + site_of(c.failure), bugs.size());
    if (fresh) bugs.emplace_back();
    Bug& b = bugs[it->second];
    b.cells.push_back(&c);
    if (!b.shortest || c.trace.size() < b.shortest->trace.size()) b.shortest = &c;
  }
  return bugs;
}

std::string row_detail(const Cell& c) {
  std::string d = c.verdict == "BUG"        ? fmt::format("{} after {} executions", c.guarantee, c.executions)
                  : c.verdict == "VERIFIED" ? fmt::format("all {} executions with <= {} preemptions", c.executions, c.bound)
                  : c.bound >= 0 ? fmt::format("bound {} not exhausted after {} executions", c.bound, c.executions)
                                 : fmt::format("{} {} executions", c.strategy, c.executions);
  if (c.parts > 1) d += fmt::format(" (part {} of {})", c.part + 1, c.parts);
  if (!c.unclaimed.empty()) d += "; unclaimed property broken (below)";
  return d;
}

// "in 2 cells: punch-vs-fault sc, punch-vs-fault tso"
std::string found_in(const std::vector<const Cell*>& cells) {
  std::string where;
  for (const Cell* c : cells) where += fmt::format("{}{} {}", where.empty() ? "" : ", ", c->scenario, c->memory_model);
  return fmt::format("in {} cell{}: {}", cells.size(), cells.size() == 1 ? "" : "s", where);
}

void print_bug_trace(const Cell& c, std::ostream& out) {
  out << fmt::format("replay: faultline check --protocol {} --scenario {} --memory-model {} --replay {}\n{}", c.protocol,
                     c.scenario, c.memory_model, c.schedule, c.trace);
}

// Each distinct bug once: what broke, in which cells, and (unless
// `traces` is none) the shortest trace of it; with `traces` all, every
// BUG cell's.
void print_bugs(const std::vector<Cell>& cells, const std::string& traces, std::ostream& out) {
  std::vector<Bug> bugs = distinct_bugs(cells);
  if (bugs.empty()) return;
  size_t n = 0;
  for (const Bug& b : bugs) n += b.cells.size();
  out << fmt::format("\n{} distinct bug{} in {} BUG cell{} (docs/verdicts.md says what each kind means):\n", bugs.size(),
                     bugs.size() == 1 ? "" : "s", n, n == 1 ? "" : "s");
  for (size_t i = 0; i < bugs.size(); ++i) {
    const Cell& c = *bugs[i].shortest;
    out << fmt::format("\nBUG {}: {}: {}\n  {}\n", i + 1, c.protocol, c.failure, found_in(bugs[i].cells));
    if (traces == "first") print_bug_trace(c, out);
  }
  if (traces != "all") return;
  for (const auto& c : cells)
    if (c.verdict == "BUG") {
      out << fmt::format("\nBUG: {} / {} / {}: {}\n", c.protocol, c.scenario, c.memory_model, c.failure);
      print_bug_trace(c, out);
    }
}

// The properties a protocol does not claim that cells saw broken, each
// once per protocol.
void print_unclaimed(const std::vector<Cell>& cells, std::ostream& out) {
  std::map<std::string, std::vector<const Cell*>> seen;  // protocol + site -> cells
  for (const auto& c : cells)
    if (!c.unclaimed.empty()) seen[c.protocol + ": " + site_of(c.unclaimed)].push_back(&c);
  for (const auto& [key, cs] : seen)
    out << fmt::format("\nNot a bug of {} (a property it does not claim): {}\n  {}\n", cs[0]->protocol,
                       cs[0]->unclaimed, found_in(cs));
}

}  // namespace

bool print_table(const std::vector<Cell>& cells, double secs, const std::string& traces, std::ostream& out) {
  uint64_t total_exec = 0, total_steps = 0;
  for (const auto& c : cells) {
    total_exec += c.executions;
    total_steps += c.steps;
  }
  out << fmt::format("{:<40} {:<24} {:<5} {:<7} {}\n", "protocol", "scenario", "mm", "verdict", "detail");
  bool bug = false;
  for (const auto& c : cells) {
    out << fmt::format("{:<40} {:<24} {:<5} {:<7} {}\n", c.protocol, c.scenario, c.memory_model, c.verdict, row_detail(c));
    bug |= c.verdict == "BUG";
  }
  out << fmt::format("{} cells, {} executions, {} steps in {:.1f} s: {:.0f} executions/s, {:.0f} steps/s\n",
                     cells.size(), total_exec, total_steps, secs, total_exec / std::max(secs, 1e-9),
                     total_steps / std::max(secs, 1e-9));
  print_bugs(cells, traces, out);
  print_unclaimed(cells, out);
  return bug;
}

namespace {

// The cells of one shard's JSON file.
std::vector<Cell> read_shard(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(fmt::format("{}: cannot be read", path));
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(fmt::format("{}: not JSON ({})", path, e.what()));
  }
  if (!j.is_array()) throw std::invalid_argument(fmt::format("{}: not an array of cells", path));
  std::vector<Cell> cells;
  for (const auto& c : j) {
    try {
      cells.push_back(cell_from_json(c));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("{}: {}", path, e.what()));
    }
  }
  return cells;
}

// Far more than any table (protocols x scenarios x 3 models is a few
// thousand): a bigger count in a file is a bad file, not a table to make.
constexpr uint64_t kMaxCells = 100'000;

// Puts every cell (every part of a split cell) at its place in the whole
// table; each place and part once.
std::vector<std::vector<Cell>> place_cells(const std::vector<std::string>& files) {
  std::vector<std::vector<Cell>> table;    // by place, by part
  std::vector<std::vector<std::string>> from;  // the file each part was filled from
  for (const auto& path : files)
    for (Cell& c : read_shard(path)) {
      if (table.empty()) {
        if (c.of == 0 || c.of > kMaxCells)
          throw std::invalid_argument(fmt::format("{}: a table of {} cells (at most {})", path, c.of, kMaxCells));
        if (c.parts > kMaxCells / c.of)
          throw std::invalid_argument(fmt::format("{}: {} parts of {} cells (at most {} in all)", path, c.parts, c.of,
                                                  kMaxCells));
        table.assign(c.of, std::vector<Cell>(c.parts));
        from.assign(c.of, std::vector<std::string>(c.parts));
      }
      if (c.of != table.size() || c.index >= c.of || c.parts != table[0].size())
        throw std::invalid_argument(fmt::format("{}: cell {} of {} (part {} of {}) does not belong to a table of {} "
                                                "cells in {} parts",
                                                path, c.index, c.of, c.part + 1, c.parts, table.size(),
                                                table[0].size()));
      std::string& was = from[c.index][c.part];
      if (!was.empty())
        throw std::invalid_argument(fmt::format("{}: cell {} ({} / {} / {}) part {} is in {} too", path, c.index,
                                                c.protocol, c.scenario, c.memory_model, c.part + 1, was));
      was = path;
      table[c.index][c.part] = std::move(c);
    }
  if (table.empty()) throw std::invalid_argument("no cells in the files");
  for (size_t i = 0; i < table.size(); ++i)
    for (size_t p = 0; p < table[i].size(); ++p)
      if (from[i][p].empty())
        throw std::invalid_argument(fmt::format("cell {} of {}, part {} of {}, is in none of the files: a shard is "
                                                "missing",
                                                i, table.size(), p + 1, table[i].size()));
  return table;
}

// One cell from the parts of its schedule space: VERIFIED if every part
// is, a BUG if any is (the one in the earliest prefix: the first an
// unsplit search meets), executions and steps added up.
Cell join_parts(std::vector<Cell> parts) {
  Cell c = parts[0];
  c.executions = c.steps = 0;
  c.seconds = 0;
  const Cell* bug = nullptr;
  bool all_verified = true;
  for (const Cell& p : parts) {
    c.executions += p.executions;
    c.steps += p.steps;
    c.seconds += p.seconds;
    all_verified &= p.verdict == "VERIFIED";
    if (p.verdict == "BUG" && (!bug || p.bug_prefix < bug->bug_prefix)) bug = &p;
    if (c.unclaimed.empty()) c.unclaimed = p.unclaimed;
  }
  c.verdict = bug ? "BUG" : all_verified ? "VERIFIED" : "PASSED";
  if (bug) {
    c.guarantee = bug->guarantee;
    c.failure = bug->failure;
    c.schedule = bug->schedule;
    c.trace = bug->trace;
    c.full_trace = bug->full_trace;
    c.bug_prefix = bug->bug_prefix;
  }
  c.part = 0;
  c.parts = 1;
  return c;
}

}  // namespace

JsonStream::JsonStream(const std::string& path) : path_(path) {
  if (path.empty()) return;
  out_.open(path);
  out_ << "[" << std::flush;
  if (!out_) throw std::invalid_argument(fmt::format("--json {}: cannot be written", path));
}

void JsonStream::add(const Cell& c) {
  if (path_.empty()) return;
  out_ << (first_ ? "\n" : ",\n") << cell_json(c).dump() << std::flush;
  first_ = false;
  if (!out_) throw std::runtime_error(fmt::format("--json {}: write failed", path_));
}

void JsonStream::finish() {
  if (path_.empty()) return;
  out_ << "\n]\n" << std::flush;
  if (!out_) throw std::runtime_error(fmt::format("--json {}: write failed", path_));
}

int run_check_merge(const std::vector<std::string>& files, const std::string& traces, const std::string& json,
                    std::ostream& out, std::ostream& err) {
  std::vector<Cell> cells;
  try {
    for (auto& parts : place_cells(files)) cells.push_back(join_parts(std::move(parts)));
  } catch (const std::invalid_argument& e) {
    err << "faultline check merge: " << e.what() << "\n";
    return 2;
  }
  try {
    JsonStream stream(json);
    for (const Cell& c : cells) stream.add(c);
    stream.finish();
  } catch (const std::exception& e) {
    err << "faultline check merge: " << e.what() << "\n";
    return 2;
  }
  double secs = 0;
  for (const auto& c : cells) secs += c.seconds;
  return print_table(cells, secs, traces, out) ? 1 : 0;
}

}  // namespace faultline_check
