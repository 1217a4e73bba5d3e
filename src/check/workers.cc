// src/check/workers.cc — running a table's cells: in this process, or
// (`faultline check --jobs N`) in worker processes, with one progress line
// per finished cell either way.
//
// The model backend is one OS thread with global state (the running
// execution, the names of words, the worlds abandoned by BUGs), so cells
// run in parallel as processes: N forked workers take cell indices from a
// pipe (a 4-byte read from a pipe is atomic, so each index goes to one
// worker, and a worker takes the next one when it finishes a cell), write
// one JSON line per cell to a file of their own, and write the cell's
// index to a second pipe when it is done (and, every few seconds, how the
// running cell is getting on); the parent then reads the new lines, so
// that --json grows cell by cell, and prints its progress line. A worker
// dies with its parent (PR_SET_PDEATHSIG); a parent stopped by SIGINT or
// SIGTERM kills its workers and removes their files first.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
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

// What a worker tells the parent through the second pipe: a cell done, or
// how a running one is getting on. Smaller than PIPE_BUF, so that the
// workers' writes never interleave.
struct Report {
  uint32_t index;
  uint32_t done;  // 1: finished (its line is in the worker's file); 0: running
  CellProgress progress;
};

// A worker: cells until the index pipe is empty. Never returns.
[[noreturn]] void work(const std::vector<CellKey>& keys, const CheckOptions& opts, int todo, int done,
                       const std::string& path) {
  std::ofstream out(path);
  uint32_t i = 0;
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  CheckOptions o = opts;
  o.on_progress = [&i, done](const CellProgress& p) {
    Report r{i, 0, p};
    if (::write(done, &r, sizeof r) != static_cast<ssize_t>(sizeof r)) ::_exit(3);
  };
  while (::read(todo, &i, sizeof i) == static_cast<ssize_t>(sizeof i)) {
    nlohmann::json line;
    try {
      line = cell_json(check_cell(keys[i].protocol, keys[i].scenario, keys[i].memory_model, o));
    } catch (const std::exception& e) {
      line = {{"error", e.what()}};
    }
    line["index"] = i;
    out << line.dump() << "\n" << std::flush;
    Report r{i, 1, {}};
    if (::write(done, &r, sizeof r) != static_cast<ssize_t>(sizeof r)) break;
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

// What a signal handler may touch: the workers to kill and the files to
// remove, set before the handler is installed and cleared after.
struct Running {
  std::vector<pid_t> pids;
  std::vector<std::string> files;
};
Running* running = nullptr;

extern "C" void stop_workers(int sig) {
  if (running) {
    for (pid_t p : running->pids) ::kill(p, SIGKILL);
    for (const auto& f : running->files) ::unlink(f.c_str());
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// Installs stop_workers for SIGINT and SIGTERM while it lives.
class StopWorkersOnSignal {
 public:
  explicit StopWorkersOnSignal(Running* r) {
    running = r;
    old_int_ = ::signal(SIGINT, stop_workers);
    old_term_ = ::signal(SIGTERM, stop_workers);
  }
  ~StopWorkersOnSignal() {
    ::signal(SIGINT, old_int_);
    ::signal(SIGTERM, old_term_);
    running = nullptr;
  }
  StopWorkersOnSignal(const StopWorkersOnSignal&) = delete;
  StopWorkersOnSignal& operator=(const StopWorkersOnSignal&) = delete;

 private:
  sighandler_t old_int_, old_term_;
};

// Progress: a line per finished cell, with the time left at the pace so
// far (redrawn in place on a terminal).
class Progress {
 public:
  Progress(const std::vector<CellKey>& keys, unsigned jobs, std::ostream& err)
      : keys_(keys), jobs_(jobs), err_(err), tty_(::isatty(2)) {}
  void done(uint32_t i) {
    ++finished_;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    double left = secs / static_cast<double>(finished_) * static_cast<double>(keys_.size() - finished_);
    std::string workers = jobs_ > 1 ? fmt::format(", {} workers", jobs_) : "";
    std::string line = fmt::format("[{}/{} cells{}, {:.0f} s, about {:.0f} s left] {} {} {}", finished_, keys_.size(),
                                   workers, secs, left, keys_[i].protocol, keys_[i].scenario, keys_[i].memory_model);
    if (tty_) err_ << fmt::format("\r{:<100}", line) << (finished_ == keys_.size() ? "\n" : "") << std::flush;
    else err_ << line << "\n" << std::flush;
  }
  // Cell i, still running: its executions so far and, for an exhaustive
  // search, the share done and the time left at its pace (a line a
  // half-minute when stderr is not a terminal).
  void running(uint32_t i, const CellProgress& p) {
    double now = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    if (!tty_ && now < last_line_ + 30) return;
    last_line_ = now;
    std::string rest;
    if (p.explored > 0)
      rest = fmt::format(", about {:.1f}% of its search, about {:.0f} s left", 100 * p.explored,
                         p.seconds * (1 - p.explored) / p.explored);
    std::string line = fmt::format("[{}/{} cells] running {} {} {}: {} executions in {:.0f} s{}", finished_,
                                   keys_.size(), keys_[i].protocol, keys_[i].scenario, keys_[i].memory_model,
                                   p.executions, p.seconds, rest);
    if (tty_) err_ << fmt::format("\r{:<100}", line) << std::flush;
    else err_ << line << "\n" << std::flush;
  }

 private:
  double last_line_ = 0;  // when the last line about a running cell was printed
  const std::vector<CellKey>& keys_;
  unsigned jobs_;
  std::ostream& err_;
  bool tty_;
  size_t finished_ = 0;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

// The cells the workers wrote so far: each file read up to its last
// complete line (a worker writes a cell's line before it says the cell is
// done).
class WorkerFiles {
 public:
  explicit WorkerFiles(const std::vector<std::string>& paths) {
    for (const auto& p : paths) {
      int fd = ::open(p.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0) throw std::runtime_error(fmt::format("faultline check: cannot create {}", p));
      files_.push_back({fd, {}});
    }
  }
  ~WorkerFiles() {
    for (auto& f : files_) ::close(f.fd);
  }
  WorkerFiles(const WorkerFiles&) = delete;
  WorkerFiles& operator=(const WorkerFiles&) = delete;

  // Puts each new cell in its place in `cells` and tells `done`; a
  // worker's error is kept in `error`.
  void read_new(std::vector<Cell>& cells, const CellDone& done, std::string& error) {
    char buf[1 << 16];
    for (auto& f : files_) {
      for (ssize_t n; (n = ::read(f.fd, buf, sizeof buf)) > 0;) f.partial.append(buf, static_cast<size_t>(n));
      for (size_t eol; (eol = f.partial.find('\n')) != std::string::npos;) {
        auto j = nlohmann::json::parse(f.partial.substr(0, eol));
        f.partial.erase(0, eol + 1);
        if (j.contains("error")) {
          error = j.at("error").get<std::string>();
          continue;
        }
        size_t i = j.at("index").get<size_t>();
        cells.at(i) = cell_from_json(j);
        done(i, cells[i]);
      }
    }
  }

 private:
  struct File {
    int fd;
    std::string partial;  // read, not yet a whole line
  };
  std::vector<File> files_;
};

}  // namespace

std::vector<Cell> run_cells(const std::vector<CellKey>& keys, const CheckOptions& opts, std::ostream& err,
                            const CellDone& done) {
  if (opts.jobs > 1) return run_cells_in_workers(keys, opts, err, done);
  std::vector<Cell> cells;
  Progress progress(keys, 1, err);
  CheckOptions o = opts;
  uint32_t i = 0;
  if (opts.progress) o.on_progress = [&](const CellProgress& p) { progress.running(i, p); };
  for (; i < keys.size(); ++i) {
    cells.push_back(check_cell(keys[i].protocol, keys[i].scenario, keys[i].memory_model, o));
    done(i, cells.back());
    if (opts.progress) progress.done(i);
  }
  return cells;
}

std::vector<Cell> run_cells_in_workers(const std::vector<CellKey>& keys, const CheckOptions& opts,
                                       std::ostream& err, const CellDone& done) {
  // Every index must fit in the pipe before a worker starts.
  if (keys.size() * sizeof(uint32_t) > 65536) throw std::invalid_argument("--jobs: too many cells for one run");
  Pipe todo, finished;
  for (uint32_t i = 0; i < keys.size(); ++i)
    if (::write(todo.w, &i, sizeof i) != static_cast<ssize_t>(sizeof i))
      throw std::runtime_error("faultline check: pipe write failed");
  ::close(todo.w);
  std::string dir = fmt::format("{}/faultline-check-{}", std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp",
                                ::getpid());
  Running run;
  for (unsigned k = 0; k < opts.jobs; ++k) run.files.push_back(fmt::format("{}.{}", dir, k));
  run.pids.reserve(opts.jobs);
  StopWorkersOnSignal stop(&run);
  WorkerFiles files(run.files);
  std::vector<Cell> cells(keys.size());
  std::string error;
  err.flush();
  pid_t parent = ::getpid();
  for (unsigned k = 0; k < opts.jobs; ++k) {
    pid_t p = ::fork();
    if (p < 0) throw std::runtime_error("faultline check: fork failed");
    if (p == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(4);  // the parent died before the line above
      work(keys, opts, todo.r, finished.w, run.files[k]);
    }
    run.pids.push_back(p);
  }
  ::close(todo.r);
  ::close(finished.w);
  Progress progress(keys, opts.jobs, err);
  Report r{};
  while (::read(finished.r, &r, sizeof r) == static_cast<ssize_t>(sizeof r)) {
    if (r.index >= keys.size()) continue;  // a worker's: within keys
    if (!r.done) {
      if (opts.progress) progress.running(r.index, r.progress);
      continue;
    }
    files.read_new(cells, done, error);
    if (opts.progress) progress.done(r.index);
  }
  ::close(finished.r);
  wait_for(run.pids);
  files.read_new(cells, done, error);
  for (const std::string& path : run.files) std::remove(path.c_str());
  if (!error.empty()) throw std::invalid_argument(error);
  return cells;
}

}  // namespace faultline_check
