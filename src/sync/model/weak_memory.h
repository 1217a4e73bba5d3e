// src/sync/model/weak_memory.h — the `weak` memory model: the Linux-kernel
// memory model (tools/memory-model) as views over each word's writes.
//
// Owns: every word's coherence order of writes within one execution
// (History), what each simulated CPU is bound to have seen (Cpu's clocks),
// and the rule of each primitive. Guarded by nothing: the checker runs all
// CPUs as fibers of one OS thread, and only model.cc calls in, from the
// running fiber.
//
// The model. Each word keeps its writes in coherence order. A load may read
// any write of that order from the oldest one its CPU is not bound to have
// seen on: a CPU is bound to a write it read or wrote before (coherence), to
// a write that propagation (the LKMM's prop: cumul-fence* ; rfe?) brought
// to it before an ordering point of its own (a vector clock over CPUs'
// write counts), and to every write that has propagated to all CPUs. A
// store goes to the end of the order and propagates at once, unless the
// scheduler holds it back (Strategy::choose, counted by the reorder bound):
// then it propagates late, and may even land before writes that other CPUs
// made after it (2+2W). Everything late propagates when no CPU could run
// otherwise: hardware does not keep a store from a CPU that waits for it.
//
// A write carries what fences and releases ordered before it (Msg::fenced,
// the LKMM's cumul-fence*): its CPU's own writes before an smp_wmb() or a
// full barrier; with a full barrier or a release, the writes it had read
// and what those were fenced after too (A-cumulativity); after a lock
// taken from another CPU's unlock, what that unlock was fenced after
// (po-unlock-lock-po). A CPU that reads the write learns that set and the
// write itself; an ordering point binds it to what it learnt before:
//   - READ_ONCE (relaxed): coherence only; what it learnt waits for a
//     later smp_rmb(), smp_mb(), or an acquire.
//   - smp_load_acquire, rcu_dereference (consume is taken as acquire: the
//     engine's reads after one depend on it): what the write read was
//     fenced after, and that write. Not what merely happened before it:
//     an acquire chain without a release or fence is not cumulative
//     (WRC+poacquireonce+poacquireacquire is allowed; the LKMM is not
//     multicopy-atomic).
//   - WRITE_ONCE: fenced after what its CPU's earlier fences put before
//     its later writes; store->store reordering otherwise.
//   - smp_store_release: fenced after everything its CPU wrote or learnt
//     before it (release is A-cumulative).
//   - smp_wmb(): orders the CPU's earlier stores before its later ones;
//     nothing it only read (not cumulative); no load.
//   - smp_rmb(): binds the CPU to what every earlier read learnt but the
//     reads of RMWs returning nothing (R4rmb).
//   - smp_mb() (and a fully ordered RMW, smp_mb__{before,after}_atomic
//     around one, sleeping, a grace period): smp_rmb() and smp_wmb() in
//     one, A-cumulative, and a place in a single global order of full
//     barriers, each bound to what propagation had brought to the ones
//     before it (the LKMM's pb: SB+mb is forbidden). What a full barrier
//     binds its CPU to, it also binds every event that happens after it
//     (pb's strong-fence ; hb*): a write carries it (Msg::strong), and an
//     ordering point that reads the write binds its CPU to it
//     (ISA2+fencembonceonce+poacquireonce+poacquireonce is forbidden).
//   - spin_unlock() then spin_lock() on one CPU (a release store, then an
//     acquire RMW): orders everything before against everything after, as
//     po-unlock-lock-po does, even for different locks.
//   - A relaxed RMW reads the newest write (atomicity) and orders nothing
//     else; its write may propagate late like a store, and is fenced after
//     what the write it read was (the LKMM's rmw-sequence: an acquire that
//     reads a relaxed RMW's write after an unlock orders as if it read the
//     unlock). A failed cmpxchg is a relaxed read.
//   - A store or RMW ordered after its CPU's earlier loads lands in
//     coherence after every write that the writes those loads read were
//     fenced after (S+mb+ctrl is forbidden, WWC with only dependencies is
//     not).
//   - RCU: a read-side section that starts after a grace period started is
//     bound to what happened before the updater's grace period (a view:
//     each write also carries the writes that happen before it, the
//     vector clock of what its CPU had read and been bound to); the
//     updater, when the grace period ends, to what the readers it waited
//     for had seen.
// Load buffering (a store seen by a load that precedes it in its own CPU)
// is model.cc's: with promises on, a load may return a value that another
// CPU's later store, not depending on the load, must then write. A store
// depends on every earlier load of its CPU unless the program says
// otherwise, which only the litmus interpreter does (it knows each
// store's data, address and control dependencies); the engine's code,
// whose stores follow its loads through control dependencies, runs with
// every store depending on every earlier load and without promises (its
// values are addresses of its own execution). So for the engine a store
// never overtakes an earlier load of its CPU: sound for code with those
// dependencies, blind to what the LKMM allows without them (LB, and WRC
// with smp_wmb() in the middle CPU). And since a clock holds a prefix of
// each CPU's writes, a write read is passed on only when its writer's
// earlier writes were all in the set passed with it; otherwise only that
// set. That can only leave a CPU bound to less than the LKMM binds it to:
// more executions, never fewer.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <utility>
#include <vector>

#include "sync/model/model.h"

namespace faultline::sync::model::weak {

constexpr int kMaxCpus = 16;

// For each CPU, how many of its writes are known.
struct Clock {
  std::array<uint32_t, kMaxCpus> c{};
  void join(const Clock& o);
  void add(int cpu, uint32_t stamp) {
    if (cpu >= 0 && c[cpu] < stamp) c[cpu] = stamp;
  }
  bool knows(int cpu, uint32_t stamp) const { return cpu >= 0 && c[cpu] >= stamp; }
  bool covers(const Clock& o) const;
};

struct Msg {
  uint64_t v;
  int writer;      // -1: the value before this execution's first write, or a write from outside a CPU
  uint32_t stamp;  // the writer's count of writes, this one included
  uint64_t time;   // when it was made, in the execution's count of writes
  bool late;       // held back: propagates when forced
  bool rmw;        // an RMW's write: nothing may come between it and the write it read
  Clock view;      // the writes that happen before it (RCU binds through these)
  uint64_t taint = 0;  // the promises it depends on (model.cc: load buffering)
  // The writes ordered before it by fences and releases (the LKMM's
  // cumul-fence*, as a prefix per CPU): a store ordered after a load that
  // read this write cannot come before them in coherence.
  Clock fenced{};
  // What the full barriers that happen before it published (Memory::sc_):
  // a CPU that reads it in order is bound to that (pb: strong-fence ; hb*).
  Clock strong{};
  // What the loads it depends on through data or an address learnt
  // (read_fenced, read_strong): its own CPU, reading it, is ordered after
  // those loads (the LKMM's dep ; rfi in ppo; not ctrl ; rfi).
  Clock after_reads{};
  bool data_dep = false;  // it depends on its CPU's loads through data or an address (after_reads)
  // A release write (an unlock): an acquire RMW reading it takes a lock.
  // The model cannot tell a lock from another atomic, so an xchg_acquire()
  // that reads an smp_store_release() orders as a lock handoff too: more
  // than the LKMM orders (fewer executions) for such atomics.
  bool release = false;
  // Data races (Memory::track_races): what the write publishes of the
  // accesses before it (RaceClocks::pub, or everything before a release),
  // and its own place in its CPU's accesses (0: a plain write, which
  // publishes nothing).
  Clock race_pub{};
  uint32_t race_at = 0;
};

// The LKMM's data-race flag, as happens-before over accesses (counted per
// CPU, plain and marked): a marked write publishes what its CPU's fences
// ordered before it (smp_wmb(): its own accesses; a full barrier:
// everything it is bound to), and a release everything before it and the
// writes it read (A-cumulativity); a CPU that reads it learns that and the
// write, and is bound to what it learnt at an acquire, smp_rmb(), a full
// barrier or an access whose address came from a load (the LKMM's
// r/w-pre-bounded). RCU: a grace period's end comes after every read-side
// section that ended by then, and a section that starts after a grace
// period started comes after what preceded that start. Two accesses to one
// word from different CPUs, at least one a write and one plain, race
// unless the earlier is bound before the later (in execution order, which
// is why model.cc looks only at executions without promised loads).
// Plain writes publish nothing. Coarser than the LKMM's xb: smp_wmb()
// orders the CPU's reads too, and the grace period's end binds more
// sections than those that began before its start.
struct RaceClocks {
  Clock hb;       // accesses of each CPU that come before its next access
  Clock learnt;   // from the writes it read, not yet bound
  Clock pub;      // what its next marked write publishes
  uint32_t acc = 0;  // its accesses so far
};

struct History {
  std::vector<Msg> mo;                     // coherence order, oldest first
  std::array<uint32_t, kMaxCpus> seen{};   // per CPU: the newest position it read or wrote
};

// What one CPU is bound to, and what its next stores carry.
struct Cpu {
  Clock clock;            // what its loads are bound to
  Clock pending;          // views of every write it read (what happens before it)
  Clock rmb_fenced;       // read_fenced but of the reads of RMWs returning nothing (R4rmb)
  uint32_t own = 0;       // its writes so far
  uint32_t ordered = 0;   // its writes before its last smp_wmb() or full barrier
  uint32_t released = 0;  // its writes up to its last release (an unlock)
  bool holding = false;   // it has held a write back since its last full barrier
  // Propagation (the LKMM's prop; see Msg::fenced): the fenced sets of
  // every write it read, of those read before its last full barrier or by
  // an acquire (which order every later store after them), what its next
  // write is fenced after, and the join of its own writes' fenced sets.
  Clock read_fenced, ordered_fenced, carried_fenced, own_fenced;
  // pb through happens-before (Msg::strong): what full barriers ordered
  // before its next events published, and the strong sets of the writes
  // it read (all of them; those smp_rmb() orders).
  Clock strong, read_strong, rmb_strong;
  RaceClocks race;
};

class Memory {
 public:
  explicit Memory(uint32_t serial) : serial_(serial), cpus_(kMaxCpus) {}
  Cpu& cpu(int id);

  // The word's history in this execution; null if it was never written.
  History* find(const Word* w) const { return w->serial == serial_ ? w->hist : nullptr; }
  // The oldest position of `h` that `cpu` may read.
  size_t oldest_readable(const History& h, int cpu, const Clock* also = nullptr) const;
  // How many writes `cpu` may read from `w` (at least 1).
  // `also`: what the access is bound to besides (the loads its address
  // came from learnt: an address dependency).
  size_t readable(const Word* w, int cpu, const Clock* also = nullptr) const;
  // Where `cpu` may put a write to `w`, as counts of newer writes it goes
  // before (0 first): past writes it is not bound to, never between an
  // RMW's write and the write that RMW read.
  // `after_reads`: the write is ordered after the CPU's earlier loads (a
  // dependency, or the engine's stores, which follow every earlier load):
  // nor before a write one of them read was fenced after (S+mb+ctrl), or
  // one that a full barrier ordered before them published (pb: Z6.0).
  std::vector<size_t> places(const Word* w, int cpu, bool after_reads = false, const Clock* also = nullptr) const;
  // What `cpu` learns reading `m`: the write, what it was fenced after, what
  // the full barriers before it published, and, for the CPU's own write,
  // what the loads it depended on learnt.
  Clock learnt(const Msg& m, int cpu) const;
  // The value of the `newer`-th newest write (0: the newest).
  uint64_t value(const Word* w, size_t newer) const;
  // Reads the `newer`-th newest write (0: the newest; at most readable()-1)
  // with `order` (a sync::Order value); returns its value, and a copy of
  // the write in `read_out` if asked. `kind`: a load, or the read of an
  // RMW: an acquire one that reads a release write takes a lock (see
  // Msg::release); one that returns nothing (atomic_inc()) is not ordered
  // by smp_rmb() (the LKMM's R4rmb), which orders every other read.
  enum class ReadKind { load, rmw, rmw_noreturn };
  uint64_t read(Word* w, int cpu, size_t newer, int order, Msg* read_out = nullptr, uint64_t* taint = nullptr,
                ReadKind kind = ReadKind::load);
  // Before an RMW with `order`: an acquire after a release of the CPU
  // orders as po-unlock-lock-po does.
  void before_rmw(int cpu, int order);
  // Writes `v` before the `before` newest writes of the word (0: at the
  // end; more only past writes the CPU is not bound to, readable()-1 at
  // most), as `kind` says; `rmw_of`: the write an RMW read (its view and
  // fenced set carry on: a release sequence, the LKMM's rmw-sequence).
  // Returns the write's position in the word's coherence order.
  struct WriteKind {
    bool late = false;         // propagates late
    bool release = false;      // carries every earlier write of the CPU
    bool after_reads = false;  // ordered after the CPU's earlier loads (places())
    bool data_after_reads = false;  // through data or an address (Msg::after_reads)
    const Msg* rmw_of = nullptr;
    uint64_t taint = 0;  // the promises it depends on
  };
  size_t write(Word* w, int cpu, uint64_t v, size_t before, const WriteKind& kind);
  // Load buffering (model.cc): the time of the oldest write `cpu` may read
  // (0: the word has no history), the time of the write at `pos`, and
  // whether a write at `pos` lies after the write made at `floor_time` and
  // before the one made at `before_time` (0: no such bound).
  uint64_t floor_time(const Word* w, int cpu) const;
  uint64_t time_at(const Word* w, size_t pos) const;
  bool fits_between(const Word* w, size_t pos, uint64_t floor_time, uint64_t before_time) const;
  // Binds `cpu` to the write at `pos`, as if it had read it then (a
  // promised load did). `dependents`, (word, time): the CPU's writes that
  // depended on that load; those that did through data or an address carry
  // what reading the write learns into their after_reads, as if the load
  // had read it before they were made (dep ; rfi; coarser where a write
  // depends on the load only through control and on another through data).
  void bind(const Word* w, int cpu, size_t pos, const std::vector<std::pair<const Word*, uint64_t>>& dependents);
  // Whether one of `stores` (word, time) precedes in coherence a write that
  // the write at `pos` of `w` is fenced after: a load that read it could
  // not have come before them.
  bool precedes_fenced(const std::vector<std::pair<const Word*, uint64_t>>& stores, const Word* w, size_t pos) const;

  // `as_of`: a state the CPU was in earlier (its own when null): the
  // barrier orders only what came before that against what follows
  // (smp_mb__after_srcu_read_unlock()). Returns whether it published
  // anything the full barriers before it had not (else it only read their
  // order, and commutes with another barrier that publishes nothing).
  bool full_barrier(int cpu, const Cpu* as_of = nullptr);
  void read_barrier(int cpu);
  void write_barrier(int cpu);
  // RCU and SRCU. `domain`: an SRCU domain (its srcu_struct), null for
  // RCU; each binds the read-side sections that start after one of its
  // grace periods started. A section's end returns what its CPU had seen
  // (for the grace period that waited for it).
  void rcu_read_lock(int cpu, const void* domain = nullptr);
  Clock rcu_read_unlock(int cpu);
  // Start and end are full barriers: they return what full_barrier() does.
  bool grace_period_start(int cpu, const void* domain = nullptr);
  // The updater is bound to what the sections it waited for had seen when
  // they ended; the caller then propagates every late write
  // (propagate_all).
  bool grace_period_end(int cpu, const std::vector<Clock>& exits);
  void spawned(int parent, int child);
  void joined(int joiner, int child);
  // A write from outside any CPU (the oracle, building the world): it
  // propagates at once.
  void write_outside(Word* w, uint64_t v);
  // Whether `cpu` holds writes back: its later stores are held back too,
  // as a TSO store buffer holds every store behind the first (a held-back
  // write binds no one, so this only adds executions); its RMWs are not
  // (model.cc: rmw_weak).
  bool holding_back(int cpu) { return this->cpu(cpu).holding; }
  // The stamp `cpu`'s next write will carry (Msg::stamp).
  uint32_t next_stamp(int cpu) { return this->cpu(cpu).own + 1; }
  // Makes every late write visible to all; false if there was none.
  bool propagate_all();
  // Whether some write is late (propagate_all() would change memory).
  bool any_late() const { return any_late_; }
  // Data races (RaceClocks): off unless turned on for the execution; the
  // next read or write is plain when `plain_next` says so.
  void track_races() { track_races_ = true; }
  // `address_dependent`: its address came from earlier loads, which bind it
  // to what they learnt (the LKMM's r/w-pre-bounded through addr).
  void plain_next(bool plain, bool address_dependent = false) {
    plain_next_ = plain;
    address_next_ = address_dependent;
  }
  bool raced() const { return raced_; }

 private:
  History& history(Word* w);
  bool visible_to_all(const Msg& m) const { return !m.late || m.time <= propagated_; }
  size_t forget_hidden(History& h);  // returns how many writes it dropped

  uint32_t serial_;
  uint64_t time_ = 0, propagated_ = 0;
  bool any_late_ = false;
  Clock everything(int cpu);      // what the CPU is bound to, has read, and wrote (happens-before)
  static Clock propagated_to(int cpu, const Cpu& state);  // what prop brought to it (a full barrier publishes this)
  // `base` of `m`, and `m` itself when its writer's earlier writes were all
  // in `base` (a clock holds a prefix of each CPU's writes).
  static Clock with_write(const Clock& base, const Msg& m);
  static Clock learnt_from(const Msg& m) { return with_write(m.view, m); }  // what happens before reading `m`
  // The writes reading `m` orders a later store after.
  static Clock fenced_from(const Msg& m) { return with_write(m.fenced, m); }
  static Clock learn(Cpu& me, int cpu, const Msg& m, bool rmb);
  Clock sc_;   // what the full barriers so far published, in their total order
  std::map<const void*, Clock> rcu_;  // per domain: what grace periods started so far bind later readers to
  std::vector<Cpu> cpus_;
  std::deque<History> store_;
  struct Access {
    int cpu;
    uint32_t at;
    bool write, plain;
  };
  std::map<const Word*, std::vector<Access>> accesses_;  // data races: every access, by word
  bool track_races_ = false, plain_next_ = false, address_next_ = false, raced_ = false;
  // RCU for data races: each CPU's accesses up to its last rcu_read_unlock()
  // (a grace period's end comes after them), and per domain what came
  // before the grace periods started (a section starting later comes after).
  std::array<Clock, kMaxCpus> race_unlocked_{};
  std::map<const void*, Clock> race_rcu_;
  bool race_access(const Word* w, int cpu, bool write);  // returns whether it is plain
  void race_learn(Cpu& me, const Msg& m, bool acquire);
  void race_publish(Cpu& me, int cpu, Msg& m, bool plain, bool release, const Msg* rmw_of);
  Clock race_everything(int cpu);  // its hb and its own accesses
};

}  // namespace faultline::sync::model::weak
