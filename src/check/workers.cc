// src/check/workers.cc — `faultline check --jobs N`: cells in worker
// processes.
//
// The model backend is one OS thread with global state (the running
// execution, the names of words, the worlds abandoned by BUGs), so cells
// run in parallel as processes: N forked workers take cell indices from a
// pipe (a 4-byte read from a pipe is atomic, so each index goes to one
// worker, and a worker takes the next one when it finishes a cell), write
// one JSON line per cell to a file of their own, and write a byte to a
// second pipe per cell done, which the parent counts for its progress line.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "check/check.h"
#include "check/table.h"

namespace faultline_check {
namespace {

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fd[2];
    if (::pipe2(fd, O_CLOEXEC) != 0) throw std::runtime_error("faultline check: pipe failed");
    r = fd[0];
    w = fd[1];
  }
};

// A worker: cells until the index pipe is empty. Never returns.
[[noreturn]] void work(const std::vector<CellKey>& keys, const CheckOptions& opts, int todo, int done,
                       const std::string& path) {
  std::ofstream out(path);
  uint32_t i = 0;
  while (::read(todo, &i, sizeof i) == static_cast<ssize_t>(sizeof i)) {
    nlohmann::json line;
    try {
      line = cell_json(check_cell(keys[i].protocol, keys[i].scenario, keys[i].memory_model, opts));
    } catch (const std::exception& e) {
      line = {{"error", e.what()}};
    }
    line["index"] = i;
    out << line.dump() << "\n" << std::flush;
    char b = 1;
    if (::write(done, &b, 1) != 1) break;
  }
  ::_exit(out ? 0 : 3);
}

void wait_for(const std::vector<pid_t>& pids) {
  std::string died;
  for (pid_t p : pids) {
    int st = 0;
    ::waitpid(p, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
      died = WIFSIGNALED(st) ? fmt::format("killed by signal {}", WTERMSIG(st))
                             : fmt::format("exit status {}", WEXITSTATUS(st));
  }
  if (!died.empty()) throw std::runtime_error("faultline check: a worker process failed (" + died + ")");
}

}  // namespace

std::vector<Cell> run_cells_in_workers(const std::vector<CellKey>& keys, const CheckOptions& opts,
                                       std::ostream& err) {
  // Every index must fit in the pipe before a worker starts.
  if (keys.size() * sizeof(uint32_t) > 65536) throw std::invalid_argument("--jobs: too many cells for one run");
  Pipe todo, done;
  for (uint32_t i = 0; i < keys.size(); ++i)
    if (::write(todo.w, &i, sizeof i) != static_cast<ssize_t>(sizeof i))
      throw std::runtime_error("faultline check: pipe write failed");
  ::close(todo.w);
  std::string dir = fmt::format("{}/faultline-check-{}", std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp",
                                ::getpid());
  std::vector<pid_t> pids;
  err.flush();
  for (unsigned k = 0; k < opts.jobs; ++k) {
    pid_t p = ::fork();
    if (p < 0) throw std::runtime_error("faultline check: fork failed");
    if (p == 0) work(keys, opts, todo.r, done.w, fmt::format("{}.{}", dir, k));
    pids.push_back(p);
  }
  ::close(todo.r);
  ::close(done.w);
  size_t finished = 0;
  char b;
  while (::read(done.r, &b, 1) == 1)
    if (opts.progress) err << fmt::format("\r{} of {} cells, {} workers", ++finished, keys.size(), opts.jobs) << std::flush;
  ::close(done.r);
  wait_for(pids);
  std::vector<Cell> cells(keys.size());
  std::string error;
  for (unsigned k = 0; k < opts.jobs; ++k) {
    std::string path = fmt::format("{}.{}", dir, k);
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line);
      if (j.contains("error")) error = j.at("error").get<std::string>();
      else cells.at(j.at("index").get<size_t>()) = cell_from_json(j);
    }
    std::remove(path.c_str());
  }
  if (!error.empty()) throw std::invalid_argument(error);
  return cells;
}

}  // namespace faultline_check
