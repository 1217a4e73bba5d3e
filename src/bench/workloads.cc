// src/bench/workloads.cc — the workloads of `faultline bench` (see
// docs/bench.md for each, with the kernel path it stands for).
//
// A worker repeats its workload's iteration until the conductor moves the
// phase word to stop. It times every access with the timestamp counter
// and, on the engine, notes whether the access faulted (the thread's fault
// count moved), so it can keep a fault-latency histogram too. Counters are
// reset when the phase moves from warm-up to measure, so the window
// excludes start-up (first-touch allocation, thread creation).
#include "bench/workloads.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <vector>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "sync/atomic.h"
#include "sync/thread.h"

namespace faultline::bench {
namespace {

constexpr uint64_t kPage = kPageSize;
constexpr uint64_t kHotFilePages = 16;
constexpr uint64_t kReadersFileBytes = uint64_t{16} << 20;
constexpr uint64_t kReadChunk = uint64_t{64} << 10;
constexpr uint64_t kKillerRange = uint64_t{64} << 10;

uint64_t ticks() noexcept {
#if defined(__x86_64__)
  return __rdtsc();
#else
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
#endif
}

double monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void sleep_seconds(double s) {
  timespec ts{static_cast<time_t>(s), static_cast<long>((s - static_cast<double>(static_cast<time_t>(s))) * 1e9)};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

enum Phase : int { kWarmup = 0, kMeasure = 1, kStop = 2 };

// What the conductor, the workers and the killer share: placed in
// MAP_SHARED memory so that forked workers see the phase and write results.
struct Shared {
  sync::Atomic<int> phase{kWarmup};
  sync::Atomic<int> failed{0};  // a worker or the killer threw
  sync::Atomic<unsigned> warm{0};  // workers that finished an iteration
  uint64_t killer_ops = 0;
  RunResult* workers = nullptr;  // one per worker, right after this header
};

class SharedArea {
 public:
  explicit SharedArea(unsigned workers)
      : bytes_(sizeof(Shared) + sizeof(RunResult) * workers) {
    void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("bench: cannot map the shared result area");
    shared_ = new (p) Shared;
    static_assert(alignof(Shared) >= alignof(RunResult));
    auto* w = reinterpret_cast<RunResult*>(shared_ + 1);
    for (unsigned i = 0; i < workers; ++i) new (w + i) RunResult;
    shared_->workers = w;
  }
  ~SharedArea() { ::munmap(shared_, bytes_); }
  SharedArea(const SharedArea&) = delete;
  SharedArea& operator=(const SharedArea&) = delete;
  Shared& operator*() const { return *shared_; }
  Shared* operator->() const { return shared_; }

 private:
  size_t bytes_;
  Shared* shared_;
};

// A worker's meter: the phase, the counters, the latency histograms.
class Meter {
 public:
  Meter(Shared& sh, Peer& peer, RunResult& out) : sh_(sh), peer_(peer), out_(out), engine_(!peer.is_kernel()) {}

  // False once the conductor says stop. Starts the window at the first
  // call that sees the measure phase.
  bool running() {
    int ph = sh_.phase.load(sync::relaxed);
    if (ph == kMeasure && !measuring_) begin();
    return ph != kStop;
  }
  // The worker finished a whole iteration: its first-touch allocations are
  // behind it. The window opens only once every worker is warm.
  void warm() {
    if (warm_) return;
    warm_ = true;
    sh_.warm.fetch_add(1, sync::relaxed);
  }
  // Times one access of `pages` pages; `f` returns false on a bus error.
  template <class F>
  void access(uint64_t pages, F&& f) {
    uint64_t faults0 = engine_ ? this_thread_faults() : 0;
    uint64_t t0 = ticks();
    bool ok = f();
    uint64_t dt = ticks() - t0;
    if (!measuring_) return;
    uint64_t ns = static_cast<uint64_t>(static_cast<double>(dt) * ns_per_tick_);
    out_.access_ns.record(ns);
    if (engine_ && this_thread_faults() != faults0) out_.fault_ns.record(ns);
    out_.touches += pages;
    out_.bus_errors += ok ? 0 : 1;
  }
  // Closes the window: the thread's faults and lock waits over it.
  void finish() {
    if (!measuring_) return;
    ThreadStats end = peer_.thread_stats();
    out_.faults = end.faults - start_.faults;
    for (unsigned i = 0; i < kLockClasses; ++i) {
      out_.lock_wait_ns[i] = end.lock_wait_ns[i] - start_.lock_wait_ns[i];
      out_.lock_contentions[i] = end.lock_contentions[i] - start_.lock_contentions[i];
    }
  }

 private:
  void begin() {
    measuring_ = true;
    start_ = peer_.thread_stats();
  }
  Shared& sh_;
  Peer& peer_;
  RunResult& out_;
  bool engine_;
  bool measuring_ = false, warm_ = false;
  double ns_per_tick_ = ns_per_tick();
  ThreadStats start_;
};

// xorshift64*: a worker's own random pages, no shared state.
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
};

// What a workload sets up before its workers start.
struct Setup {
  std::vector<unsigned> files;
  std::unique_ptr<Space> shared_space;  // thread-mode workloads
  uint64_t shared_addr = 0, shared_len = 0;
  bool process_mode = false;  // an address space per worker
  bool killer = false;
};

// ---- the workers --------------------------------------------------------

// will-it-scale page_fault3: map the thread's own file shared, store one
// byte per page, unmap.
void page_fault3_worker(Meter& m, Space& space, unsigned file, uint64_t bytes) {
  while (m.running()) {
    uint64_t addr = space.mmap(file, bytes, true);
    for (uint64_t off = 0; off < bytes && m.running(); off += kPage)
      m.access(1, [&] { return space.store(addr + off, true); });
    space.munmap(addr, bytes);
    m.warm();
  }
}

// The Apache case: map the same small cached file read-only, touch every
// page, unmap.
void hot_file_worker(Meter& m, Space& space, unsigned file) {
  const uint64_t bytes = kHotFilePages * kPage;
  while (m.running()) {
    uint64_t addr = space.mmap(file, bytes, false);
    for (uint64_t off = 0; off < bytes; off += kPage) m.access(1, [&] { return space.load(addr + off); });
    space.munmap(addr, bytes);
    m.warm();
  }
}

// "mmap the whole thing": random loads (3 in 4) and stores in one big
// shared mapping.
void giant_db_worker(Meter& m, Space& space, uint64_t addr, uint64_t len, uint64_t seed) {
  Rng rng{seed * 0x9e3779b97f4a7c15ull + 1};
  const uint64_t pages = len / kPage;
  while (m.running()) {
    uint64_t r = rng.next();
    uint64_t a = addr + (r >> 8) % pages * kPage;
    if (r & 3) m.access(1, [&] { return space.load(a); });
    else m.access(1, [&] { return space.store(a, false); });
    m.warm();
  }
}

// read() in 64 KiB steps through the file (readahead), then 16 loads of
// random pages through the mapping.
void readers_worker(Meter& m, Peer& peer, Space& space, unsigned file, uint64_t addr, uint64_t len, uint64_t seed) {
  Rng rng{seed * 0x9e3779b97f4a7c15ull + 7};
  std::vector<std::byte> buf(kReadChunk);
  uint64_t cursor = (seed * kReadChunk * 5) % len;
  while (m.running()) {
    m.access(kReadChunk / kPage, [&] {
      peer.read(file, cursor, buf);
      return true;
    });
    cursor = (cursor + kReadChunk) % len;
    for (int i = 0; i < 16; ++i) {
      uint64_t a = addr + rng.next() % (len / kPage) * kPage;
      m.access(1, [&] { return space.load(a); });
    }
    m.warm();
  }
}

// ---- the killers --------------------------------------------------------

// One killer operation of giant_db: punch, zero, truncate-and-regrow and
// migrate, in turn, each on a random 64 KiB-aligned range.
void giant_db_kill(Peer& peer, unsigned file, uint64_t len, uint64_t n, Rng& rng) {
  uint64_t off = rng.next() % (len / kKillerRange) * kKillerRange;
  switch (n % 4) {
    case 0: peer.punch_hole(file, off, kKillerRange); break;
    case 1: peer.zero_range(file, off, kKillerRange); break;
    case 2:
      peer.truncate(file, len / 2);
      peer.truncate(file, len);
      break;
    default: peer.migrate(file, off, kKillerRange); break;
  }
}

// One killer operation of readers: cut up to 256 KiB off the end, then
// write it back.
void readers_kill(Peer& peer, unsigned file, uint64_t len, Rng& rng, std::vector<std::byte>& fill) {
  uint64_t cut = (1 + rng.next() % 64) * kPage;
  peer.truncate(file, len - cut);
  peer.write(file, len - cut, std::span(fill).first(cut));
}

void killer_loop(Shared& sh, Peer& peer, const RunSpec& spec, const Setup& st) {
  Rng rng{0x5eed};
  std::vector<std::byte> fill(uint64_t{256} << 10, std::byte{0x5a});
  const double period = 1.0 / spec.killer_rate;
  double next = monotonic_seconds();
  bool measuring = false;
  for (uint64_t n = 0;; ++n) {
    int ph = sh.phase.load(sync::relaxed);
    if (ph == kStop) return;
    if (ph == kMeasure && !measuring) {
      measuring = true;
      sh.killer_ops = 0;
    }
    if (spec.workload == "giant_db") giant_db_kill(peer, st.files[0], st.shared_len, n, rng);
    else readers_kill(peer, st.files[0], st.shared_len, rng, fill);
    sh.killer_ops += 1;
    next += period;
    double now = monotonic_seconds();
    if (next > now) sleep_seconds(next - now);
    else next = now;  // behind: do not burst to catch up
  }
}

// ---- set-up and the run -------------------------------------------------

Setup set_up(Peer& peer, const RunSpec& spec) {
  Setup st;
  const std::string& w = spec.workload;
  if (w == "page_fault3" || w == "page_fault3_proc") {
    for (unsigned i = 0; i < spec.threads; ++i) st.files.push_back(peer.create_file(spec.page_fault3_bytes, false));
    st.process_mode = w == "page_fault3_proc";
  } else if (w == "hot_file") {
    st.files.push_back(peer.create_file(kHotFilePages * kPage, true));
    st.process_mode = true;
  } else {
    bool giant = w == "giant_db";
    st.shared_len = giant ? spec.giant_db_frames * 4 * kPage : kReadersFileBytes;
    st.files.push_back(peer.create_file(st.shared_len, !giant));
    st.killer = true;
  }
  if (!st.process_mode) st.shared_space = peer.new_space();
  if (st.killer) st.shared_addr = st.shared_space->mmap(st.files[0], st.shared_len, spec.workload == "giant_db");
  return st;
}

void run_worker_body(Shared& sh, Peer& peer, const RunSpec& spec, const Setup& st, unsigned i) {
  RunResult& out = sh.workers[i];
  Meter m(sh, peer, out);
  std::unique_ptr<Space> own = st.process_mode ? peer.new_space() : nullptr;
  Space& space = own ? *own : *st.shared_space;
  const std::string& w = spec.workload;
  if (w == "page_fault3" || w == "page_fault3_proc") page_fault3_worker(m, space, st.files[i], spec.page_fault3_bytes);
  else if (w == "hot_file") hot_file_worker(m, space, st.files[0]);
  else if (w == "giant_db") giant_db_worker(m, space, st.shared_addr, st.shared_len, i + 1);
  else readers_worker(m, peer, space, st.files[0], st.shared_addr, st.shared_len, i + 1);
  m.finish();
}

// A worker that throws (the engine out of memory, the kernel's disk full)
// marks the run failed and lets the others finish.
template <class F>
void or_fail(Shared& sh, F&& f) {
  try {
    f();
  } catch (...) {
    sh.failed.store(1, sync::relaxed);
    sh.phase.store(kStop, sync::relaxed);
  }
}

void run_worker(Shared& sh, Peer& peer, const RunSpec& spec, const Setup& st, unsigned i) {
  or_fail(sh, [&] { run_worker_body(sh, peer, spec, st, i); });
}

// The kernel in process mode: a forked child per worker.
std::vector<pid_t> fork_workers(Shared& sh, Peer& peer, const RunSpec& spec, const Setup& st) {
  std::vector<pid_t> pids;
  for (unsigned i = 0; i < spec.threads; ++i) {
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("bench: fork failed");
    if (pid == 0) {
      run_worker(sh, peer, spec, st, i);
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  return pids;
}

// Warm-up (every worker through one iteration, then a quarter of the
// window), then the measured window. A failed worker ends it early.
void conduct(Shared& sh, Peer& peer, unsigned workers, double seconds, RunResult& r) {
  for (double t = 0; t < 60 && sh.warm.load(sync::relaxed) < workers && sh.phase.load(sync::relaxed) != kStop; t += 0.005)
    sleep_seconds(0.005);
  sleep_seconds(std::max(0.05, seconds / 4));
  uint64_t retries0 = peer.fault_retries();
  double t0 = monotonic_seconds();
  int expected = kWarmup;
  sh.phase.cmpxchg(expected, kMeasure, sync::relaxed);
  sleep_seconds(seconds);
  sh.phase.store(kStop, sync::relaxed);
  r.seconds = monotonic_seconds() - t0;
  r.retries = peer.fault_retries() - retries0;
}

void add_worker(RunResult& r, const RunResult& w) {
  r.touches += w.touches;
  r.faults += w.faults;
  r.bus_errors += w.bus_errors;
  r.access_ns.merge(w.access_ns);
  r.fault_ns.merge(w.fault_ns);
  for (unsigned i = 0; i < kLockClasses; ++i) {
    r.lock_wait_ns[i] += w.lock_wait_ns[i];
    r.lock_contentions[i] += w.lock_contentions[i];
  }
}

}  // namespace

uint64_t engine_frames(const RunSpec& spec) {
  const std::string& w = spec.workload;
  if (w == "page_fault3" || w == "page_fault3_proc") return spec.threads * (spec.page_fault3_bytes / kPage) + 4096;
  if (w == "giant_db") return spec.giant_db_frames;
  if (w == "readers") return 2 * kReadersFileBytes / kPage + 4096;
  return 4096;
}

double ns_per_tick() {
  static const double v = [] {
#if defined(__x86_64__)
    double s0 = monotonic_seconds();
    uint64_t t0 = ticks();
    sleep_seconds(0.02);
    return (monotonic_seconds() - s0) * 1e9 / static_cast<double>(ticks() - t0);
#else
    return 1.0;
#endif
  }();
  return v;
}

RunResult run_workload(Peer& peer, const RunSpec& spec) {
  ns_per_tick();  // calibrate before any worker reads it
  Setup st = set_up(peer, spec);
  SharedArea sh(spec.threads);
  RunResult r;
  std::vector<sync::Thread> threads;
  std::vector<pid_t> pids;
  if (peer.is_kernel() && st.process_mode) {
    pids = fork_workers(*sh, peer, spec, st);
  } else {
    for (unsigned i = 0; i < spec.threads; ++i)
      threads.emplace_back([&, i] { run_worker(*sh, peer, spec, st, i); });
  }
  sync::Thread killer;
  if (st.killer) killer = sync::Thread([&] { or_fail(*sh, [&] { killer_loop(*sh, peer, spec, st); }); });
  conduct(*sh, peer, spec.threads, spec.seconds, r);
  threads.clear();  // joins
  killer.join();
  bool failed = sh->failed.load(sync::relaxed) != 0;
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  }
  if (failed) throw std::runtime_error("bench: a worker of " + spec.workload + " failed");
  for (unsigned i = 0; i < spec.threads; ++i) add_worker(r, sh->workers[i]);
  r.killer_ops = sh->killer_ops;
  if (st.killer) st.shared_space->munmap(st.shared_addr, st.shared_len);
  peer.discard_files();
  return r;
}

}  // namespace faultline::bench
