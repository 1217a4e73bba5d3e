// src/sync/model/model.cc — fibers, the scheduler and the memory models
// (see model.h).
//
// The checker is single threaded: every simulated CPU is a fiber on one OS
// thread, and only the fiber the scheduler picked runs. Fibers are
// Boost.Context's: a switch is a few instructions, where swapcontext()
// makes a system call for the signal mask (half the checker's time). Every
// operation of the sync layer first yields to the scheduler, which picks
// the next fiber to run (or a buffered store to flush) through the
// Strategy, and records the choice so that the execution can be replayed.
#include "sync/model/model.h"
#include "sync/model/weak_memory.h"

#include <boost/context/fiber.hpp>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define FL_FIBER_ASAN 1
#endif

#include <algorithm>
#include <array>
#include <csetjmp>
#include <csignal>
#include <cstring>
#include <deque>
#include <optional>
#include <map>
#include <stdexcept>
#include <utility>
#include <fmt/format.h>

namespace faultline::sync::model {

uint64_t apply(Rmw op, uint64_t old, uint64_t arg, uint64_t mask) {
  switch (op) {
    case Rmw::xchg: return arg & mask;
    case Rmw::add: return (old + arg) & mask;
    case Rmw::sub: return (old - arg) & mask;
    case Rmw::or_: return (old | arg) & mask;
    case Rmw::and_: return (old & arg) & mask;
  }
  return old;
}

namespace {

constexpr size_t kStackSize = 512 * 1024;

struct Pending {
  Word* w;
  uint64_t mask;
  bool is_rmw;
  Rmw op;
  uint64_t arg;
};

// What a CPU did since its last spin(): the words it read, each with its
// Word::written when read, and whether it wrote anything.
struct SinceSpin {
  static constexpr size_t kMax = 8;
  std::array<std::pair<const Word*, uint64_t>, kMax> reads{};
  size_t n = 0;
  bool overflow = false, wrote = false;
  uint64_t propagations = 0;  // Exec::propagations when it last spun
  void read(const Word* w) {
    for (size_t i = 0; i < n; ++i)
      if (reads[i].first == w) {
        reads[i].second = w->written;  // the newer read saw any write between
        return;
      }
    if (n == kMax) overflow = true;
    else reads[n++] = {w, w->written};
  }
  void reset(uint64_t propagated) { *this = SinceSpin{}; propagations = propagated; }
  // Whether a word it read was written since, or late writes propagated.
  bool changed(uint64_t propagated) const {
    if (propagated != propagations) return true;
    for (size_t i = 0; i < n; ++i)
      if (reads[i].first->written != reads[i].second) return true;
    return false;
  }
  void touch(Footprint& fp) const {
    for (size_t i = 0; i < n; ++i) fp.add(reads[i].first->id, false);
  }
};

// What a blocked CPU's wake-up condition reads, and so what its waking
// step conflicts with: one word (a futex wait), RCU's state (a grace
// period), the words its spin loop read (SinceSpin), the words its loads
// were promised (await_promises), or anything.
struct Reads {
  enum Kind { memory, word, rcu, spin_reads, promised } kind = memory;
  const Word* w = nullptr;         // kind word
  const void* domain = nullptr;    // kind rcu: the SRCU domain (null: RCU)
};

// Under `weak`, how a read-side section ended: what its CPU had seen, and
// that CPU's promises still unkept (a mask; see grace_period()).
struct SectionEnd {
  weak::Clock exit;
  uint64_t promises = 0;
};

struct Fiber {
  int id = 0;
  std::string name;
  std::function<void()> fn;
  sigjmp_buf crash_env;       // where a crash inside its code lands (fiber_entry)
  bool crash_armed = false;
  int crash_signal = 0;
  void* crash_address = nullptr;
  boost::context::fiber ctx;  // while it does not run: where it goes on
  char* stack = nullptr;      // its lowest address
  bool done = false;
  std::function<bool()> until;  // blocked until this holds
  Reads until_reads;            // ... which reads only these (its wake-up's footprint)
  SinceSpin sleeping_on;
  unsigned blind_spins = 0;  // its spins in a row that followed a write or many reads
  std::deque<Pending> buf;      // the store buffer
  unsigned rcu_nesting = 0;
  uint64_t rcu_gen = 0;
  // Stand for its read-side sections in footprints (see touch_rcu): of
  // RCU (the two above), then of SRCU domains in the order the execution
  // first used them (Exec::rcu_domains); further domains share the last.
  std::array<Word, 4> rcu_state;
  SectionEnd rcu_end;  // under `weak`: how its RCU sections ended (promises: of all of them)
  std::optional<weak::Cpu> srcu_unlocked;  // under `weak`: its state at its last srcu_read_unlock()
  bool before_atomic = false;   // smp_mb__before_atomic() pending
  uint64_t spin_epoch = ~uint64_t{0};  // memory's epoch at this fiber's last spin
  SinceSpin since_spin;
  const Word* peeked = nullptr;  // `weak`: the word its latest load peeked at, if it peeked
  // Load buffering (set_promise_values): the promises its loads read or
  // depended on, those every later store depends on, the last load's, and
  // a one-shot override of what the next store depends on.
  uint64_t all_taint = 0, ordered_taint = 0, last_taint = 0, dep_taint = 0;
  // smp_rmb() orders its later loads after its earlier ones, and nothing
  // else: the promises of the loads before it, which every later load (and
  // what depends on one) depends on too, and those still unkept then,
  // which its next load waits for (a store after it does not).
  uint64_t rmb_taint = 0, rmb_promises = 0;
  bool dep_override = false, dep_on_load = false, dep_data = false;
  // Address dependencies (the litmus interpreter): what each of its loads
  // learnt (weak::Memory::learnt), by number, and the loads the next
  // access's address came from (a mask of those numbers).
  std::vector<weak::Clock> load_learnt;
  uint64_t address_from = 0;
  bool plain_next = false;  // next_access_plain
};

struct Deferred {
  std::function<void()> fn;
  std::vector<std::pair<int, uint64_t>> readers;  // (fiber, generation) to outlive
};

struct Exec {
  MemoryModel mm = MemoryModel::sc;
  Strategy* strategy = nullptr;
  uint64_t max_steps = 0;
  std::vector<std::unique_ptr<Fiber>> fibers;
  int cur = -1;
  int last = -1;  // the fiber that ran last (PCT demotes it at change points)
  boost::context::fiber sched;  // while a fiber runs: the scheduler
  Outcome out;
  uint64_t epoch = 0;  // bumped by every store reaching memory
  uint64_t propagations = 0;  // `weak`: how often late writes propagated
  int atomically = 0;
  bool aborted = false;
  bool unwinding = false;  // the fibers of a dropped execution are being ended (end_dropped_execution)
  Footprint fp;  // what the running transition touched
  std::vector<int> runnable;                     // schedule_once's options,
  std::vector<std::pair<int, size_t>> flushes;   // kept to reuse their storage
  std::vector<Deferred> callbacks;
  Word rcu_queue;  // stands for `callbacks` in footprints (see touch_rcu)
  std::vector<const void*> rcu_domains{nullptr};  // RCU, then SRCU domains as first used
  Word sc_order;   // `weak`: stands for the full barriers' order (see full_barrier_weak)
  // SRCU read-side sections, in the order they began (a token is an index
  // + 1; a deque, so that a grace period keeps pointers to their ends).
  struct SrcuSection {
    const Word* domain;
    int cpu;  // that began it
    bool open;
    SectionEnd end;
  };
  std::deque<SrcuSection> srcu;
  std::unique_ptr<weak::Memory> wm;  // under `weak`: the histories and views
  struct Promise {
    int cpu;
    const Word* w;
    uint64_t value;
    bool kept;
    uint64_t floor_time;  // the write the reader was bound to (coherence)
    uint64_t via = 0;     // kept: what the store that kept it depended on
    uint64_t reader_wrote = 0;  // the time of the reader's first write to the word after the load (0: none)
    // The reader's stores that depend on it, as (word, time): the store
    // that keeps it must not be fenced after a write one of them precedes
    // in coherence (propagation, as for a load that read it: S+mb+ctrl).
    std::vector<std::pair<const Word*, uint64_t>> dependents;
  };
  std::vector<Promise> promises;  // values loads read before any store made them
  bool promise_broken = false;    // a CPU passed an ordering point, or a grace period a section of it, with a promise unkept
};

uint64_t g_next_word_id = 0;  // see Word
uint64_t g_writes = 0;        // see Word::written
uint32_t g_serial = 0;        // counts executions (Word::serial)
uint64_t g_executions = 0;    // counts every execution (execution_id)
std::vector<uint64_t> g_promise_values;  // set_promise_values
bool g_track_addresses = false;                // track_address_dependencies
bool g_track_races = false;                    // track_data_races

// Names of words, for traces ("page 0 flags" rather than an address).
std::map<const void*, std::string>& word_names() {
  static std::map<const void*, std::string> names;
  return names;
}
std::string named(const void* w) {
  auto& n = word_names();
  auto it = n.find(w);
  return it == n.end() ? std::string() : it->second + " ";
}
std::map<uint64_t, std::string>& object_names() {
  static std::map<uint64_t, std::string> names;
  return names;
}
// Pointers to objects no one named, numbered in the order a trace shows
// them (describe() starts the count again): an address changes from run
// to run and says nothing.
std::map<uint64_t, std::string>& unnamed_objects() {
  static std::map<uint64_t, std::string> names;
  return names;
}
// Whether `v` looks like a pointer into this process's heap or mappings
// (x86-64 user space from 16 TiB up), not a value the world computes:
// its offsets, sizes, PTEs and simulated addresses are far smaller.
bool looks_like_pointer(uint64_t v) { return v >= (uint64_t{1} << 44) && v < (uint64_t{1} << 47) && v % 8 == 0; }
// A value in a trace: "&name" for a named object's address, "&object N"
// for another pointer, else hex.
std::string value_text(uint64_t v) {
  auto& n = object_names();
  if (auto it = n.find(v); it != n.end()) return "&" + it->second;
  if (!looks_like_pointer(v)) return fmt::format("{:#x}", v);
  auto& u = unnamed_objects();
  auto it = u.find(v);
  if (it == u.end()) it = u.emplace(v, fmt::format("object {}", u.size() + 1)).first;
  return "&" + it->second;
}

// Stacks come from a pool kept across executions: every execution makes
// its fibers anew, and a fresh 512 KiB stack for each would cost more than
// the execution's switches.
std::vector<std::unique_ptr<char[]>>& stack_pool() {
  static std::vector<std::unique_ptr<char[]>> pool;
  return pool;
}

// Boost.Context's stack allocator over the pool; tells the fiber where its
// stack is, for AddressSanitizer.
struct PooledStack {
  Fiber* f;
  boost::context::stack_context allocate() {
    auto& pool = stack_pool();
    std::unique_ptr<char[]> s = pool.empty() ? std::make_unique<char[]>(kStackSize) : std::move(pool.back());
    if (!pool.empty()) pool.pop_back();
    f->stack = s.release();
    boost::context::stack_context sc;
    sc.size = kStackSize;
    sc.sp = f->stack + kStackSize;
    return sc;
  }
  void deallocate(boost::context::stack_context& sc) noexcept {
    stack_pool().emplace_back(static_cast<char*>(sc.sp) - sc.size);
  }
};

// Stack switches, told to AddressSanitizer so that it tracks which stack
// is live (otherwise it warns and may report false positives).
#ifdef FL_FIBER_ASAN
const void* g_main_bottom = nullptr;
size_t g_main_size = 0;
void asan_to_fiber(void** fake, const Fiber* f) { __sanitizer_start_switch_fiber(fake, f->stack, kStackSize); }
void asan_to_scheduler(void** fake) { __sanitizer_start_switch_fiber(fake, g_main_bottom, g_main_size); }
void asan_arrived(void* fake) { __sanitizer_finish_switch_fiber(fake, nullptr, nullptr); }
void fiber_started() { __sanitizer_finish_switch_fiber(nullptr, &g_main_bottom, &g_main_size); }
#else
void asan_to_fiber(void**, const Fiber*) {}
void asan_to_scheduler(void**) {}
void asan_arrived(void*) {}
void fiber_started() {}
#endif

void to_fiber(Fiber* f) {
  void* fake = nullptr;
  asan_to_fiber(&fake, f);
  f->ctx = std::move(f->ctx).resume();
  asan_arrived(fake);
}

Exec* g = nullptr;  // the running execution

// From the running fiber back to the scheduler; returns when it is picked
// again.
void to_scheduler() {
  void* fake = nullptr;
  asan_to_scheduler(&fake);
  g->sched = std::move(g->sched).resume();
  asan_arrived(fake);
}

Fiber* self() { return g && g->cur >= 0 ? g->fibers[g->cur].get() : nullptr; }
bool scheduling() { return self() && !g->atomically; }

weak::Memory& wm();

// Strategy::Bound under `weak`: what `reader`'s clock holds.
bool bound_to(int reader, int writer, uint64_t stamp) {
  return wm().cpu(reader).clock.knows(writer, static_cast<uint32_t>(stamp));
}

// Records that the running transition touched word `w`. The strategy
// hears of every access that could tell a held-back store from one that
// reached memory (Strategy::accessed): under `tso` any, the oracle's too
// (it reads memory, not the store buffers); under `weak` a CPU's, not the
// oracle's (it reads the newest write, late or not).
void touch(const Word* w, bool write) {
  if (!g || g->cur < 0) return;
  g->fp.add(w->id, write);
  if (g->mm == MemoryModel::tso) g->strategy->accessed(w->id, g->cur, nullptr);
  else if (g->mm == MemoryModel::weak && !g->atomically) g->strategy->accessed(w->id, g->cur, bound_to);
}
// A write reaching a word: memory changed (Exec::epoch), and this word
// with it (Word::written), for the spin loops asleep on either.
void written(Word* w) {
  w->written = ++g_writes;
  if (g) ++g->epoch;
}
// The running CPU read `w` / wrote something, for spin().
void read_for_spin(const Word* w) {
  if (scheduling()) self()->since_spin.read(w);
}
void wrote_for_spin() {
  if (scheduling()) self()->since_spin.wrote = true;
}
// A compare-and-swap's access: a write if it swapped, else a read.
void touch_cas(const Word* w, bool swapped) {
  touch(w, swapped);
  if (swapped) wrote_for_spin();
  else read_for_spin(w);
}

void touch_all() {
  if (g && g->cur >= 0) g->fp.global = true;
}

std::string where(const std::source_location& loc) {
  std::string file = loc.file_name();
  if (auto s = file.rfind("/src/"); s != std::string::npos) file = file.substr(s + 5);
  std::string fn = loc.function_name();
  // "void faultline::detail::folio_unlock(Folio*)" -> "folio_unlock"
  if (auto p = fn.find('('); p != std::string::npos) fn.resize(p);
  if (auto sp = fn.rfind("::"); sp != std::string::npos) fn = fn.substr(sp + 2);
  if (auto sp = fn.rfind(' '); sp != std::string::npos) fn = fn.substr(sp + 1);
  return fmt::format("{} [{}:{}]", fn, file, loc.line());
}

void trace(StepKind k, const std::source_location& loc, const void* w = nullptr, uint64_t a = 0, uint64_t b = 0,
           uint8_t fence = 0, uint64_t c = Reorder::in_order) {
  if (!scheduling()) return;
  g->out.trace.push_back({g->cur, k, fence, loc, w, a, b, c});
}

bool weak_model() { return g && g->mm == MemoryModel::weak && scheduling(); }

weak::Memory& wm() { return *g->wm; }

// RCU's state in footprints, so that a grace period or a call_rcu()
// conflicts only with what it depends on: each CPU's read-side section
// (its rcu_state, written by its outermost rcu_read_lock/unlock), read by
// every grace period and call_rcu, and the callback queue (written by
// call_rcu, and by a grace period only if it holds callbacks to run: one
// with none only reads that it is empty). Under `weak` a
// grace period's start and end are full barriers (full_barrier_weak
// touches the order they take part in), and the end makes every late
// write propagate, which changes what any CPU may read and whether its
// stores are held back: while some write is late that conflicts with all.
Word& rcu_state(Fiber& f, const void* domain) {
  auto& known = g->rcu_domains;
  auto it = std::find(known.begin(), known.end(), domain);
  if (it == known.end()) it = known.insert(known.end(), domain);
  return f.rcu_state[std::min(static_cast<size_t>(it - known.begin()), f.rcu_state.size() - 1)];
}
// A grace period of `domain` reads every CPU's sections of it (with data
// races tracked, its end also what every section of any domain had done).
void touch_rcu_state(Footprint& fp, const void* domain) {
  for (auto& f : g->fibers) {
    if (!g_track_races) fp.add(rcu_state(*f, domain).id, false);
    else
      for (const Word& w : f->rcu_state) fp.add(w.id, false);
  }
  fp.add(g->rcu_queue.id, !g->callbacks.empty());
}
void touch_rcu(const void* domain = nullptr) {
  if (!g || g->cur < 0) return;
  touch_rcu_state(g->fp, domain);
  if (weak_model() && wm().any_late()) touch_all();
}

// A full barrier under `weak` (weak::Memory::full_barrier). The barriers
// take their places in one order, which Exec::sc_order stands for: one
// that publishes what no barrier before it had published writes that
// order, one that publishes nothing only reads it, so that barriers which
// add nothing commute, while a barrier that adds something is ordered
// against every other barrier (it decides what they learn).
void full_barrier_weak(const Fiber* f, const weak::Cpu* as_of = nullptr) {
  touch(&g->sc_order, wm().full_barrier(f->id, as_of));
}

// Hands control to the scheduler; returns when this fiber is picked again.
// Thrown into the fibers of an execution that is dropped while they wait
// (end_dropped_execution); not a std::exception, which would be a failure.
struct Dropped {};

void yield() {
  if (!scheduling()) return;
  to_scheduler();
  if (g->unwinding) throw Dropped{};
}

void drain(Fiber* f);

// Sleeping (a futex wait, a grace period) is a system call: a full
// barrier, so the sleeper's buffered stores drain first. `reads`: what
// `pred` reads, which the wake-up conflicts with.
void block_until(std::function<bool()> pred, Reads reads = {}) {
  if (!scheduling()) {
    if (!pred()) fail("a blocking wait outside the scheduler would never end");
    return;
  }
  drain(self());
  if (g->mm == MemoryModel::weak) full_barrier_weak(self());
  self()->until = std::move(pred);
  self()->until_reads = reads;
  yield();
}

void flush_entry(Fiber* f, size_t i) {
  Pending p = f->buf[i];
  f->buf.erase(f->buf.begin() + static_cast<long>(i));
  touch(p.w, true);
  p.w->v = p.is_rmw ? apply(p.op, p.w->v, p.arg, p.mask) : (p.arg & p.mask);
  written(p.w);
}

// A flush the trace shows (one a CPU's own barrier forces is not shown).
void flush_traced(Fiber* f, size_t i) {
  g->out.trace.push_back({-1, StepKind::flush, 0, {}, f->buf[i].w, static_cast<uint64_t>(f->id), 0});
  flush_entry(f, i);
}

// A CPU's barrier, RMW or sleep under `tso` empties its store buffer: a
// store the search might still hold back in another execution would reach
// memory here too (Strategy::stores_settled).
void drain(Fiber* f) {
  while (f && !f->buf.empty()) flush_entry(f, 0);
  if (f && g->mm == MemoryModel::tso && f == self()) g->strategy->stores_settled(f->id, g->fp);
}

// Under `weak`, makes every late write visible to all, in the running
// step, as it would a store the search holds back in another execution
// (Strategy::stores_settled); false if none was late in this one.
bool propagate_late_writes() {
  g->strategy->stores_settled(-1, g->fp);
  if (!wm().propagate_all()) return false;
  ++g->propagations;
  return true;
}

// Appends the flush option of a fiber (TSO: its oldest entry) as
// (fiber, entry).
void add_flush_options(const Fiber& f, std::vector<std::pair<int, size_t>>& out) {
  if (!f.buf.empty()) out.emplace_back(f.id, 0);
}

// Whether the store buffers of two fibers hold the same word: then the
// order in which they reach memory decides its final value.
bool two_buffers_hold_one_word() {
  for (const auto& a : g->fibers)
    for (const Pending& p : a->buf)
      for (const auto& b : g->fibers)
        if (b != a && std::any_of(b->buf.begin(), b->buf.end(), [&](const Pending& q) { return q.w == p.w; }))
          return true;
  return false;
}

uint64_t view(const Word* w, uint64_t mask) {
  uint64_t v = w->v & mask;
  if (Fiber* f = self())
    for (const Pending& p : f->buf)
      if (p.w == w) v = p.is_rmw ? apply(p.op, v, p.arg, mask) : (p.arg & mask);
  return v;
}

constexpr int kRelaxed = 0, kRelease = 3, kAcqRel = 4, kSeqCst = 5;

void run_callbacks(bool all) {
  for (size_t i = 0; i < (g ? g->callbacks.size() : 0);) {
    auto& cb = g->callbacks[i];
    bool due = all || std::all_of(cb.readers.begin(), cb.readers.end(), [](auto& r) {
                 Fiber& f = *g->fibers[r.first];
                 return f.rcu_nesting == 0 || f.rcu_gen != r.second;
               });
    if (!due) {
      ++i;
      continue;
    }
    auto fn = std::move(cb.fn);
    g->callbacks.erase(g->callbacks.begin() + static_cast<long>(i));
    fn();
  }
}

std::vector<std::pair<int, uint64_t>> readers_now(bool include_self) {
  std::vector<std::pair<int, uint64_t>> r;
  for (auto& f : g->fibers)
    if (f->rcu_nesting > 0 && (include_self || f->id != g->cur)) r.emplace_back(f->id, f->rcu_gen);
  return r;
}

// A fiber's life: its function, then back to the scheduler for good (the
// fiber's stack goes back to the pool).
// ---- crashes ------------------------------------------------------------------
//
// A bug in the simulated engine (a null or freed pointer, a failed
// assertion) ends the execution with a verdict, not the checker: the
// handler, on a stack of its own, jumps back to the crashed fiber's entry,
// which reports it like a failed check. Outside a fiber the signal kills
// the process as it would have.

void on_crash(int sig, siginfo_t* info, void*) {
  Fiber* f = g && g->cur >= 0 ? g->fibers[static_cast<size_t>(g->cur)].get() : nullptr;
  if (!f || !f->crash_armed) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  f->crash_signal = sig;
  f->crash_address = info->si_addr;
  siglongjmp(f->crash_env, 1);
}

void catch_crashes() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  static std::vector<char> alt(1 << 16);
  stack_t ss{};
  ss.ss_sp = alt.data();
  ss.ss_size = alt.size();
  sigaltstack(&ss, nullptr);
  struct sigaction sa{};
  sa.sa_sigaction = on_crash;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) sigaction(sig, &sa, nullptr);
}

std::string crash_text(const Fiber& f) {
  std::string what = sigabbrev_np(f.crash_signal) ? std::string("SIG") + sigabbrev_np(f.crash_signal) : "a signal";
  if (f.crash_signal == SIGABRT) return fmt::format("crash: {} aborted ({}: an assertion or a refcount gone wrong)", f.name, what);
  return fmt::format("crash: {} in {} at address {}", what, f.name, f.crash_address);
}

// Runs the fiber's function, turning an exception or a crash into the
// execution's failure.
void run_guarded(Fiber* f) {
  // The signal mask is not saved (0): the handler runs with SA_NODEFER, so
  // a crash leaves the mask as it was, and saving it would cost a system
  // call per fiber, per execution.
  if (sigsetjmp(f->crash_env, 0) != 0) {
    f->crash_armed = false;
    g->out.failure = crash_text(*f);
    g->aborted = true;
    return;
  }
  f->crash_armed = true;
  try {
    f->fn();
  } catch (const Dropped&) {  // ended by end_dropped_execution(): nothing failed
  } catch (const std::exception& e) {
    g->out.failure = fmt::format("{}: uncaught exception: {}", f->name, e.what());
    g->aborted = true;
  }
  f->crash_armed = false;
}

boost::context::fiber fiber_entry(boost::context::fiber&& sched) {
  fiber_started();
  g->sched = std::move(sched);
  Fiber* f = self();
  run_guarded(f);
  f->done = true;
  asan_to_scheduler(nullptr);  // this stack is done with
  return std::move(g->sched);
}

Fiber* new_fiber(std::string name, std::function<void()> fn) {
  auto f = std::make_unique<Fiber>();
  f->id = static_cast<int>(g->fibers.size());
  f->name = std::move(name);
  f->fn = std::move(fn);
  f->ctx = boost::context::fiber(std::allocator_arg, PooledStack{f.get()}, fiber_entry);
  g->fibers.push_back(std::move(f));
  g->out.names.push_back(g->fibers.back()->name);
  return g->fibers.back().get();
}

char encode(size_t pick) { return pick < 10 ? char('0' + pick) : char('a' + std::min<size_t>(pick - 10, 25)); }
constexpr size_t kMaxChoice = 36;  // what a schedule character encodes

// A choice the memory model leaves open inside the running CPU's step
// (Strategy::choose), recorded in the schedule like the scheduler's.
size_t choose(size_t n, bool reorders) {
  n = std::min(n, kMaxChoice);
  if (n <= 1) return 0;
  size_t k = std::min(g->strategy->choose(n, reorders), n - 1);
  g->out.schedule.push_back(encode(k));
  return k;
}

// Whether the running CPU's store to `w` waits in its store buffer
// (`tso`) or propagates late (`weak`): Strategy::hold_back, recorded in
// the schedule like choose()'s.
bool hold_back(const Word* w) {
  uint64_t stamp = g->wm ? wm().next_stamp(g->cur) : 0;  // the write about to be made
  size_t k = std::min<size_t>(g->strategy->hold_back(w->id, g->cur, stamp), 1);
  g->out.schedule.push_back(encode(k));
  return k == 1;
}

// Under `tso`, another CPU's buffered stores to `w` reach memory before
// this access or after it: a free choice, made where it can be seen (a
// flush no CPU observes changes nothing, so the scheduler does not branch
// on it at every step). A flush takes the buffer's prefix through its
// last store to `w`: the buffer is FIFO.
void offer_flushes(const Word* w) {
  if (!scheduling() || g->mm != MemoryModel::tso) return;
  for (auto& other : g->fibers) {
    if (other.get() == self()) continue;
    auto& buf = other->buf;
    auto last = std::find_if(buf.rbegin(), buf.rend(), [&](const Pending& p) { return p.w == w; });
    if (last == buf.rend() || choose(2, false) == 0) continue;
    for (size_t n = static_cast<size_t>(buf.rend() - last); n > 0; --n) flush_traced(other.get(), 0);
  }
}

// The runnable fibers; under `weak`, when none is, late writes propagate
// first (a CPU waiting for one is not kept from it for ever), as part of
// the step about to run.
void find_runnable() {
  for (;;) {
    g->runnable.clear();
    for (auto& f : g->fibers)
      if (!f->done && (!f->until || f->until())) g->runnable.push_back(f->id);
    if (!g->runnable.empty() || !g->wm || !propagate_late_writes()) return;
    ++g->epoch;
  }
}

// The words of `f`'s promised loads: whether they are kept is what their
// stores decide.
void touch_promised(const Fiber* f) {
  for (const auto& p : g->promises)
    if (p.cpu == f->id) g->fp.add(p.w->id, false);
}

// A woken CPU's step read whatever its wait read.
void woken_reads(const Fiber* f) {
  switch (f->until_reads.kind) {
    case Reads::word: return g->fp.add(f->until_reads.w->id, false);
    case Reads::spin_reads: return f->sleeping_on.touch(g->fp);
    case Reads::rcu: return touch_rcu(f->until_reads.domain);  // under `weak` the grace period's end also runs here
    case Reads::promised: return touch_promised(f);
    case Reads::memory: g->fp.global = true;
  }
}

bool schedule_once() {
  if (g->aborted) return false;
  if (++g->out.steps > g->max_steps) {
    g->out.step_limit = true;
    return false;
  }
  // The option lists live in the execution: no allocation per step.
  auto& runnable = g->runnable;
  auto& flushes = g->flushes;
  flushes.clear();
  g->fp = Footprint{};  // the step's; a propagation is its first part
  find_runnable();
  // With a CPU to run, a flush waits for the access that would see it
  // (offer_flushes); with none, some buffered store must go.
  if (runnable.empty())
    for (auto& f : g->fibers) add_flush_options(*f, flushes);
  bool all_done =
      runnable.empty() && std::all_of(g->fibers.begin(), g->fibers.end(), [](auto& f) { return f->done; });
  if (all_done && !two_buffers_hold_one_word()) return false;  // run() drains them: no one sees the order
  if (runnable.empty() && flushes.empty()) {
    g->out.deadlock = true;
    return false;
  }
  // Only real choices are recorded: a replay sees the same situations.
  size_t options = runnable.size() + flushes.size();
  size_t pick = 0;
  if (options > 1) {
    pick = std::min(g->strategy->pick(runnable, flushes.size(), g->last), options - 1);
    g->out.schedule.push_back(encode(pick));
  }
  if (pick >= runnable.size()) {
    auto [fid, idx] = flushes[pick - runnable.size()];
    flush_traced(g->fibers[fid].get(), idx);
    g->fp.global = true;
    g->strategy->executed(-1, g->fp);
    return true;
  }
  g->cur = g->last = runnable[pick];
  Fiber* f = g->fibers[g->cur].get();
  if (f->until) woken_reads(f);
  f->until = nullptr;
  to_fiber(f);
  g->cur = -1;
  g->strategy->executed(f->id, g->fp);
  return true;
}

}  // namespace

void Footprint::add(uint64_t w, bool wr) {
  for (int i = 0; i < n; ++i)
    if (word[i] == w) {
      write[i] = write[i] || wr;
      return;
    }
  if (n == kMax) {
    global = true;
    return;
  }
  word[n] = w;
  write[n++] = wr;
}

bool Footprint::conflicts(const Footprint& o) const {
  if (global || o.global) return true;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < o.n; ++j)
      if (word[i] == o.word[j] && (write[i] || o.write[j])) return true;
  return false;
}

namespace {

// The step's operation; `w` is the name of its word ("" or "name ").
std::string describe_op(const Outcome& o, const Step& st, const std::string& w) {
  static const char* kFences[] = {"smp_mb", "smp_rmb", "smp_wmb", "smp_mb__before_atomic", "smp_mb__after_atomic",
                                  "smp_mb__after_srcu_read_unlock"};
  static const char* kOps[] = {"=", "+=", "-=", "|=", "&="};  // by Rmw
  static const char* kReorders[] = {"", " (stale: a newer write has not reached this CPU)", " (propagates late)",
                                     " (propagates late, before newer writes in coherence order)",
                                     " (promised: a later store of another CPU must write it)"};
  const char* r = kReorders[std::min<uint64_t>(st.c, 4)];
  switch (st.kind) {
    case StepKind::load: return fmt::format("load {}{}{}", w, value_text(st.a), r);
    case StepKind::store: return fmt::format("store {}{}{}", w, value_text(st.a), r);
    case StepKind::rmw: return fmt::format("rmw {}{} -> {}", w, value_text(st.a), value_text(st.b));
    case StepKind::rmw_buffered: return fmt::format("rmw {}{} -> {}{}", w, value_text(st.a), value_text(st.b), r);
    case StepKind::rmw_buffered_noret:  // clear_bit() returns nothing: what it did
      return fmt::format("rmw {}{} {:#x}{}", w, kOps[st.b], st.a, r);
    case StepKind::cas: return fmt::format("cmpxchg {}{} -> {}{}", w, value_text(st.a), value_text(st.b), r);
    case StepKind::cas_fail: return fmt::format("cmpxchg {}fails: {}", w, value_text(st.a));
    case StepKind::fence: return kFences[st.fence];
    case StepKind::sleep: return fmt::format("sleep while {}{}", w, value_text(st.a));
    case StepKind::spin: return "spin";
    case StepKind::spin_sleep:
      return st.word ? fmt::format("spin: sleep while {}{}", w, value_text(st.a)) : "spin: sleep until memory changes";
    case StepKind::synchronize_rcu: return fmt::format("synchronize_rcu: wait for {} reader(s)", st.a);
    case StepKind::flush: return fmt::format("CPU {}'s store buffer: a store {}reaches memory", st.a, w.empty() ? "" : "to " + w);
    case StepKind::note: return o.notes[st.a];
    case StepKind::note_lazy: return fmt::format(fmt::runtime(static_cast<const char*>(st.word)), st.a, st.b, st.c);
  }
  return "?";
}

}  // namespace

std::vector<StepText> describe(const Outcome& o) {
  unnamed_objects().clear();
  std::vector<StepText> v;
  v.reserve(o.trace.size());
  for (const Step& st : o.trace) {
    bool located = st.kind != StepKind::note && st.kind != StepKind::note_lazy && st.kind != StepKind::flush;
    std::string w = named(st.word);
    bool unnamed_load = st.kind == StepKind::load && w.empty();
    bool writes = st.kind == StepKind::store || st.kind == StepKind::rmw || st.kind == StepKind::rmw_buffered ||
                  st.kind == StepKind::rmw_buffered_noret || st.kind == StepKind::cas;
    std::string name = w.empty() ? w : w.substr(0, w.size() - 1);
    v.push_back({st.fiber, located ? where(st.loc) : std::string(), describe_op(o, st, w), unnamed_load, name,
                 writes, st.kind == StepKind::sleep});
  }
  return v;
}

const char* memory_model_name(MemoryModel m) {
  switch (m) {
    case MemoryModel::sc: return "sc";
    case MemoryModel::tso: return "tso";
    case MemoryModel::weak: return "weak";
  }
  return "?";
}

// ---- memory operations ----------------------------------------------------

// A write outside the scheduler (the oracle, building the world): to
// memory at once.
void write_memory(Word* w, uint64_t v) {
  if (g && g->wm) g->wm->write_outside(w, v);
  else w->v = v;
  written(w);
}

// ---- load buffering: promises (set_promise_values) ----------------------

// Whether a load with `order` orders its CPU's later accesses after it (an
// acquire; consume is taken as one): an ordering point.
bool orders_later_accesses(int order) { return order == 1 || order == 2 || order == kAcqRel || order == kSeqCst; }

// Whether this load reads a promised value (a reordering the bound
// counts), and which.
// A later load of the same word by the same CPU, while the promise is
// unkept, reads it again (coherence: nothing older can follow it).
bool promise(Fiber* f, const Word* w, uint64_t mask, int order, uint64_t& v, uint64_t& taint) {
  // Once the execution is dropped, it runs on without promises, to its end
  // (a CPU spinning on a promised value would never stop).
  if (g_promise_values.empty() || g->promise_broken) return false;
  for (size_t i = 0; i < g->promises.size(); ++i) {
    const auto& p = g->promises[i];
    if (p.cpu == f->id && p.w == w && !p.kept) {
      v = p.value;
      taint = uint64_t{1} << i;
      return true;
    }
  }
  // An acquire would check its own promise at once, unkept (loaded()):
  // promising it only makes executions that are dropped.
  if (g->promises.size() >= 64 || orders_later_accesses(order) || choose(2, true) == 0) return false;
  v = g_promise_values[choose(g_promise_values.size(), false)] & mask;
  taint = uint64_t{1} << g->promises.size();
  g->promises.push_back({f->id, w, v, false, wm().floor_time(w, f->id), 0, 0, {}});
  return true;
}

// A promise unkept here breaks the execution, and a store that keeps it
// later would not have: the step reads whether it is kept, which the
// promised word's stores decide.
void promise_checked(const Exec::Promise& p) {
  if (p.kept) return;
  g->promise_broken = true;
  g->fp.add(p.w->id, false);
}

// An ordering point (a barrier, an acquire, a release) reached with a
// promise of this CPU unkept: what follows would be ordered after a value
// no write has made. Such executions are dropped; load buffering is
// modelled between relaxed accesses.
void ordering_point(Fiber* f) {
  for (const auto& p : g->promises)
    if (p.cpu == f->id) promise_checked(p);
}

// The end of a read-side section is no ordering point: a load inside it
// may still read a value a later store keeps (the LKMM lets sections
// overlap a grace period that way, LISA2R1G). But a section that began
// before a grace period began (one it waited for, or one that had ended)
// must not see a store after the grace period: a promise of it still
// unkept when the grace period ends could only be kept by one.
uint64_t unkept_promises(const Fiber* f) {
  uint64_t mask = 0;
  for (size_t i = 0; i < g->promises.size(); ++i)
    if (g->promises[i].cpu == f->id && !g->promises[i].kept) mask |= uint64_t{1} << i;
  return mask;
}
void grace_period_waited_for(uint64_t promises) {
  for (size_t i = 0; i < g->promises.size(); ++i)
    if (promises & (uint64_t{1} << i)) promise_checked(g->promises[i]);
}

// Before an ordering point: a CPU with a promise unkept waits until
// stores keep all of its promises. Going past the point first could only
// end in a dropped execution (ordering_point()), and every schedule that
// goes on from it would be run for nothing; waiting runs just those where
// the stores came first (if none comes, the execution ends with the
// promise unkept, dropped as before). The wait is no system call: no
// barrier.
void await_promises(Fiber* f, uint64_t which = ~uint64_t{0}) {
  auto all_kept = [f, which] { return (unkept_promises(f) & which) == 0; };
  if (all_kept()) return;
  touch_promised(f);
  f->until = all_kept;
  f->until_reads = {Reads::promised};
  yield();
}

// Whether the running execution is dropped: a CPU passed an ordering
// point with a promise unkept, or some promise is still unkept.
bool execution_dropped() {
  return g->promise_broken || std::any_of(g->promises.begin(), g->promises.end(), [](const auto& p) { return !p.kept; });
}

// A deadlock or a failure in an execution that a promise unkept drops
// anyway (CPUs awaiting promises no store is left to keep, others perhaps
// spinning on a lock one of those holds; a CPU that dereferenced a
// promised value that is no address): it is ended as a clean one is, each
// stopped CPU's stack unwound from where it waits or failed (a stack
// abandoned mid-way would be kept until the process ends, one per such
// execution: 170 KB an execution of the corpus's pointer tests). Their
// code is the litmus interpreter's (only it makes promises), which holds
// no simulated lock in a destructor.
void end_dropped_execution() {
  if (!execution_dropped()) return;
  g->unwinding = true;
  for (auto& f : g->fibers) {
    f->until = nullptr;
    // One that never ran stops at its first yield, and ends on the next.
    while (!f->done) {
      g->cur = f->id;
      to_fiber(f.get());
      g->cur = -1;
    }
  }
  g->out.deadlock = false;
  g->aborted = false;
}

// A load's promises pass to what depends on it: by default every later
// store of its CPU; after an acquire, everything. A marked load after an
// smp_rmb() carries those of the loads before it too (a plain one does not:
// the LKMM's hb links marked accesses only; C-non-race1).
void loaded(Fiber* f, uint64_t taint, int order, bool plain = false) {
  if (!plain) taint |= f->rmb_taint;
  f->last_taint = taint;
  f->all_taint |= taint;
  if (orders_later_accesses(order)) {
    f->ordered_taint |= taint;
    ordering_point(f);
  }
}

// The address dependencies of `f`'s next access: what the loads its
// address came from learnt.
weak::Clock address_bound(const Fiber* f) {
  weak::Clock c;
  if (!f->address_from) return c;
  for (size_t i = 0; i < f->load_learnt.size() && i < 64; ++i)
    if (f->address_from & (uint64_t{1} << i)) c.join(f->load_learnt[i]);
  return c;
}
// Records what `f`'s load learnt (what the write `read` passed on, if it
// read one, and what its address dependencies had), for the loads whose
// address it gives.
void learnt(Fiber* f, const weak::Msg* read, weak::Clock also) {
  if (!g_track_addresses) return;
  if (read) also.join(wm().learnt(*read, f->id));
  f->load_learnt.push_back(also);
  f->address_from = 0;
}

// Whether a store or RMW of `f` is ordered after its CPU's earlier loads:
// by default (the engine's), by a stated dependency, or as a release.
bool after_reads(const Fiber* f, int order) { return !f->dep_override || f->dep_on_load || order >= kRelease; }
// Whether the next store has a data or address dependency on a load.
bool data_after_reads(const Fiber* f) { return !f->dep_override || f->dep_data; }

// What a store of `f` depends on; consumes next_store_depends_on().
uint64_t store_taint(Fiber* f, int order) {
  uint64_t t = f->ordered_taint | (f->dep_override ? f->dep_taint : f->all_taint);
  if (order >= kRelease) {  // a release orders every earlier load before it
    t |= f->all_taint;
    ordering_point(f);
  }
  f->dep_override = false;
  f->address_from = 0;  // a store's address dependency binds nothing it reads
  return t;
}

// A store of `v` to `w` keeps the promises of other CPUs for that value
// that it does not depend on.
// The write must also sit where the promised load could have read it:
// after the write its reader was bound to, before the reader's own later
// writes to the word (coherence).
void keep_promises(Fiber* f, const Word* w, uint64_t v, uint64_t taint, size_t pos) {
  // Depending on a kept promise is depending on what its store depended on.
  for (uint64_t before = 0; before != taint;) {
    before = taint;
    for (size_t i = 0; i < g->promises.size(); ++i)
      if (taint & (uint64_t{1} << i)) taint |= g->promises[i].via;
  }
  for (size_t i = 0; i < g->promises.size(); ++i) {
    auto& p = g->promises[i];
    if (p.cpu == f->id && p.w == w && !p.kept && !p.reader_wrote) p.reader_wrote = wm().time_at(w, pos);
    if (p.cpu == f->id && !p.kept && (taint & (uint64_t{1} << i))) p.dependents.emplace_back(w, wm().time_at(w, pos));
    if (!p.kept && p.w == w && p.value == v && p.cpu != f->id && !(taint & (uint64_t{1} << i)) &&
        wm().fits_between(w, pos, p.floor_time, p.reader_wrote) && !wm().precedes_fenced(p.dependents, w, pos)) {
      p.kept = true;
      p.via = taint;
      wm().bind(w, p.cpu, pos, p.dependents);
    }
  }
}

// A load; a `peek` under `weak` reads the newest write. Its value only
// picks an RMW, which reads the word again, or a wait, which waits for the
// newest write to change: a stale value could only delay the one or make
// the other fail, which the schedules already do. So it offers no stale
// choice, and it is no access that a held-back store could hide from
// (Strategy::accessed): the RMW it leads to is.
uint64_t load_as(const Word* w, uint64_t mask, int order, const std::source_location& loc, bool peek) {
  yield();
  Fiber* f = self();
  if (weak_model() && orders_later_accesses(order)) await_promises(f);
  if (weak_model() && f->rmb_promises) {  // the rmb binds it to what those loads learnt once kept
    await_promises(f, std::exchange(f->rmb_promises, 0));
    wm().read_barrier(f->id);
  }
  if (f) f->before_atomic = false;
  read_for_spin(w);
  if (!weak_model()) {
    offer_flushes(w);
    uint64_t v = view(w, mask);
    touch(w, false);
    trace(StepKind::load, loc, w, v);
    return v;
  }
  uint64_t taint = 0, v = 0;
  Reorder how = Reorder::in_order;
  f->peeked = peek ? w : nullptr;
  weak::Clock also = address_bound(f);
  weak::Msg read{};
  weak::Msg* read_out = g_track_addresses ? &read : nullptr;  // the engine's loads copy no write
  bool plain = f->plain_next;
  wm().plain_next(std::exchange(f->plain_next, false), f->address_from != 0);
  if (peek) {
    g->fp.add(w->id, false);
    v = wm().read(const_cast<Word*>(w), f->id, 0, order, read_out, &taint) & mask;
  } else if (touch(w, false); !promise(f, w, mask, order, v, taint)) {  // touch first: accessed() asks what binds the CPU
    size_t k = choose(wm().readable(w, f->id, &also), false);
    v = wm().read(const_cast<Word*>(w), f->id, k, order, read_out, &taint) & mask;
    if (k) how = Reorder::stale;
  } else {
    how = Reorder::promised;
  }
  wm().plain_next(false);  // a promised load read nothing
  loaded(f, taint, order, plain);
  learnt(f, how == Reorder::promised ? nullptr : &read, also);
  trace(StepKind::load, loc, w, v, 0, 0, how);
  return v;
}

uint64_t load(const Word* w, uint64_t mask, int order, const std::source_location& loc) {
  return load_as(w, mask, order, loc, false);
}
uint64_t peek(const Word* w, uint64_t mask, int order, const std::source_location& loc) {
  return load_as(w, mask, order, loc, true);
}

// Under `tso` a store may wait in the buffer (behind any store already
// there: it is FIFO); holding it back is a reordering the bound counts.
void store_tso(Fiber* f, Word* w, uint64_t v, int order) {
  if (order == kSeqCst) {
    drain(f);
    w->v = v;
    written(w);
    return;
  }
  if (f->buf.empty() && !hold_back(w)) {
    w->v = v;
    written(w);
    return;
  }
  f->buf.push_back({w, ~uint64_t{0}, false, Rmw::xchg, v});
}

// Under `weak` a store propagates at once, or late: at the end of the
// word's coherence order or before writes the CPU is not bound to.
uint64_t store_weak(Fiber* f, Word* w, uint64_t v, int order) {
  if (order == kSeqCst) full_barrier_weak(f);
  // Where it lands among late writes is free; holding it back is not.
  bool ordered = after_reads(f, order), data = data_after_reads(f);
  std::vector<size_t> places = wm().places(w, f->id, ordered);
  size_t before = order == kSeqCst ? 0 : places[choose(places.size(), false)];
  bool late = order != kSeqCst && (wm().holding_back(f->id) || hold_back(w));
  wm().plain_next(std::exchange(f->plain_next, false), f->address_from != 0);  // before store_taint clears it
  uint64_t taint = store_taint(f, order);
  size_t pos = wm().write(w, f->id, v, before, {late, order >= kRelease, ordered, data, nullptr, taint});
  written(w);
  keep_promises(f, w, v, taint, pos);
  if (order == kSeqCst) full_barrier_weak(f);
  return before ? Reorder::early_in_coherence : late ? Reorder::late : Reorder::in_order;
}

void store(Word* w, uint64_t mask, uint64_t v, int order, const std::source_location& loc) {
  yield();
  Fiber* f = self();
  if (weak_model() && order >= kRelease) await_promises(f);
  touch(w, true);
  wrote_for_spin();
  v &= mask;
  if (!scheduling() || g->mm == MemoryModel::sc) {
    trace(StepKind::store, loc, w, v);
    write_memory(w, v);
    return;
  }
  f->before_atomic = false;
  uint64_t how = Reorder::in_order;
  offer_flushes(w);
  if (g->mm == MemoryModel::tso) store_tso(f, w, v, order);
  else how = store_weak(f, w, v, order);
  trace(StepKind::store, loc, w, v, 0, 0, how);
}


bool fully_ordered(int order) { return order == kSeqCst || order == kAcqRel; }

// An RMW under `weak`: reads a write it may read (the newest, unless
// newer ones are late) and writes right after it in coherence order
// (atomicity), at once or late; a fully ordered one (or one after
// smp_mb__before_atomic()) has full barriers around it, an acquire one
// acquires, a release one carries everything. `next` makes the new value
// from the old; `newer` is the write to read, chosen by the caller.
// Which write an RMW reads: one it may read that no other RMW's write
// follows (a count of newer writes, 0: the newest).
size_t rmw_source(Fiber* f, const Word* w, int order) {
  weak::Clock also = address_bound(f);
  std::vector<size_t> places = wm().places(w, f->id, after_reads(f, order), &also);
  return places[choose(places.size(), false)];
}

template <class Next>
uint64_t rmw_weak(Fiber* f, Word* w, uint64_t mask, size_t newer, Next next, int order, bool returns, Reorder& how,
                  uint64_t& nv) {
  bool full = fully_ordered(order);
  if (full || f->before_atomic) {
    full_barrier_weak(f);
    f->ordered_taint |= f->all_taint;
    ordering_point(f);
  }
  f->before_atomic = false;
  wm().before_rmw(f->id, order);
  weak::Msg sequence{};
  uint64_t read_taint = 0;
  auto kind = returns ? weak::Memory::ReadKind::rmw : weak::Memory::ReadKind::rmw_noreturn;
  uint64_t old = wm().read(w, f->id, newer, order, &sequence, &read_taint, kind) & mask;
  loaded(f, read_taint, order);
  learnt(f, &sequence, address_bound(f));
  nv = next(old) & mask;
  // Not held back for being behind a held-back store, as a later store
  // is (weak::Memory::holding_back): only when the search holds it back
  // itself, at a reorder's cost. Under bound 1 that keeps the many RMWs
  // of a killer's loop (a bitmap's bits cleared one by one, a reference
  // dropped per page) from each leaving every version of its word
  // readable; x86 drains the store buffer before an RMW anyway.
  bool late = hold_back(w), ordered = after_reads(f, order), data = data_after_reads(f);
  uint64_t taint = store_taint(f, order) | read_taint;
  size_t pos = wm().write(w, f->id, nv, newer, {late, order >= kRelease, ordered, data, &sequence, taint});
  written(w);
  keep_promises(f, w, nv, taint, pos);
  if (full) full_barrier_weak(f);
  how = late ? Reorder::late : newer ? Reorder::early_in_coherence : Reorder::in_order;
  return old;
}

uint64_t rmw(Word* w, uint64_t mask, Rmw op, uint64_t arg, int order, bool returns,
             const std::source_location& loc) {
  yield();
  Fiber* f = self();
  if (f && weak_model() && (order != kRelaxed || f->before_atomic)) await_promises(f);
  touch(w, true);
  wrote_for_spin();
  if (f && scheduling() && g->mm == MemoryModel::weak) {
    Reorder how;
    uint64_t nv;
    size_t newer = rmw_source(f, w, order);
    uint64_t old =
        rmw_weak(f, w, mask, newer, [&](uint64_t v) { return apply(op, v, arg, mask); }, order, returns, how, nv);
    if (returns || !how) trace(how ? StepKind::rmw_buffered : StepKind::rmw, loc, w, old, nv, 0, how);
    else trace(StepKind::rmw_buffered_noret, loc, w, arg, static_cast<uint64_t>(op), 0, how);
    return old;
  }
  if (f && g->mm == MemoryModel::tso) drain(f);
  offer_flushes(w);
  if (f) f->before_atomic = false;
  uint64_t old = w->v & mask;
  write_memory(w, apply(op, old, arg, mask));
  trace(StepKind::rmw, loc, w, old, w->v);
  return old;
}

// A cmpxchg under `weak`: it reads a write it may read (like an RMW);
// failing, it is a relaxed read that orders nothing
// (Documentation/atomic_t.txt).
bool cas_weak(Fiber* f, Word* w, uint64_t mask, uint64_t& expected, uint64_t desired, int order,
              const std::source_location& loc) {
  size_t newer = rmw_source(f, w, order);
  uint64_t old = wm().value(w, newer) & mask;
  bool ok = old == (expected & mask);
  touch_cas(w, ok);
  if (!ok) {
    weak::Msg read{};
    wm().read(w, f->id, newer, kRelaxed, g_track_addresses ? &read : nullptr);
    learnt(f, &read, address_bound(f));
    f->before_atomic = false;
    expected = old;
    trace(StepKind::cas_fail, loc, w, old, 0, 0, newer ? Reorder::stale : Reorder::in_order);
    return false;
  }
  Reorder how;
  uint64_t nv;
  rmw_weak(f, w, mask, newer, [&](uint64_t) { return desired; }, order, true, how, nv);
  trace(StepKind::cas, loc, w, old, desired & mask, 0, how);
  return true;
}

bool cas(Word* w, uint64_t mask, uint64_t& expected, uint64_t desired, int order,
         const std::source_location& loc) {
  yield();
  Fiber* f = self();
  if (weak_model()) return cas_weak(f, w, mask, expected, desired, order, loc);
  if (f && scheduling() && g->mm == MemoryModel::tso) drain(f);
  offer_flushes(w);
  uint64_t old = w->v & mask;
  bool ok = old == (expected & mask);
  touch_cas(w, ok);
  if (f) f->before_atomic = false;
  if (!ok) {
    expected = old;
    trace(StepKind::cas_fail, loc, w, old);
    return false;
  }
  write_memory(w, desired & mask);
  trace(StepKind::cas, loc, w, old, desired & mask);
  return true;
}

// Under `weak`: what each barrier binds (weak_memory.h); smp_mb() and
// smp_mb__after_atomic() take part in the one order of full barriers, a
// word every other full barrier touches too.
void fence_weak(Fiber* f, Fence fk) {
  switch (fk) {
    case Fence::after_srcu_read_unlock:  // a full barrier as of the last srcu_read_unlock(); none without one
      if (!f->srcu_unlocked) break;
      [[fallthrough]];
    case Fence::full:
    case Fence::after_atomic:
      full_barrier_weak(f, fk == Fence::after_srcu_read_unlock ? &*f->srcu_unlocked : nullptr);
      f->ordered_taint |= f->all_taint;  // (after the unlock's: also the loads past it, more than the LKMM orders)
      ordering_point(f);
      break;
    case Fence::read:  // its next load waits for the promises unkept now (load_as)
      wm().read_barrier(f->id);
      f->rmb_taint = f->all_taint;
      f->rmb_promises = unkept_promises(f);
      break;
    case Fence::write: wm().write_barrier(f->id); break;
    case Fence::before_atomic: f->before_atomic = true; return;
  }
  f->before_atomic = false;
}

void fence(Fence fk, const std::source_location& loc) {
  yield();
  Fiber* f = self();
  if (!f) return;
  if (weak_model() && fk != Fence::write && fk != Fence::read && fk != Fence::before_atomic) await_promises(f);
  trace(StepKind::fence, loc, nullptr, 0, 0, static_cast<uint8_t>(fk));
  if (weak_model()) return fence_weak(f, fk);
  if (g->mm == MemoryModel::tso && (fk == Fence::full || fk == Fence::after_srcu_read_unlock)) drain(f);
}

// A futex wait: the kernel reads the word itself, the newest write.
void wait_while(const Word* w, uint64_t mask, uint64_t old, const std::source_location& loc) {
  touch(w, false);
  offer_flushes(w);
  uint64_t now = weak_model() ? wm().read(const_cast<Word*>(w), self()->id, 0, kRelaxed) & mask : view(w, mask);
  if (now != old) return;
  trace(StepKind::sleep, loc, w, old);
  block_until([w, mask, old] { return (w->v & mask) != old; }, {Reads::word, w});
}

// A spin loop whose CPU wrote nothing since its last spin() and read at
// most SinceSpin::kMax words would, going round again, read what it read
// and do what it did: it sleeps until one of those words is written (or,
// under `weak`, late writes propagate), not until any word is. Under
// `weak` a second look might instead pick a write that was already there
// and that the first look did not read; but the first look could have
// read it, and reading it later is what a CPU that runs later does, an
// order the search tries too. So a `weak` CPU does not spin through a
// late write's whole lifetime, one stale read at every store some other
// CPU makes.
void sleep_on_reads(Fiber* f, const SinceSpin& since, const std::source_location& loc) {
  since.touch(g->fp);  // what it waits on is all it reads
  if (since.changed(g->propagations)) {  // written while it went round: round once more
    trace(StepKind::spin, loc);
    yield();
    return;
  }
  trace(StepKind::spin_sleep, loc);
  f->sleeping_on = since;
  block_until([f] { return f->sleeping_on.changed(g->propagations); }, {Reads::spin_reads});
}

// A spin loop re-checks its condition once memory changed. After a write
// or more reads than SinceSpin keeps (a loop's first round follows
// whatever the CPU did before it) it goes round once more, and then
// sleeps on what that round read. One that writes or reads much in every
// round re-checks once after every change of memory, and spinning again
// with nothing changed sleeps until something does. A spinning CPU's own
// buffered stores drain first: hardware does not hold stores back
// forever, and the CPU it waits for may be waiting for them.
void spin(const std::source_location& loc) {
  if (!scheduling()) return;
  Fiber* f = self();
  if (g->mm == MemoryModel::weak) ordering_point(f);  // waiting on a value no one wrote yet
  drain(f);  // settles the CPU's stores, buffered or not
  SinceSpin since = f->since_spin;
  f->since_spin.reset(g->propagations);
  bool blind = since.wrote || since.overflow;
  f->blind_spins = blind ? f->blind_spins + 1 : 0;
  if (!blind) return sleep_on_reads(f, since, loc);
  if (f->blind_spins == 1) {
    trace(StepKind::spin, loc);
    yield();
    return;
  }
  touch_all();  // it waits for any store
  uint64_t e = g->epoch;
  if (f->spin_epoch != e) {
    f->spin_epoch = e;
    trace(StepKind::spin, loc);
    yield();
    return;
  }
  trace(StepKind::spin_sleep, loc);
  block_until([e] { return g->epoch != e; });
}

// A spin loop waiting for one word: a sleep until the word, as the
// spinning CPU sees it, holds something other than what it read. It reads
// only that word, so only that word's writes race with it. Under `weak`
// that needs the read to have been a peek() (the newest write): after a
// load, which may read an old write again and again, it is spin()'s wait
// for any change of memory.
void spin_while(const Word* w, uint64_t mask, uint64_t seen, const std::source_location& loc) {
  if (!scheduling()) return;
  if (g->mm == MemoryModel::weak) {
    if (self()->peeked != w) return spin(loc);
    ordering_point(self());  // waiting on a value no one wrote yet
    g->fp.add(w->id, false);  // as peek() does
  } else {
    touch(w, false);
  }
  if (view(w, mask) != seen) return;
  trace(StepKind::spin_sleep, loc, w, seen);
  block_until([w, mask, seen] { return (w->v & mask) != seen; }, {Reads::word, w});
}

// ---- RCU -------------------------------------------------------------------

void rcu_read_lock() {
  Fiber* f = self();
  if (!f) return;
  yield();
  if (f->rcu_nesting++ > 0) return;
  ++f->rcu_gen;
  touch(&rcu_state(*f, nullptr), true);
  if (weak_model()) {
    wm().rcu_read_lock(f->id);
    ordering_point(f);
  }
}

void rcu_read_unlock() {
  Fiber* f = self();
  if (!f || --f->rcu_nesting > 0) return;
  touch(&rcu_state(*f, nullptr), true);
  if (weak_model()) {
    f->rcu_end.exit = wm().rcu_read_unlock(f->id);
    f->rcu_end.promises |= unkept_promises(f);
  }
}

// A grace period of `domain` (an SRCU one; null: RCU) that waits until
// `ended()`. Under `weak` it is a full barrier and publishes what binds
// the sections that begin after it began; when it ends, the updater is
// bound to what the sections it waited for (`waited`, read once they
// ended) had seen, and no promise of a section that began before it
// (those, and the ones whose promises `began_before` holds) may be left
// unkept.
void grace_period(const void* domain, uint64_t began_before, const std::function<bool()>& ended,
                  const std::vector<const SectionEnd*>& waited) {
  bool weak = weak_model();
  if (weak) {
    touch(&g->sc_order, wm().grace_period_start(g->cur, domain));
    ordering_point(self());
  }
  block_until(ended, {Reads::rcu, nullptr, domain});
  if (!weak) return;
  std::vector<weak::Clock> exits;
  for (const SectionEnd* e : waited) {
    exits.push_back(e->exit);
    began_before |= e->promises;
  }
  grace_period_waited_for(began_before);
  touch(&g->sc_order, wm().grace_period_end(g->cur, exits));
  propagate_late_writes();
}

void synchronize_rcu(const std::source_location& loc) {
  if (!self()) return;
  yield();
  if (weak_model()) await_promises(self());
  touch_rcu();  // a grace period, and the callbacks it runs
  // Its own read-side section too: synchronize_rcu() inside one never
  // returns (herd7: DEADLOCK).
  auto readers = readers_now(true);
  uint64_t began_before = 0;
  std::vector<const SectionEnd*> waited;
  for (const auto& f : g->fibers) began_before |= f->rcu_end.promises;
  for (auto& r : readers) waited.push_back(&g->fibers[static_cast<size_t>(r.first)]->rcu_end);
  trace(StepKind::synchronize_rcu, loc, nullptr, readers.size());
  grace_period(nullptr, began_before, [readers] {
    return std::all_of(readers.begin(), readers.end(), [](auto& r) {
      Fiber& f = *g->fibers[r.first];
      return f.rcu_nesting == 0 || f.rcu_gen != r.second;
    });
  }, waited);
  run_callbacks(false);
}

// SRCU: as RCU, but per domain, and a section ends by its token, not by
// nesting: sections of one CPU may overlap without nesting, and
// srcu_up_read() may end on another CPU a section begun on this one.
uint64_t srcu_read_lock(const Word* domain) {
  Fiber* f = self();
  if (!f) fail("srcu_read_lock() outside a CPU");
  yield();
  if (weak_model()) await_promises(f);
  g->srcu.push_back({domain, f->id, true, {}});
  touch(&rcu_state(*f, domain), true);
  if (weak_model()) {
    wm().rcu_read_lock(f->id, domain);
    ordering_point(f);
  }
  return g->srcu.size();
}

bool srcu_read_unlock(const Word* domain, uint64_t token) {
  Fiber* f = self();
  if (!f) fail("srcu_read_unlock() outside a CPU");
  yield();
  touch(&rcu_state(*f, domain), true);
  if (token == 0 || token > g->srcu.size() || g->srcu[token - 1].domain != domain || !g->srcu[token - 1].open)
    return false;
  auto& section = g->srcu[token - 1];
  section.open = false;
  touch(&rcu_state(*g->fibers[static_cast<size_t>(section.cpu)], domain), true);
  if (weak_model()) {
    section.end = {wm().rcu_read_unlock(f->id), unkept_promises(f)};
    f->srcu_unlocked = wm().cpu(f->id);
  }
  return true;
}

void synchronize_srcu(const Word* domain, const std::source_location& loc) {
  if (!self()) return;
  yield();
  if (weak_model()) await_promises(self());
  touch_rcu(domain);
  std::vector<const Exec::SrcuSection*> readers;
  std::vector<const SectionEnd*> waited;
  uint64_t began_before = 0;
  for (const auto& section : g->srcu) {
    if (section.domain != domain) continue;
    if (!section.open) {
      began_before |= section.end.promises;
      continue;
    }
    readers.push_back(&section);
    waited.push_back(&section.end);
  }
  trace(StepKind::synchronize_rcu, loc, nullptr, readers.size());
  grace_period(domain, began_before, [readers] {
    return std::none_of(readers.begin(), readers.end(), [](const Exec::SrcuSection* r) { return r->open; });
  }, waited);
}

void call_rcu(std::function<void()> fn) {
  if (!g) {
    fn();
    return;
  }
  touch_rcu();
  touch(&g->rcu_queue, true);  // the order of callbacks is the order they run in
  g->callbacks.push_back({std::move(fn), readers_now(true)});
}

void rcu_barrier() {
  if (!g) return;
  if (!self()) {
    run_callbacks(true);
    return;
  }
  touch_rcu();
  block_until([] {
    return std::all_of(g->callbacks.begin(), g->callbacks.end(), [](const Deferred& cb) {
      return std::all_of(cb.readers.begin(), cb.readers.end(), [](auto& r) {
        Fiber& f = *g->fibers[r.first];
        return f.rcu_nesting == 0 || f.rcu_gen != r.second;
      });
    });
  }, {Reads::rcu});
  run_callbacks(false);
}

// ---- threads, notes, atomic sections --------------------------------------

int spawn(std::function<void()> fn) {
  if (!g) fail("model: a thread started outside an execution");
  touch_all();
  int id = new_fiber(fmt::format("thread {}", g->fibers.size()), std::move(fn))->id;
  if (weak_model()) wm().spawned(g->cur, id);
  return id;
}

int current_cpu() { return g ? g->cur : -1; }
uint64_t execution_id() { return g_executions; }

void join(int fiber) {
  touch_all();
  block_until([fiber] { return g->fibers[fiber]->done; });
  if (weak_model()) wm().joined(g->cur, fiber);
}

uint64_t new_word_id() { return g_next_word_id++; }

void set_promise_values(std::vector<uint64_t> values) { g_promise_values = std::move(values); }
uint64_t last_load_taint() { return self() ? self()->last_taint : 0; }
uint64_t last_load_bit() {
  Fiber* f = self();
  if (!f || f->load_learnt.empty() || f->load_learnt.size() > 64) return 0;
  return uint64_t{1} << (f->load_learnt.size() - 1);
}
void track_address_dependencies(bool on) { g_track_addresses = on; }
void track_data_races(bool on) { g_track_races = on; }
void next_access_plain() {
  if (Fiber* f = self()) f->plain_next = true;
}
void next_access_address_from(uint64_t loads) {
  if (Fiber* f = self()) f->address_from = loads;
}
void next_store_depends_on(uint64_t taint, bool on_a_load, bool data_on_a_load) {
  if (Fiber* f = self()) {
    f->dep_override = true;
    f->dep_taint = taint;
    f->dep_on_load = on_a_load;
    f->dep_data = data_on_a_load;
  }
}

void name_word(const void* word, std::string name) { word_names()[word] = std::move(name); }
void name_object(const void* object, std::string name) {
  object_names()[reinterpret_cast<uint64_t>(object)] = std::move(name);
}
void clear_names() {
  word_names().clear();
  object_names().clear();
}

void note(const std::string& text) {
  if (!g || g->cur < 0) return;
  g->out.trace.push_back({g->cur, StepKind::note, 0, {}, nullptr, g->out.notes.size(), 0});
  g->out.notes.push_back(text);
}

void note_lazy(const char* format, uint64_t a, uint64_t b, uint64_t c) {
  if (!g || g->cur < 0) return;
  g->out.trace.push_back({g->cur, StepKind::note_lazy, 0, {}, format, a, b, c});
}

// The oracle reads the whole world.
Atomically::Atomically() {
  touch_all();
  if (g) ++g->atomically;
}
Atomically::~Atomically() {
  if (g) --g->atomically;
}

void fail(const std::string& why) {
  if (!g || g->cur < 0) throw std::runtime_error(why);
  g->out.failure = why;
  g->aborted = true;
  g->atomically = 0;
  to_scheduler();
  if (g->unwinding) throw Dropped{};  // the execution is dropped (end_dropped_execution)
  std::abort();  // never resumed otherwise
}

Outcome run(const std::vector<std::pair<std::string, std::function<void()>>>& threads, Strategy& strategy,
            MemoryModel mm, uint64_t max_steps) {
  Exec e;
  e.mm = mm;
  e.strategy = &strategy;
  e.max_steps = max_steps;
  ++g_executions;
  if (mm == MemoryModel::weak) {
    e.wm = std::make_unique<weak::Memory>(++g_serial);
    if (g_track_races) e.wm->track_races();
  }
  catch_crashes();
  g = &e;
  struct Reset {
    ~Reset() { g = nullptr; }
  } reset;  // also when a strategy throws
  for (auto& [name, fn] : threads) new_fiber(name, fn);
  while (schedule_once()) {
  }
  if (e.out.deadlock || e.aborted) end_dropped_execution();
  bool clean = !e.aborted && !e.out.deadlock && !e.out.step_limit;
  e.out.infeasible = execution_dropped();
  if (clean) {
    for (auto& f : e.fibers) drain(f.get());
    run_callbacks(true);
  }
  g_next_word_id = 0;  // the next execution's world counts from 0 again
  // A promised load learns what orders its write only after its CPU went
  // on, so races are looked for in executions without load buffering.
  if (e.wm) e.out.data_race = e.wm->raced() && e.promises.empty();
  Outcome out = std::move(e.out);
  if (!clean) {
    // Fibers stopped mid-way hold locks and references: their world cannot
    // be torn down, nor their stacks unwound (destroying a suspended
    // boost::context::fiber would). They go where the caller puts the
    // world: kept, reachable, until the process ends.
    static auto* abandoned = new std::vector<boost::context::fiber>;  // never destroyed
    for (auto& f : e.fibers)
      if (f->ctx) abandoned->push_back(std::move(f->ctx));
    static auto* pending = new std::vector<Deferred>;  // their RCU callbacks, never run
    for (auto& cb : e.callbacks) pending->push_back(std::move(cb));
  }
  g = nullptr;
  return out;
}

// ---- strategies --------------------------------------------------------------

namespace {

// splitmix64: a seed per (seed, execution), never zero.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return (x ^ (x >> 31)) | 1;
}

struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  uint64_t below(uint64_t n) { return n ? next() % n : 0; }
  // Strategy::choose at random: a reordering one time in four, any of the
  // readable writes alike.
  size_t choice(size_t n, bool reorders) {
    if (!reorders) return below(n);
    return below(4) == 0 ? 1 + below(n - 1) : 0;
  }
};

// Uniform among runnable fibers; flushes with probability 1/4 when any.
class RandomStrategy final : public Strategy {
 public:
  explicit RandomStrategy(uint64_t seed) : seed_(seed) {}
  void begin(unsigned execution) override { rng_.s = mix(mix(seed_) + execution); }
  size_t pick(const std::vector<int>& runnable, size_t flushable, int) override {
    if (flushable && (runnable.empty() || rng_.below(4) == 0)) return runnable.size() + rng_.below(flushable);
    return rng_.below(runnable.size());
  }
  size_t choose(size_t n, bool reorders) override { return rng_.choice(n, reorders); }

 private:
  uint64_t seed_;
  Rng rng_{1};
};

// PCT (Burckhardt et al., ASPLOS 2010): random distinct priorities, the
// highest-priority runnable fiber runs; at depth-1 random steps the running
// fiber drops below all others.
class PctStrategy final : public Strategy {
 public:
  PctStrategy(uint64_t seed, unsigned depth, uint64_t k) : seed_(seed), depth_(depth), k_(k) {}
  void observe(uint64_t steps) override { k_ = std::max<uint64_t>(steps, 1); }
  void begin(unsigned execution) override {
    rng_.s = mix(mix(seed_ ^ 0x5bd1e995) + execution);
    prio_.clear();
    change_.clear();
    for (unsigned i = 1; i < depth_; ++i) change_.push_back(rng_.below(k_));
    step_ = 0;
    low_ = 0;
  }
  size_t pick(const std::vector<int>& runnable, size_t flushable, int current) override {
    ++step_;
    if (std::find(change_.begin(), change_.end(), step_) != change_.end() && current >= 0)
      prio_[current] = --low_;
    if (flushable && (runnable.empty() || rng_.below(8) == 0)) return runnable.size() + rng_.below(flushable);
    size_t best = 0;
    for (size_t i = 0; i < runnable.size(); ++i)
      if (priority(runnable[i]) > priority(runnable[best])) best = i;
    return best;
  }
  size_t choose(size_t n, bool reorders) override { return rng_.choice(n, reorders); }

 private:
  int64_t priority(int fiber) {
    auto it = prio_.find(fiber);
    if (it == prio_.end()) it = prio_.emplace(fiber, static_cast<int64_t>(1 + rng_.below(1u << 30))).first;
    return it->second;
  }
  uint64_t seed_;
  unsigned depth_;
  uint64_t k_;
  Rng rng_{1};
  std::map<int, int64_t> prio_;
  std::vector<uint64_t> change_;
  uint64_t step_ = 0;
  int64_t low_ = 0;
};

class ExhaustiveStrategy final : public Strategy {
 public:
  ExhaustiveStrategy(unsigned bound, unsigned reorder_bound, Reduction reduction, Split split)
      : bound_(bound), reorder_bound_(reorder_bound), reduce_(reduction != Reduction::none),
        dpor_(reduction == Reduction::dpor), unbounded_(bound == kUnbounded), split_(split) {}
  void begin(unsigned) override {
    // The execution's world is built next: its words count from 0, as
    // every earlier execution's did, whatever was made since the last one
    // ended (the oracle's own words after it): the reductions compare
    // words of one execution with another's by these ids.
    g_next_word_id = 0;
    ++executions_;
    depth_ = 0;
    sleep_.clear();
    redundant_ = false;
    pending_ = kNone;
    races_.begin();
    late_.begin();
  }
  bool skipping() const override { return prefix_ % split_.parts != split_.part; }
  uint64_t prefix() const override { return prefix_; }
  // The executions still to come at each decision on the path: its
  // options not yet started, each as large as the ones it ran so far were
  // on average (the running one counted at its size so far).
  double explored() const override {
    double run = static_cast<double>(executions_), left = 0;
    for (const Decision& d : path_) {
      double unstarted = static_cast<double>(d.alts.size() - d.next_alt);
      left += unstarted * (run - static_cast<double>(d.born)) / static_cast<double>(d.next_alt + 1);
    }
    return run / (run + left);
  }

  size_t pick(const std::vector<int>& runnable, size_t flushable, int current) override {
    size_t n = runnable.size() + flushable;
    if (depth_ < path_.size()) return replay(runnable, n);
    if (below_foreign_prefix()) redundant_ = true;
    if (redundant_) return default_option(runnable, current);  // nothing below needs running
    path_.push_back(decide(runnable, flushable, current));
    pending_ = depth_++;
    return path_.back().chosen;
  }

  // A choice inside a step: no CPU changes, so the sleep sets are not
  // involved; the default (0) is free, the others cost a reordering if
  // they reorder.
  size_t choose(size_t n, bool reorders) override {
    const Decision* d = inner_decision(n, reorders, true);
    return d ? d->chosen : 0;
  }

  // A store that propagates at once, its holding back queued only when
  // another CPU accesses the word (accessed()): until then the two
  // executions run alike, step for step. Not in a split's prefix, whose
  // decisions must offer all their options at once.
  size_t hold_back(uint64_t word, int cpu, uint64_t stamp) override {
    if (!reduce_ || depth_ < split_.depth) return choose(2, true);
    bool fresh = depth_ == path_.size();
    Decision* d = inner_decision(2, true, false);
    if (!d) return 0;  // redundant: no decision made
    if (fresh) d->late_unqueued = held_back(*d).reorders <= reorder_bound_;
    if (d->chosen == 0 && d->late_unqueued) late_.watch(word, cpu, stamp, depth_ - 1);
    return d->chosen;
  }

  void stores_settled(int cpu, Footprint& fp) override { late_.settled(cpu, fp); }

  void accessed(uint64_t word, int cpu, Bound bound) override {
    late_.accessed(word, cpu, bound, [this](size_t at) {
      Decision& d = path_[at];
      if (!d.late_unqueued) return;
      d.late_unqueued = false;
      d.alts.push_back({1, held_back(d)});
    });
  }

  void executed(int fiber, const Footprint& fp) override {
    size_t decision = pending_;
    if (pending_ != kNone) {
      Decision& d = path_[pending_];
      d.chosen_fp = fp;
      pending_ = kNone;
    }
    if (!reduce_) return;
    // Past the point where the execution became redundant its races were
    // all seen in the execution it is equivalent to.
    bool counted = !redundant_ && fiber >= 0;
    // A transition wakes every sleeper it conflicts with; running a
    // sleeping CPU (it was the only choice) makes the rest redundant.
    std::erase_if(sleep_, [&](const Sleeper& s) {
      if (s.fiber == fiber) redundant_ = true;
      return s.fiber == fiber || s.fp.conflicts(fp);
    });
    if (dpor_ && counted && !redundant_)
      races_.record(fiber, fp, decision,
                    [this](size_t at, uint32_t cpus, int later) { add_alternative(at, cpus, later); });
  }

  bool next() override {
    path_.resize(std::min(path_.size(), depth_));
    while (!path_.empty()) {
      Decision& d = path_.back();
      if (d.next_alt < d.alts.size()) {
        if (!d.inner && d.chosen < d.runnable.size()) d.explored.push_back({d.runnable[d.chosen], d.chosen_fp});
        d.chosen = d.alts[d.next_alt].option;
        d.cost_after = d.alts[d.next_alt].cost;
        ++d.next_alt;
        if (path_.size() <= split_.depth) ++prefix_;  // a choice inside the prefix: the next prefix
        return true;
      }
      path_.pop_back();
    }
    return false;
  }

 private:
  static constexpr size_t kNone = ~size_t{0};
  struct Cost {
    unsigned preemptions = 0, reorders = 0;
  };
  struct Sleeper {
    int fiber;
    Footprint fp;
  };
  struct Alt {
    size_t option;
    Cost cost;  // after taking it
  };
  struct Decision {
    size_t options = 0, chosen = 0, def = 0;
    bool inner = false;          // a choose(), not a pick()
    bool def_goes_on = false;    // the default is the current CPU going on
    std::vector<int> runnable;   // options below runnable.size() run these fibers
    std::vector<Sleeper> sleep;  // the sleep set on arrival
    Footprint chosen_fp;         // what the chosen option's transition touched
    // The CPUs run before the chosen one, the default first: without a
    // bound all sleep below the chosen one, under one only the default,
    // when the chosen one preempted it.
    std::vector<Sleeper> explored;
    Cost cost_before, cost_after;
    std::vector<Alt> alts;
    size_t next_alt = 0;
    uint64_t tried = 0;  // options run or queued (dpor), by bit
    uint64_t born = 0;           // the executions begun before it was made (explored())
    bool late_unqueued = false;  // hold_back(): "late" waits for a watch
  };
  // What holding back the store of hold_back()'s decision `d` costs.
  static Cost held_back(const Decision& d) {
    Cost c = d.cost_before;
    ++c.reorders;
    return c;
  }

  // The watches of hold_back(): per word, the decisions of stores to it
  // that propagated at once, and their CPUs, until another CPU accesses it
  // or the stores settle (stores_settled()).
  class LateStores {
   public:
    void begin() { ++generation_; }
    void watch(uint64_t word, int cpu, uint64_t stamp, size_t at) {
      if (word >= words_.size()) words_.resize(word + 1);
      Watches& w = words_[word];
      if (w.generation != generation_) {
        w.generation = generation_;
        w.stores.clear();
      }
      w.stores.push_back({cpu, stamp, at});
      auto c = static_cast<size_t>(cpu);
      if (c >= cpu_words_.size()) cpu_words_.resize(c + 1);
      if (cpu_words_[c].first != generation_) cpu_words_[c] = {generation_, {}};
      cpu_words_[c].second.push_back(word);
    }
    // The stores of CPU `cpu` (-1: every CPU) settled: their watches end,
    // and the settling step touches their words (it writes them in the
    // executions that held them back).
    void settled(int cpu, Footprint& fp) {
      if (cpu >= 0) return settle(static_cast<size_t>(cpu), fp);
      for (size_t c = 0; c < cpu_words_.size(); ++c) settle(c, fp);
    }
    // A CPU bound to a store's write keeps its watch: it could not read
    // around the write, held back or not, but the next CPU might.
    template <class Queue>
    void accessed(uint64_t word, int cpu, Bound bound, Queue queue) {
      if (word >= words_.size() || words_[word].generation != generation_) return;
      std::erase_if(words_[word].stores, [&](const Store& s) {
        if (s.cpu == cpu || (bound && bound(cpu, s.cpu, s.stamp))) return false;
        queue(s.at);
        return true;
      });
    }

   private:
    void settle(size_t c, Footprint& fp) {
      if (c >= cpu_words_.size() || cpu_words_[c].first != generation_) return;
      for (uint64_t word : cpu_words_[c].second) {
        Watches& w = words_[word];
        if (w.generation != generation_) continue;
        size_t before = w.stores.size();
        std::erase_if(w.stores, [c](const Store& s) { return static_cast<size_t>(s.cpu) == c; });
        if (w.stores.size() != before) fp.add(word, true);
      }
      cpu_words_[c].second.clear();
    }
    struct Store {
      int cpu;
      uint64_t stamp;  // the write's place among its CPU's writes
      size_t at;
    };
    struct Watches {
      uint64_t generation = 0;
      std::vector<Store> stores;
    };
    std::vector<Watches> words_;
    uint64_t generation_ = 0;
    std::vector<std::pair<uint64_t, std::vector<uint64_t>>> cpu_words_;  // per CPU: (generation, watched words)
  };

  // The races of one execution, found as its transitions run (the vector
  // clocks of DPOR): each transition is ordered after its CPU's previous
  // one and after every earlier transition it conflicts with. A transition
  // that conflicts with an earlier one of another CPU which nothing orders
  // before it races with it; on_race(decision, cpu) is told the decision
  // that chose the earlier one (kNone: it was the only choice) and the
  // later one's CPU, and, for the bound, the decision where the earlier
  // one's CPU was switched to.
  //
  // Of another CPU's transitions only its latest conflicting one can race:
  // its earlier ones are ordered before that one by program order, and
  // that one is either ordered before this or joined into its clock as a
  // race. So each word keeps, per CPU, its latest access and latest write,
  // and the search for races costs words times CPUs, not the execution's
  // length.
  class Races {
   public:
    // `bounded`: under a preemption bound, a race also asks for the later
    // CPU where the earlier one's was switched to (bounded POR).
    explicit Races(bool bounded) : bounded_(bounded) {}
    static constexpr int kCpus = 8;
    using Clock = std::array<uint32_t, kCpus>;
    using PerCpu = std::array<int64_t, kCpus>;  // an event's index, -1: none
    void begin() {
      events_.clear();
      last_.fill(-1);
      last_global_.fill(-1);
      count_.fill(0);
      ++generation_;
    }
    template <class OnRace>
    void record(int fiber, const Footprint& fp, size_t decision, OnRace on_race) {
      if (fiber >= kCpus) fail("exhaustive search: dpor covers at most 8 CPUs; use --reduction sleep-sets");
      auto p = static_cast<size_t>(fiber);
      auto j = static_cast<int64_t>(events_.size());
      Clock v = last_[p] < 0 ? Clock{} : events_[static_cast<size_t>(last_[p])].clock;
      PerCpu latest = conflicting(p, fp);
      raced_.clear();
      for (size_t q; (q = newest(latest)) < kCpus;) {
        auto i = static_cast<size_t>(latest[q]);
        latest[q] = -1;
        if (events_[i].seq <= v[q]) continue;  // already ordered before this one
        raced_.push_back(i);
        join(v, events_[i].clock);
      }
      v[p] = ++count_[p];
      for (size_t i : raced_) {
        const Event& e = events_[i];
        if (!bounded_) {
          on_race(e.decision, initials(i, v, p), fiber);
          continue;
        }
        on_race(e.decision, uint32_t{1} << p, fiber);
        if (size_t s = switched_to(e); s != kNone) on_race(s, uint32_t{1} << p, fiber);
      }
      last_[p] = j;
      if (fp.global) last_global_[p] = j;
      for (int k = 0; k < fp.n; ++k)
        if (Access* a = access(fp.word[k])) {
          a->any[p] = j;
          if (fp.write[k]) a->write[p] = j;
        }
      events_.push_back({fiber, v[p], decision, v});
    }

   private:
    struct Event {
      int fiber;
      uint32_t seq;  // its place among its CPU's transitions, from 1
      size_t decision;
      Clock clock;
    };
    struct Access {  // one word's latest accesses in this execution
      uint64_t generation = 0;
      PerCpu any, write;
    };
    static constexpr uint64_t kMaxWords = uint64_t{1} << 20;  // past this a word counts as global

    Access* access(uint64_t id) {
      if (id >= kMaxWords) return nullptr;
      if (id >= words_.size()) words_.resize(id + 1);
      Access& a = words_[id];
      if (a.generation != generation_) {
        a.generation = generation_;
        a.any.fill(-1);
        a.write.fill(-1);
      }
      return &a;
    }
    // Per other CPU, its latest transition that conflicts with `fp`.
    PerCpu conflicting(size_t p, const Footprint& fp) {
      bool global = fp.global;
      for (int k = 0; k < fp.n && !global; ++k) global = fp.word[k] >= kMaxWords;
      PerCpu latest = global ? last_ : last_global_;
      for (int k = 0; k < fp.n && !global; ++k) {
        const Access& a = *access(fp.word[k]);
        const PerCpu& by = fp.write[k] ? a.any : a.write;
        for (size_t q = 0; q < kCpus; ++q) latest[q] = std::max(latest[q], by[q]);
      }
      latest[p] = -1;
      return latest;
    }
    static size_t newest(const PerCpu& latest) {
      size_t best = kCpus;
      for (size_t q = 0; q < kCpus; ++q)
        if (latest[q] >= 0 && (best == kCpus || latest[q] > latest[best])) best = q;
      return best;
    }
    static void join(Clock& v, const Clock& o) {
      for (size_t q = 0; q < kCpus; ++q) v[q] = std::max(v[q], o[q]);
    }
    // Without a bound (source sets, Abdulla et al., POPL 2014): the CPUs
    // that could run first in the reversal of the race of event `i` with
    // the transition of CPU `p` whose clock is `v` — of the events after
    // `i` that do not happen after it, then that transition, those of CPUs
    // whose first one there nothing before it there happens before. Asking
    // for `p` alone, as under the bound, is not enough with plain sleep
    // sets: `p` may have to wait there for another CPU's event, and the
    // execution that would show it the older race can be asleep.
    uint32_t initials(size_t i, const Clock& v, size_t p) {
      const Event& e = events_[i];
      auto q = static_cast<size_t>(e.fiber);
      before_.clear();
      uint32_t seen = 0, found = 0;
      auto first_there = [&](size_t cpu, const Clock& clock) {
        bool first = !(seen >> cpu & 1) &&
                     std::none_of(before_.begin(), before_.end(), [&](const Event* y) {
                       return y->seq <= clock[static_cast<size_t>(y->fiber)];
                     });
        seen |= uint32_t{1} << cpu;
        return first;
      };
      for (size_t k = i + 1; k < events_.size(); ++k) {
        const Event& x = events_[k];
        if (e.seq <= x.clock[q]) continue;  // happens after it
        if (first_there(static_cast<size_t>(x.fiber), x.clock)) found |= uint32_t{1} << x.fiber;
        before_.push_back(&x);
      }
      if (first_there(p, v)) found |= uint32_t{1} << p;
      return found;
    }
    // The decision that switched to `e`'s CPU for the run of its
    // transitions that `e` is in, if that is before `e` (kNone otherwise).
    size_t switched_to(const Event& e) const {
      size_t i = static_cast<size_t>(&e - events_.data());
      size_t first = i;
      while (first > 0 && events_[first - 1].fiber == e.fiber) --first;
      return first == i ? kNone : events_[first].decision;
    }
    bool bounded_;
    std::vector<size_t> raced_;              // record()'s, kept for their storage
    std::vector<const Event*> before_;  // initials()'s
    std::vector<Event> events_;
    std::vector<Access> words_;
    uint64_t generation_ = 0;
    PerCpu last_{}, last_global_{};  // per CPU: its latest transition, its latest global one
    Clock count_{};
  };

  // choose()'s decision, replayed or new (its default chosen), or null
  // where the execution is redundant and none is made; `offer`: queue the
  // other options now (hold_back() queues its own later).
  Decision* inner_decision(size_t n, bool reorders, bool offer) {
    if (depth_ < path_.size()) {
      Decision& d = path_[depth_++];
      if (d.options != n || !d.inner) fail("exhaustive search: the world is not deterministic (a choice changed)");
      return &d;
    }
    if (below_foreign_prefix()) redundant_ = true;
    if (redundant_) return nullptr;
    Decision d;
    d.born = executions_ - 1;
    d.inner = true;
    d.options = n;
    d.cost_before = d.cost_after = path_.empty() ? Cost{} : path_.back().cost_after;
    Cost c = d.cost_before;
    if (reorders) ++c.reorders;
    if (offer && c.reorders <= reorder_bound_)
      for (size_t opt = 1; opt < n; ++opt) d.alts.push_back({opt, c});
    path_.push_back(std::move(d));
    ++depth_;
    return &path_.back();
  }

  // A new decision past the prefix of an execution in another part.
  bool below_foreign_prefix() const { return path_.size() >= split_.depth && skipping(); }

  bool asleep(const std::vector<Sleeper>& set, int fiber) const {
    return std::any_of(set.begin(), set.end(), [&](const Sleeper& s) { return s.fiber == fiber; });
  }
  bool asleep(int fiber) const { return asleep(sleep_, fiber); }

  // The CPU that ran last goes on if it can; else the first one awake (any
  // choice is free then); with no CPU runnable, the first flush (the others
  // are alternatives at no cost: some store must go).
  size_t default_option(const std::vector<int>& runnable, int current) const {
    auto it = std::find(runnable.begin(), runnable.end(), current);
    if (it != runnable.end()) return static_cast<size_t>(it - runnable.begin());
    for (size_t i = 0; i < runnable.size(); ++i)
      if (!asleep(runnable[i])) return i;
    return 0;
  }

  // On the prefix this execution replays: the recorded choice, and the
  // sleep set as it was there (plus the default's transition, when the
  // choice preempted it).
  size_t replay(const std::vector<int>& runnable, size_t n) {
    Decision& d = path_[depth_];
    if (d.options != n || d.inner) fail("exhaustive search: the world is not deterministic (a choice changed)");
    pending_ = depth_++;
    if (reduce_) {
      sleep_ = d.sleep;
      if (unbounded_) sleep_.insert(sleep_.end(), d.explored.begin(), d.explored.end());
      else if (d.chosen != d.def && d.def_goes_on && d.chosen < d.runnable.size()) sleep_.push_back(d.explored.front());
      if (d.chosen < runnable.size() && asleep(runnable[d.chosen])) redundant_ = true;
    }
    return d.chosen;
  }

  // Queues option `opt` of pick decision `d` unless it was tried, runs a
  // CPU asleep there, or costs more preemptions than the bound allows.
  void queue(Decision& d, size_t opt) {
    if (opt >= 64 || (d.tried >> opt & 1)) return;
    d.tried |= uint64_t{1} << opt;
    bool flush = opt >= d.runnable.size();
    if (!flush && asleep(d.sleep, d.runnable[opt])) return;
    Cost c = d.cost_before;
    if (!flush && d.def_goes_on) ++c.preemptions;
    if (c.preemptions <= bound_) d.alts.push_back({opt, c});
  }

  // DPOR: a race says one of `cpus` (a mask) should also run first at
  // decision `at`: none if one was tried or sleeps there; else `later`,
  // the CPU of the race's later transition, if it is one of them and
  // could run there, or the first of them that could. If none could, they
  // were blocked there, and the race's earlier transition is what woke
  // them (a wake-up reads what its wait reads, so another waker would
  // happen before it and take its place among the source set): without a
  // bound there is nothing to reverse; under one every CPU that could run
  // is tried, as Flanagan and Godefroid do.
  void add_alternative(size_t at, uint32_t cpus, int later) {
    if (at == kNone) return;  // the only choice: no other CPU could run
    Decision& d = path_[at];
    size_t pick = kNone;
    for (size_t opt = 0; opt < d.runnable.size() && opt < 64; ++opt) {
      int cpu = d.runnable[opt];
      if (!(cpus >> cpu & 1)) continue;
      if ((d.tried >> opt & 1) || asleep(d.sleep, cpu)) return;
      if (pick == kNone || cpu == later) pick = opt;
    }
    if (pick != kNone) return queue(d, pick);
    if (unbounded_) return;  // they are all blocked there: the race's earlier step woke them (no reversal)
    for (size_t opt = 0; opt < d.runnable.size(); ++opt) queue(d, opt);
  }

  // A new decision: the default first. Flushes are alternatives at once
  // (which buffered store reaches memory when is free: holding it back was
  // the reordering); other CPUs too without dpor, and under dpor when a
  // race asks for them.
  Decision decide(const std::vector<int>& runnable, size_t flushable, int current) {
    Decision d;
    d.born = executions_ - 1;
    d.options = runnable.size() + flushable;
    d.runnable = runnable;
    d.cost_before = path_.empty() ? Cost{} : path_.back().cost_after;
    d.cost_after = d.cost_before;
    d.def_goes_on = std::find(runnable.begin(), runnable.end(), current) != runnable.end();
    d.def = d.chosen = default_option(runnable, current);
    d.tried = uint64_t{1} << d.def;
    if (reduce_) d.sleep = sleep_;
    if (!runnable.empty() && asleep(runnable[d.def])) redundant_ = true;  // every CPU asleep
    bool in_prefix = path_.size() < split_.depth;  // every option tried: the parts' subtrees are independent
    for (size_t opt = dpor_ && !in_prefix ? runnable.size() : 0; opt < d.options; ++opt) queue(d, opt);
    return d;
  }

  unsigned bound_, reorder_bound_;
  bool reduce_, dpor_;
  bool unbounded_;  // no preemption bound: a decision's explored options sleep in the later ones (plain sleep sets)
  std::vector<Decision> path_;
  size_t depth_ = 0;
  std::vector<Sleeper> sleep_;  // transitions that need not run here
  bool redundant_ = false;      // every execution from here on is equivalent to one already run
  size_t pending_ = kNone;      // the decision whose chosen step runs next
  Races races_{!unbounded_};
  LateStores late_;
  Split split_;
  uint64_t prefix_ = 0;  // the number of the prefix the current execution is in
  uint64_t executions_ = 0;  // begun so far
};

class ReplayStrategy final : public Strategy {
 public:
  explicit ReplayStrategy(std::string s) : s_(std::move(s)) {}
  void begin(unsigned) override {
    pos_ = 0;
    misfit_.clear();
  }
  size_t pick(const std::vector<int>& runnable, size_t flushable, int) override {
    return next_choice(runnable.size() + flushable);
  }
  size_t choose(size_t n, bool) override { return next_choice(n); }
  std::string misfit() const override {
    if (!misfit_.empty() || pos_ >= s_.size()) return misfit_;
    return fmt::format("the schedule has {} choice(s) left over after the execution ended", s_.size() - pos_);
  }

 private:
  // Every choice with more than one option is recorded, in order; past
  // the schedule's end, the first option.
  size_t next_choice(size_t options) {
    if (pos_ >= s_.size()) return 0;
    char c = s_[pos_++];
    size_t v = c >= '0' && c <= '9' ? static_cast<size_t>(c - '0') : static_cast<size_t>(c - 'a' + 10);
    if (v < options) return v;
    if (misfit_.empty())
      misfit_ = fmt::format("choice '{}' at position {} is past the {} option(s) there", c, pos_ - 1, options);
    return 0;
  }
  std::string s_;
  size_t pos_ = 0;
  std::string misfit_;
};

}  // namespace

std::unique_ptr<Strategy> make_random_strategy(uint64_t seed) { return std::make_unique<RandomStrategy>(seed); }
std::unique_ptr<Strategy> make_pct_strategy(uint64_t seed, unsigned depth, uint64_t expected_steps) {
  return std::make_unique<PctStrategy>(seed, depth, expected_steps);
}
const char* reduction_name(Reduction r) {
  switch (r) {
    case Reduction::none: return "none";
    case Reduction::sleep_sets: return "sleep-sets";
    case Reduction::dpor: return "dpor";
  }
  return "?";
}
std::unique_ptr<Strategy> make_exhaustive_strategy(unsigned bound, unsigned reorder_bound, Reduction reduction,
                                                   Split split) {
  if (split.parts == 0 || split.part >= split.parts)
    throw std::invalid_argument(fmt::format("exhaustive search: part {} of {}", split.part, split.parts));
  return std::make_unique<ExhaustiveStrategy>(bound, reorder_bound, reduction, split);
}
std::unique_ptr<Strategy> make_replay_strategy(const std::string& schedule) {
  return std::make_unique<ReplayStrategy>(schedule);
}

}  // namespace faultline::sync::model
