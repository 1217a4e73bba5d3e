// src/sync/model/model.h — the model backend's scheduler and memory.
//
// Owns: executions of a small world as fibers (one per simulated CPU),
// every synchronization operation of the engine a scheduling point, the
// memory models (sc, tso, weak), blocking (a fiber waiting for a lock, a
// futex word or a grace period is not runnable), RCU, and the trace of an
// execution. The engine reaches it only through src/sync/: the Atomic<T>
// of sync/model/atomic.h, the barriers, cpu_relax, RCU and Thread.
//
// Memory: every atomic word is held as a 64-bit value, `Word::v`, which is
// always the newest write in the word's coherence order: what the oracle
// and code outside an execution read. Under `sc` each operation reads and
// writes memory at once. Under `tso` (x86) a store may wait in its CPU's
// FIFO store buffer; the CPU's own loads see it; locked RMWs, full barriers
// and sleeping drain the buffer, and the scheduler flushes the oldest entry
// at chosen points. Under `weak` (the Linux-kernel memory model,
// tools/memory-model) a load may read any write to its word that the CPU
// is not yet bound to have seen, and a store may propagate late; what
// binds a CPU is coherence, the happens-before that barriers,
// acquire/release and RMWs give, and propagation (sync/model/weak_memory.h
// says which primitive gives what). The models nest: a store goes to memory
// at once unless the scheduler chooses to hold it back, and that choice is
// what the exhaustive search's reorder bound counts, so every execution of
// `sc` is one of `tso` and of `weak` at the same bounds.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <source_location>
#include <string>
#include <vector>

namespace faultline::sync::model {

enum class MemoryModel { sc, tso, weak };
const char* memory_model_name(MemoryModel m);

enum class Rmw { xchg, add, sub, or_, and_ };
// The value an RMW writes over `old` (within `mask`, the word's width).
uint64_t apply(Rmw op, uint64_t old, uint64_t arg, uint64_t mask);
// after_srcu_read_unlock: smp_mb__after_srcu_read_unlock(), a full
// barrier for what preceded the CPU's last srcu_read_unlock() (nothing
// without one) against what follows it.
enum class Fence { full, read, write, before_atomic, after_atomic, after_srcu_read_unlock };

uint64_t new_word_id();

// A shared word: its value and an identity that is the same in every
// execution of a search. Each execution builds a new world, at addresses of
// its own, while the search compares what a transition touched in one
// execution with what others touch in the next (sleep sets), so words are
// told apart by the order they were made in: ids count from 0 again after
// every run(), and the world of an execution is built in the same order up
// to the point where two executions part. (A word made after that point
// can share its id with a different word of the other execution; that only
// makes two transitions look dependent when they are not.)
namespace weak {
struct History;
}
struct Word {
  explicit Word(uint64_t value = 0) : v(value), id(new_word_id()) {}
  uint64_t v;
  uint64_t id;
  // The weak model's writes to this word in the current execution (valid
  // while `serial` is that execution's): see weak_memory.h.
  weak::History* hist = nullptr;
  uint32_t serial = 0;
  // When it was last written, in a count of the checker's writes that
  // never restarts: a spin loop sleeps until a word it read is written
  // again (model.cc: spin()).
  uint64_t written = 0;
};

// Memory operations on a model word (`mask` is the word's width). Outside a
// running execution they act directly, without scheduling.
uint64_t load(const Word* w, uint64_t mask, int order, const std::source_location& loc);
// A load whose value only decides which RMW to try next, or what to wait
// on (Atomic::peek): under `weak` it reads the newest write, with no stale
// choice and no part in the hold-back of others' stores; elsewhere load().
uint64_t peek(const Word* w, uint64_t mask, int order, const std::source_location& loc);
void store(Word* w, uint64_t mask, uint64_t v, int order, const std::source_location& loc);
uint64_t rmw(Word* w, uint64_t mask, Rmw op, uint64_t arg, int order, bool returns,
             const std::source_location& loc);
bool cas(Word* w, uint64_t mask, uint64_t& expected, uint64_t desired, int order,
         const std::source_location& loc);
void fence(Fence f, const std::source_location& loc);
// Sleeps until *w (as seen in memory) differs from `old` (a futex wait).
void wait_while(const Word* w, uint64_t mask, uint64_t old, const std::source_location& loc);
// cpu_relax in a spin loop: sleeps until a word the CPU read since its
// last spin is written (or, under `weak`, late writes propagate); after a
// write, or more reads than it keeps, goes round once more, and then
// until some other fiber stores anything.
void spin(const std::source_location& loc);
// cpu_relax in a spin loop that read `seen` from `w` (Atomic::relax_while):
// sleeps until *w differs, so only w's writes wake it; under `weak` only
// after a peek() of `w`, and after a load as spin() (a load may read the
// old write again).
void spin_while(const Word* w, uint64_t mask, uint64_t seen, const std::source_location& loc);

// RCU.
void rcu_read_lock();
void rcu_read_unlock();
void synchronize_rcu(const std::source_location& loc);
void call_rcu(std::function<void()> fn);
void rcu_barrier();
// SRCU, for the litmus interpreter: a read-side section of the domain
// whose srcu_struct is `domain`, named by the token srcu_read_lock()
// returns; srcu_read_unlock() ends the section of that token (on any CPU,
// in any order; false, ending nothing, if it is no open section of
// `domain`), and a grace period waits only for its domain's sections.
uint64_t srcu_read_lock(const Word* domain);
bool srcu_read_unlock(const Word* domain, uint64_t token);
void synchronize_srcu(const Word* domain, const std::source_location& loc);

// Threads: a new fiber of the running execution, and waiting for one.
int spawn(std::function<void()> fn);
// The running fiber's index in its execution (-1 outside one), and a
// number that differs for every execution run (per-CPU data: cpu_local.h).
int current_cpu();
uint64_t execution_id();
void join(int fiber);

// Load buffering under `weak` (a store seen by a load that precedes it in
// its own CPU): with promises on, a load may return one of `values` that no
// write has made yet, a reordering the bound counts; the execution stands
// only if another CPU then stores that value to the word, and that store
// does not depend on the load (else it is out of thin air). A store
// depends on every earlier load of its CPU unless told otherwise
// (next_store_depends_on), on every load ordered before it (an acquire, a
// full barrier, a release's earlier loads), and on what the loads it
// depends on depended on. Off (empty) by default: the engine's values are
// addresses of its own execution; the litmus tests turn it on.
void set_promise_values(std::vector<uint64_t> values);
// What the last load of the running CPU depended on (a mask of promises).
uint64_t last_load_taint();
// The next store or RMW of the running CPU depends on these loads only
// (their masks, or-ed), besides what orders it; `on_a_load`: on some
// earlier load at all (a data, address or control dependency), which
// orders it after what that load's write was fenced after (propagation:
// weak_memory.h); `data_on_a_load`: through data or an address, not only
// control (its CPU's later read of the store is then ordered after that
// load: the LKMM's dep ; rfi). Without the call a store depends on every
// earlier load, through data.
void next_store_depends_on(uint64_t taint, bool on_a_load, bool data_on_a_load);
// Address dependencies under `weak`: the last load of the running CPU as a
// bit (its count of earlier loads, RMWs and failed cmpxchgs included; 0
// past the 64th, and under other models), and the loads (such bits, or-ed)
// the address of its next load or RMW came from: that access is bound to
// what they learnt, as the LKMM's addr in ppo orders it after them, and
// passes it on to the accesses whose address it gives in turn.
// Off by default (the engine's code states no dependencies):
// track_address_dependencies(true) turns it on for the searches that follow.
uint64_t last_load_bit();
void next_access_address_from(uint64_t loads);
void track_address_dependencies(bool on);
// The LKMM's data-race flag under `weak` (weak_memory.h: RaceClocks): with
// tracking on, each execution's Outcome::data_race says whether two
// accesses to a word from different CPUs, one a write and one plain, were
// not ordered. next_access_plain() makes the running CPU's next load or
// store a plain one (a C access the compiler may transform, not
// READ_ONCE/WRITE_ONCE). Off by default: the engine's own accesses are
// TSan's.
void track_data_races(bool on);
void next_access_plain();

// Names an atomic word (its address) for traces; clear_names() forgets all.
void name_word(const void* word, std::string name);
// Names an object for traces: a value equal to its address (a pointer
// loaded or stored) is shown as "&name", not as the address.
void name_object(const void* object, std::string name);
void clear_names();
// A note in the trace, attributed to the current fiber (the checker's
// oracle and scenarios use it to mark killer returns and accesses).
void note(const std::string& text);
// The same, formatted only if the trace is printed: `format` (a string
// literal, fmt's syntax) with up to three numbers. Costs one step record.
void note_lazy(const char* format, uint64_t a, uint64_t b = 0, uint64_t c = 0);
// While held, the current fiber runs alone and unpreempted, and its
// operations are not traced (the oracle inspects the world).
class Atomically {
 public:
  Atomically();
  ~Atomically();
  Atomically(const Atomically&) = delete;
  Atomically& operator=(const Atomically&) = delete;
};

// ---- running executions (the checker) ----------------------------------

// What one transition touched: a fiber's run from one scheduling point to
// the next (its synchronization operation and the plain code after it), or
// one flush of a store buffer. The exhaustive search's reductions treat
// two transitions as independent when neither is `global` and they share
// no word that either writes. A wake-up reads what its wait read: a futex
// wait's or spin_while's word, or RCU's state (each CPU's read-side state
// and the callback queue, which RCU's calls touch too). Under `weak` a
// full barrier touches a word that stands for the barriers' single order
// (written only by a barrier that publishes something new), and a step
// that checks a promise reads the promised word. Global: whatever may
// touch more than it can name: a spin() and its wake-up, spawning and
// joining, the oracle's Atomically sections, flushes chosen by the
// scheduler, a grace period under `weak` while some write is late (its end
// propagates them all), and footprints of more than kMax words.
struct Footprint {
  static constexpr int kMax = 16;
  uint64_t word[kMax];  // Word ids
  bool write[kMax];
  int n = 0;
  bool global = false;
  void add(uint64_t id, bool wr);
  bool conflicts(const Footprint& o) const;
};

// One step of an execution, as recorded (cheaply) while it runs;
// describe() turns the steps into text.
enum class StepKind : uint8_t {
  load, store, rmw, rmw_buffered, rmw_buffered_noret, cas, cas_fail, fence, sleep, spin, spin_sleep,
  synchronize_rcu, flush, note, note_lazy
};
// Step::b of a load or store under `weak`: how the model reordered it.
enum Reorder : uint64_t { in_order = 0, stale = 1, late = 2, early_in_coherence = 3, promised = 4 };
struct Step {
  int fiber;  // -1: the scheduler flushed a store buffer entry of fiber `a`
  StepKind kind;
  uint8_t fence;  // StepKind::fence: a Fence
  std::source_location loc;
  const void* word;
  uint64_t a, b;  // the values (note: the index into Outcome::notes; weak load/store: a Reorder in c)
  uint64_t c = 0;
};
struct StepText {
  int fiber;
  std::string where;  // function [file:line]; empty for a note or a flush
  std::string what;   // the operation and its value
  bool unnamed_load;  // a load of a word with no name (a page-table or xarray walk)
  std::string word;   // the name of the word it touched, if any
  bool writes;        // a store, an RMW or a cmpxchg that succeeded
  bool sleeps;        // a futex wait
};

// How the scheduler decides. pick() chooses among `n` options: options
// [0, fibers) run that runnable fiber (fiber ids in `ids`), the rest flush a
// buffered store of fiber ids[i]. A strategy may record and replay choices.
class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual void begin(unsigned execution) = 0;
  // The length of the execution that just ended (PCT sizes its change
  // points from it).
  virtual void observe(uint64_t steps) { (void)steps; }
  // Prepares the next execution; false when a systematic strategy has run
  // every execution it covers.
  virtual bool next() { return true; }
  virtual size_t pick(const std::vector<int>& runnable, size_t flushable, int current) = 0;
  // A replayed schedule that did not fit the execution just run: why (a
  // choice past the options there, or choices left over); empty if it fit.
  virtual std::string misfit() const { return {}; }
  // A choice inside a CPU's step among `n` > 1 ways the memory model
  // allows: 0 is what `sc` would do (a load reads the newest write, a
  // store reaches memory at once); `reorders` says whether the others
  // reorder memory (holding a store back: the reorder bound counts them)
  // or only pick among writes a reordering already left readable.
  virtual size_t choose(size_t n, bool reorders) = 0;
  // Whether CPU `cpu`'s store to the word with id `word`, its `stamp`-th
  // write, is held back (1: under `tso` into its empty store buffer, under
  // `weak` (an RMW's write too) to propagate late) or reaches memory at
  // once (0): a reordering, like choose(2, true). Until another CPU that
  // could read an older value accesses the word (accessed()) no one can
  // tell the two apart, so a systematic strategy may run "at once" and
  // queue "held back" only when that happens.
  virtual size_t hold_back(uint64_t word, int cpu, uint64_t stamp) {
    (void)word;
    (void)cpu;
    (void)stamp;
    return choose(2, true);
  }
  // Whether CPU `reader` is bound to have seen CPU `writer`'s `stamp`-th
  // write (under `weak`, through happens-before: held back or not, it
  // cannot read what came before it).
  using Bound = bool (*)(int reader, int writer, uint64_t stamp);
  // Under `tso` and `weak`: CPU `cpu` loads, stores, RMWs or futex-waits
  // on `word`; `bound` (null under `tso`: none is) tells which earlier
  // stores it cannot miss.
  virtual void accessed(uint64_t word, int cpu, Bound bound) {
    (void)word;
    (void)cpu;
    (void)bound;
  }
  // The stores of CPU `cpu` so far (-1: of every CPU) can no longer be
  // told held back or not, whoever accesses their words next: under `tso`
  // the CPU drained its store buffer in the running step, under `weak`
  // every late write propagated (no CPU could run, or a grace period
  // ended). A store that went to memory at once would have got there by
  // now if held back. A strategy that drops such a store's watch adds its
  // word to the running step's footprint `fp` (the step writes it, in the
  // executions that held it back), or DPOR would commute other CPUs'
  // accesses to the word across the step and lose the executions where
  // they came first (ExhaustiveSearch.ReductionsKeepEveryOutcomeWithinTheBound
  // fails without it).
  virtual void stores_settled(int cpu, Footprint& fp) {
    (void)cpu;
    (void)fp;
  }
  // After every step, chosen or forced: which fiber ran (-1: a flush) and
  // what its transition touched.
  virtual void executed(int fiber, const Footprint& fp) {
    (void)fiber;
    (void)fp;
  }
  // An exhaustive search split into parts (Split): whether the execution
  // that just ran belongs to another part (it ran only to find where the
  // next prefix begins: count nothing of it), and which prefix of the
  // schedule space it is in.
  virtual bool skipping() const { return false; }
  virtual uint64_t prefix() const { return 0; }
  // A systematic strategy, between executions: an estimate of the share
  // of its search done (0 to 1), from where the search stands in its tree,
  // each choice's options taking equal shares of it. Options found later
  // (a race DPOR sees) can make it fall back. -1: not a systematic search.
  virtual double explored() const { return -1; }
};

struct Outcome {
  bool deadlock = false;
  bool step_limit = false;
  std::string failure;              // set by fail() from inside the world
  std::vector<Step> trace;
  std::vector<std::string> notes;   // the text of StepKind::note steps
  std::vector<std::string> names;   // fiber names, by id
  std::string schedule;             // the choices made, replayable
  uint64_t steps = 0;
  bool infeasible = false;          // a promise (see set_promise_values) was never kept
  bool data_race = false;           // under `weak` with track_data_races: two accesses raced (no promise made)
};

// Runs one execution: `threads` become fibers 0..n-1 with the given names.
Outcome run(const std::vector<std::pair<std::string, std::function<void()>>>& threads, Strategy& strategy,
            MemoryModel mm, uint64_t max_steps);
// Ends the current execution with a failure (from the oracle).
[[noreturn]] void fail(const std::string& why);
// The trace as text, words named by name_word(): call it while the names
// of the outcome's world are registered.
std::vector<StepText> describe(const Outcome& o);

// Strategies.
std::unique_ptr<Strategy> make_random_strategy(uint64_t seed);
std::unique_ptr<Strategy> make_pct_strategy(uint64_t seed, unsigned depth, uint64_t expected_steps);
// Bounded exhaustive search (iterative context bounding, Musuvathi and
// Qadeer, PLDI 2007): depth-first over every execution with at most `bound`
// preemptions (switching away from a CPU that could go on) and at most
// `reorder_bound` stores held back (choose() with `reorders`: a store kept
// in a TSO store buffer, or propagating late under `weak`). At 0 the search
// covers exactly the `sc` executions; which write a load reads among those
// a held-back store left readable, and when a buffered store reaches
// memory, are free choices.
//
// The reductions prune executions equivalent to ones already run (the same
// transitions, independent ones swapped; see Footprint):
//
// - `sleep_sets` (Godefroid 1996): after a preemption, the preempted CPU's
//   next transition sleeps until some CPU does a transition that conflicts
//   with it, and the search does not switch to a sleeping CPU. Only the
//   preempted CPU's own transition is put to sleep, never the other
//   alternatives': moving it back to where it was preempted never adds a
//   preemption, so every execution within the bound is either run or
//   equivalent to one that was run within the bound (plain sleep sets lose
//   that under a bound: Coons, Musuvathi and McKinley, OOPSLA 2013).
// - `dpor`, the default: the sleep sets, and a decision's other CPUs are
//   tried only where the execution shows a reason to (dynamic partial-order
//   reduction, Flanagan and Godefroid, POPL 2005): two conflicting
//   transitions of different CPUs that no third transition orders (a race,
//   by vector clocks over the conflicts) make the later one's CPU an
//   alternative where the earlier one was chosen, or every CPU when the
//   later one's could not run there. Under the bound an alternative may
//   cost a preemption it cannot pay, so each is also added where the
//   earlier transition's CPU was last switched to (bounded POR, Coons et
//   al.), where running another CPU costs what running it did. Flushes and
//   the memory model's choices inside a step are all tried, as before.
//
// A split search: the first `depth` decisions of every execution try every
// option the bounds allow (whatever the reduction), so the schedule space
// falls into prefixes — the choices made there — numbered in the order
// the depth-first search meets them, whose subtrees are searched
// independently. Part `part` of `parts` searches the prefixes whose number
// is `part` modulo `parts`; an execution that meets another part's prefix
// runs without branching below it and is skipped (Strategy::skipping).
// The parts' executions add up to those of the one search with the same
// depth and one part.
enum class Reduction { none, sleep_sets, dpor };
// A preemption bound of kUnbounded bounds nothing, and the reductions are
// then the unbounded ones: Godefroid's sleep sets (every option a decision
// ran before sleeps in the later ones, sound only without a bound), and
// DPOR asking for a CPU of each race's source set (Abdulla et al., POPL
// 2014) rather than the later CPU, and nothing for a race whose source
// CPUs were all blocked where it began (its earlier step woke them).
constexpr unsigned kUnbounded = ~0u;
const char* reduction_name(Reduction r);
struct Split {
  unsigned depth = 0;
  unsigned part = 0, parts = 1;
};
std::unique_ptr<Strategy> make_exhaustive_strategy(unsigned bound, unsigned reorder_bound,
                                                   Reduction reduction = Reduction::dpor, Split split = {});
// Replays a schedule string printed by a previous execution.
std::unique_ptr<Strategy> make_replay_strategy(const std::string& schedule);

}  // namespace faultline::sync::model
