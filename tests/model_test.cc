// The model backend's exhaustive search: its reductions lose nothing
// within the bounds. Random small programs of loads, stores, RMWs,
// compare-and-swaps, barriers, a futex lock, a spinlock that waits on its
// word (spin_while) after peeking at it, RCU readers, grace periods and callbacks (whose
// footprints are RCU's state, not everything) run under every memory model
// at preemption bounds 0 to 2, with and without the reduction; the set of
// outcomes (every value each CPU read, and memory at the end) must be the
// same, with no more executions reduced than not. And one program pins the
// choice of which buffered store reaches memory first when no CPU can run.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <memory>
#include <random>
#include <set>
#include <source_location>
#include <string>
#include <vector>

#include "model_util.h"
#include "sync/model/model.h"

namespace faultline::sync::model {
namespace {

constexpr uint64_t kMask = ~uint64_t{0};
constexpr int kRelaxed = 0, kAcquire = 2, kRelease = 3, kSeqCst = 5;

enum class OpKind {
  load, store, store_release, add, set_bits, cas, mb, before_atomic, locked_add,
  spin_locked_add, rcu_reader, synchronize_rcu, call_rcu,
  spin_until  // only last, and only in spinning_program()'s programs
};
constexpr int kOpKinds = 13;  // random_program() uses the first kOpKinds
struct Op {
  OpKind kind;
  int word;
  uint64_t value;
};
using Program = std::vector<std::vector<Op>>;  // one op list per CPU

struct Memory {
  std::array<Word, 3> words;
  Word lock;
  uint64_t locked = 0;  // plain data under the lock
  Word spin;
  uint64_t spin_locked = 0;  // plain data under the spinlock
  std::array<Word, 9> unwritten;  // more than a spin sleeps on (spin_until())
};

void futex_lock(Word& lock, const std::source_location& l) {
  for (;;) {
    uint64_t expected = 0;
    if (cas(&lock, kMask, expected, 1, kAcquire, l)) return;
    wait_while(&lock, kMask, 1, l);
  }
}

// Test-and-test-and-set, waiting for the lock word to change. Its test
// peeks, as the engine's locks do; with g_test_loads, it loads instead
// (APeekedTestKeepsEveryOutcome).
bool g_test_loads = false;
void spin_lock(Word& lock, const std::source_location& l) {
  for (;;) {
    uint64_t expected = 0;
    uint64_t held = g_test_loads ? load(&lock, kMask, kRelaxed, l) : peek(&lock, kMask, kRelaxed, l);
    if (held == 0 && cas(&lock, kMask, expected, 1, kAcquire, l)) return;
    spin_while(&lock, kMask, 1, l);
  }
}

// A cpu_relax() loop waiting for `w` to be non-zero; records what it read
// last. With g_spin_reads_all, each round also reads words no one writes,
// more than the model keeps for a spin, so that it cannot sleep on the
// round's reads and goes round at every change of memory instead
// (ASpinLoopSleepingOnItsReadsKeepsEveryOutcome); those reads have one
// value to read and race with nothing.
bool g_spin_reads_all = false;
void spin_until(Memory& m, Word* w, std::vector<uint64_t>& seen, const std::source_location& l) {
  seen.push_back(0);
  while ((seen.back() = load(w, kMask, kRelaxed, l)) == 0) {
    if (g_spin_reads_all)
      for (Word& o : m.unwritten) load(&o, kMask, kRelaxed, l);
    spin(l);
  }
}

// Adds `v` to plain data under a lock that `take` takes; reads it first.
void add_locked(void (*take)(Word&, const std::source_location&), Word& lock, uint64_t& data, uint64_t v,
                std::vector<uint64_t>& seen, const std::source_location& l) {
  take(lock, l);
  seen.push_back(data);
  data += v;
  store(&lock, kMask, 0, kRelease, l);
}

// One CPU's ops; every value it reads goes to `seen`.
void run_ops(Memory& m, const std::vector<Op>& ops, std::vector<uint64_t>& seen) {
  const auto l = std::source_location::current();
  for (const Op& op : ops) {
    Word* w = &m.words[static_cast<size_t>(op.word)];
    switch (op.kind) {
      case OpKind::load: seen.push_back(load(w, kMask, kRelaxed, l)); break;
      case OpKind::store: store(w, kMask, op.value, kRelaxed, l); break;
      case OpKind::store_release: store(w, kMask, op.value, kRelease, l); break;
      case OpKind::add: seen.push_back(rmw(w, kMask, Rmw::add, op.value, kRelaxed, true, l)); break;
      case OpKind::set_bits: rmw(w, kMask, Rmw::or_, op.value, kRelaxed, false, l); break;
      case OpKind::cas: {
        uint64_t expected = 0;
        seen.push_back(cas(w, kMask, expected, op.value, kSeqCst, l) ? 1000 : 2000 + expected);
        break;
      }
      case OpKind::mb: fence(Fence::full, l); break;
      case OpKind::before_atomic: fence(Fence::before_atomic, l); break;
      case OpKind::locked_add: add_locked(futex_lock, m.lock, m.locked, op.value, seen, l); break;
      case OpKind::spin_locked_add: add_locked(spin_lock, m.spin, m.spin_locked, op.value, seen, l); break;
      case OpKind::rcu_reader:  // two loads inside one read-side section
        rcu_read_lock();
        seen.push_back(load(w, kMask, kRelaxed, l));
        seen.push_back(load(&m.words[static_cast<size_t>(op.word + 1) % 3], kMask, kRelaxed, l));
        rcu_read_unlock();
        break;
      case OpKind::synchronize_rcu:  // a store, a grace period, a load
        store(w, kMask, op.value, kRelaxed, l);
        synchronize_rcu(l);
        seen.push_back(load(&m.words[static_cast<size_t>(op.word + 1) % 3], kMask, kRelaxed, l));
        break;
      case OpKind::call_rcu:  // the callback stores, after the readers of now
        call_rcu([w, v = op.value + 4, l] { store(w, kMask, v, kRelaxed, l); });
        break;
      case OpKind::spin_until: spin_until(m, w, seen, l); break;
    }
  }
}

Program random_program(std::mt19937_64& rng) {
  Program p(2 + rng() % 2);
  for (auto& cpu : p) {
    size_t n = 2 + rng() % 3;
    for (size_t i = 0; i < n; ++i)
      cpu.push_back({static_cast<OpKind>(rng() % kOpKinds), static_cast<int>(rng() % 3), 1 + rng() % 3});
  }
  return p;
}

// A random program whose first CPU (and, in three, half the time the
// second) ends in a spin loop, and whose last CPU ends by storing what the
// loop waits for: a loop that waited for ever would leave its execution
// stuck, and its stack with it.
Program spinning_program(std::mt19937_64& rng) {
  Program p = random_program(rng);
  for (size_t c = 0; c + 1 < p.size(); ++c)
    if (c == 0 || rng() % 2) {
      int w = static_cast<int>(rng() % 3);
      p[c].push_back({OpKind::spin_until, w, 0});
      p.back().push_back({OpKind::store, w, 9});
    }
  return p;
}

struct Explored {
  std::set<std::string> outcomes;
  uint64_t executions = 0;
};

Explored explore(const Program& p, MemoryModel mm, unsigned bound, Reduction reduction, Split split = {}) {
  auto strategy = make_exhaustive_strategy(bound, 1, reduction, split);
  Explored r;
  r.executions = each_execution(*strategy, [&](unsigned e) {
    // Each execution's memory at a new address, as the checker's worlds
    // are: what the search remembers of one execution must not depend on
    // where the next one's words live.
    std::vector<char> padding(64 * (1 + e % 7));
    auto memory = std::make_unique<Memory>();
    Memory& m = *memory;
    std::vector<std::vector<uint64_t>> seen(p.size());
    std::vector<std::pair<std::string, std::function<void()>>> cpus;
    for (size_t i = 0; i < p.size(); ++i)
      cpus.push_back({"cpu", [&m, &p, &seen, i] { run_ops(m, p[i], seen[i]); }});
    Outcome o = run(cpus, *strategy, mm, 10000);
    if (strategy->skipping()) return;  // another part's
    EXPECT_FALSE(o.deadlock || o.step_limit || !o.failure.empty()) << o.failure;
    std::string key;
    for (const auto& s : seen) {
      for (uint64_t v : s) key += std::to_string(v) + ",";
      key += "|";
    }
    for (const Word& w : m.words) key += std::to_string(w.v) + ",";
    key += std::to_string(m.locked) + "," + std::to_string(m.spin_locked);
    r.outcomes.insert(key);
  });
  return r;
}

// Both reductions against the unreduced search, on the same programs.
TEST(ExhaustiveSearch, ReductionsKeepEveryOutcomeWithinTheBound) {
  std::mt19937_64 rng(2026);
  uint64_t total[3] = {0, 0, 0};  // by Reduction
  for (int i = 0; i < 60; ++i) {
    Program p = random_program(rng);
    for (MemoryModel mm : {MemoryModel::sc, MemoryModel::tso, MemoryModel::weak})
      for (unsigned bound = 0; bound <= 2; ++bound) {
        Explored full = explore(p, mm, bound, Reduction::none);
        total[0] += full.executions;
        for (Reduction r : {Reduction::sleep_sets, Reduction::dpor}) {
          Explored red = explore(p, mm, bound, r);
          ASSERT_EQ(full.outcomes, red.outcomes) << reduction_name(r) << ": program " << i << " "
                                                 << memory_model_name(mm) << " bound " << bound;
          EXPECT_LE(red.executions, full.executions);
          total[static_cast<int>(r)] += red.executions;
        }
      }
  }
  // Each must reduce, DPOR more than sleep sets alone.
  EXPECT_LT(total[1] * 10, total[0] * 8) << total[1] << " of " << total[0];
  EXPECT_LT(total[2], total[1]);
  std::printf("executions: %llu without a reduction, %llu with sleep sets, %llu with dpor\n",
              static_cast<unsigned long long>(total[0]), static_cast<unsigned long long>(total[1]),
              static_cast<unsigned long long>(total[2]));
}

// Without a preemption bound the sleep sets are Godefroid's (every option
// a decision ran sleeps in the later ones) and DPOR asks for a source set
// of each race's reversal: both must still reach every outcome of every
// interleaving (of programs without locks or spin loops, whose
// interleavings without a bound are too many to run them all).
TEST(ExhaustiveSearch, UnboundedReductionsKeepEveryOutcome) {
  std::mt19937_64 rng(2027);
  uint64_t total[3] = {0, 0, 0};  // by Reduction
  for (int i = 0; i < 12; ++i) {
    // Small enough for every interleaving: two ops a CPU, and no locks
    // (a CPU spinning on one multiplies the interleavings without a bound).
    Program p = random_program(rng);
    for (auto& cpu : p) {
      cpu.resize(2, {OpKind::load, 0, 0});
      for (Op& op : cpu)
        if (op.kind == OpKind::locked_add || op.kind == OpKind::spin_locked_add) op.kind = OpKind::add;
    }
    for (MemoryModel mm : {MemoryModel::sc, MemoryModel::tso, MemoryModel::weak}) {
      Explored full = explore(p, mm, kUnbounded, Reduction::none);
      total[0] += full.executions;
      for (Reduction r : {Reduction::sleep_sets, Reduction::dpor}) {
        Explored red = explore(p, mm, kUnbounded, r);
        ASSERT_EQ(full.outcomes, red.outcomes)
            << reduction_name(r) << ": program " << i << " " << memory_model_name(mm);
        total[static_cast<int>(r)] += red.executions;
      }
    }
  }
  EXPECT_LT(total[1], total[0]);
  EXPECT_LT(total[2], total[1]);
  std::printf("executions: %llu without a reduction, %llu with sleep sets, %llu with dpor\n",
              static_cast<unsigned long long>(total[0]), static_cast<unsigned long long>(total[1]),
              static_cast<unsigned long long>(total[2]));
}

// Store buffers that still hold stores when every CPU has finished drain in
// an order the hardware picks; when two CPUs buffered the same word, that
// order decides its final value, and the search must try both, even with no
// preemptions and no early flushes allowed.
// A split search: its parts together run the executions of the one search
// with the same depth, and reach the same outcomes as the unsplit one.
TEST(ExhaustiveSearch, PartsOfASplitSearchAddUpToTheWhole) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20; ++i) {
    Program p = random_program(rng);
    for (MemoryModel mm : {MemoryModel::sc, MemoryModel::weak}) {
      Explored unsplit = explore(p, mm, 2, Reduction::dpor);
      Explored whole = explore(p, mm, 2, Reduction::dpor, {4, 0, 1});
      Explored parts;
      for (unsigned part = 0; part < 3; ++part) {
        Explored e = explore(p, mm, 2, Reduction::dpor, {4, part, 3});
        parts.executions += e.executions;
        parts.outcomes.insert(e.outcomes.begin(), e.outcomes.end());
      }
      EXPECT_EQ(parts.executions, whole.executions) << "program " << i;
      EXPECT_EQ(parts.outcomes, unsplit.outcomes) << "program " << i;
      EXPECT_EQ(whole.outcomes, unsplit.outcomes) << "program " << i;
    }
  }
}

TEST(ExhaustiveSearch, BufferedStoresToOneWordReachMemoryInEitherOrder) {
  for (MemoryModel mm : {MemoryModel::tso, MemoryModel::weak}) {
    auto strategy = make_exhaustive_strategy(0, 0);
    std::set<uint64_t> finals;
    each_execution(*strategy, [&](unsigned) {
      Word x;
      const auto l = std::source_location::current();
      Outcome o = run({{"A", [&] { store(&x, kMask, 1, kRelaxed, l); }},
                       {"B", [&] { store(&x, kMask, 2, kRelaxed, l); }}},
                      *strategy, mm, 1000);
      EXPECT_TRUE(o.failure.empty() && !o.deadlock) << o.failure;
      finals.insert(x.v);
    });
    EXPECT_EQ(finals, (std::set<uint64_t>{1, 2})) << memory_model_name(mm);
  }
}

// Holding a store back is tried only where another CPU could tell: stores
// of A to words B never touches add no execution to the search, while
// without a reduction each of them is held back in executions of its own.
// Either way B reads both values.
unsigned explore_private_stores(MemoryModel mm, Reduction r, size_t private_stores) {
  auto strategy = make_exhaustive_strategy(0, 1, r);
  std::set<uint64_t> seen;
  unsigned executions = each_execution(*strategy, [&](unsigned) {
    std::vector<Word> own(private_stores);
    Word shared;
    const auto l = std::source_location::current();
    uint64_t got = 0;
    Outcome o = run({{"A", [&] {
                       for (Word& w : own) store(&w, kMask, 1, kRelaxed, l);
                       store(&shared, kMask, 1, kRelaxed, l);
                     }},
                     {"B", [&] { got = load(&shared, kMask, kRelaxed, l); }}},
                    *strategy, mm, 1000);
    EXPECT_TRUE(o.failure.empty() && !o.deadlock) << o.failure;
    seen.insert(got);
  });
  EXPECT_EQ(seen, (std::set<uint64_t>{0, 1})) << memory_model_name(mm) << " " << reduction_name(r);
  return executions;
}

// The share of the search done (Strategy::explored) is a share: within
// (0, 1] after every execution, and all of it after the last one.
TEST(ExhaustiveSearch, TheShareExploredEndsAtOne) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 10; ++i) {
    Program p = random_program(rng);
    auto strategy = make_exhaustive_strategy(2, 1, Reduction::dpor);
    std::vector<double> shares;
    each_execution(*strategy, [&](unsigned) {
      auto m = std::make_unique<Memory>();
      std::vector<std::vector<uint64_t>> seen(p.size());
      std::vector<std::pair<std::string, std::function<void()>>> cpus;
      for (size_t c = 0; c < p.size(); ++c)
        cpus.push_back({"cpu", [&m, &p, &seen, c] { run_ops(*m, p[c], seen[c]); }});
      run(cpus, *strategy, MemoryModel::weak, 10000);
      shares.push_back(strategy->explored());
    });
    ASSERT_FALSE(shares.empty());
    for (double s : shares) EXPECT_TRUE(s > 0 && s <= 1) << s;
    EXPECT_DOUBLE_EQ(shares.back(), 1.0) << "program " << i;
  }
}

TEST(ExhaustiveSearch, AStoreIsHeldBackOnlyWhereAnotherCpuAccessesItsWord) {
  for (MemoryModel mm : {MemoryModel::tso, MemoryModel::weak}) {
    EXPECT_EQ(explore_private_stores(mm, Reduction::dpor, 3), explore_private_stores(mm, Reduction::dpor, 0))
        << memory_model_name(mm);
    EXPECT_GT(explore_private_stores(mm, Reduction::none, 3), explore_private_stores(mm, Reduction::none, 0))
        << memory_model_name(mm);
  }
}

// A peek reads the newest write, even one held back: B's peek after A's
// store reads it under `sc` and `weak`, where B's load may read around it
// under `weak`. (Under `tso` a peek is a load: a store still in A's buffer
// is no write yet.)
std::set<std::pair<bool, uint64_t>> after_and_read(MemoryModel mm, bool peeks) {
  auto strategy = make_exhaustive_strategy(1, 1);
  std::set<std::pair<bool, uint64_t>> seen;  // (B's read came after A's store, what it read)
  each_execution(*strategy, [&](unsigned) {
    Word x;
    const auto l = std::source_location::current();
    Outcome o = run({{"A", [&] { store(&x, kMask, 1, kRelaxed, l); }},
                     {"B", [&] { peeks ? peek(&x, kMask, kRelaxed, l) : load(&x, kMask, kRelaxed, l); }}},
                    *strategy, mm, 1000);
    EXPECT_TRUE(o.failure.empty() && !o.deadlock) << o.failure;
    bool stored = false;
    for (const Step& st : o.trace) {
      if (st.kind == StepKind::store) stored = true;
      if (st.kind == StepKind::load) seen.insert({stored, st.a});
    }
  });
  return seen;
}

TEST(ExhaustiveSearch, APeekReadsTheNewestWrite) {
  using Seen = std::set<std::pair<bool, uint64_t>>;
  for (MemoryModel mm : {MemoryModel::sc, MemoryModel::weak})
    EXPECT_EQ(after_and_read(mm, true), (Seen{{false, 0}, {true, 1}})) << memory_model_name(mm);
  EXPECT_EQ(after_and_read(MemoryModel::weak, false), (Seen{{false, 0}, {true, 0}, {true, 1}}));
}

// Peeking at the lock word in the spinlock's test instead of loading it
// loses no outcome (a stale test only delays the cmpxchg or makes it
// fail) and saves executions under `weak`.
TEST(ExhaustiveSearch, APeekedTestKeepsEveryOutcome) {
  std::mt19937_64 rng(5);
  uint64_t executions[2] = {0, 0};  // loaded, peeked
  for (int i = 0; i < 40; ++i) {
    Program p = random_program(rng);
    for (unsigned bound = 0; bound <= 2; ++bound) {
      g_test_loads = true;
      Explored loaded = explore(p, MemoryModel::weak, bound, Reduction::dpor);
      g_test_loads = false;
      Explored peeked = explore(p, MemoryModel::weak, bound, Reduction::dpor);
      ASSERT_EQ(loaded.outcomes, peeked.outcomes) << "program " << i << " bound " << bound;
      executions[0] += loaded.executions;
      executions[1] += peeked.executions;
    }
  }
  EXPECT_LT(executions[1], executions[0]);
  std::printf("executions under weak: %llu with the test loaded, %llu peeked\n",
              static_cast<unsigned long long>(executions[0]), static_cast<unsigned long long>(executions[1]));
}

// A spin loop that wrote nothing and read few words since its last round
// sleeps until a word it read in that round is written (model.cc: spin()),
// not until any word is: its next round could only read what it read.
// That loses no outcome against loops that read too many words to sleep on,
// which go round at every change of memory, under every model at bounds 0
// and 1, with either reduction, and saves executions.
TEST(ExhaustiveSearch, ASpinLoopSleepingOnItsReadsKeepsEveryOutcome) {
  std::mt19937_64 rng(17);
  uint64_t executions[2] = {0, 0};  // reading all, sleeping on reads
  for (int i = 0; i < 40; ++i) {
    Program p = spinning_program(rng);
    for (MemoryModel mm : {MemoryModel::sc, MemoryModel::tso, MemoryModel::weak})
      for (unsigned bound = 0; bound <= 1; ++bound)
        for (Reduction r : {Reduction::sleep_sets, Reduction::dpor}) {
          g_spin_reads_all = true;
          Explored all = explore(p, mm, bound, r);
          g_spin_reads_all = false;
          Explored sleeping = explore(p, mm, bound, r);
          ASSERT_EQ(all.outcomes, sleeping.outcomes)
              << "program " << i << " " << memory_model_name(mm) << " bound " << bound << " " << reduction_name(r);
          executions[0] += all.executions;
          executions[1] += sleeping.executions;
        }
  }
  EXPECT_LT(executions[1], executions[0]);
  std::printf("executions: %llu with spin loops reading all, %llu sleeping on their reads\n",
              static_cast<unsigned long long>(executions[0]), static_cast<unsigned long long>(executions[1]));
}

// Under `weak` the stores behind a held-back store are held back too (a
// FIFO store buffer), but not the RMWs: at reorder bound 1 no execution
// has a late RMW after a late store, though B may still read every value
// of y; at bound 2 the RMW may be held back too.
std::pair<bool, std::set<uint64_t>> late_rmw_after_late_store(unsigned reorder_bound) {
  auto strategy = make_exhaustive_strategy(1, reorder_bound);
  bool both = false;
  std::set<uint64_t> read;
  each_execution(*strategy, [&](unsigned) {
    Word x, y;
    const auto l = std::source_location::current();
    uint64_t got = 0;
    Outcome o = run({{"A", [&] {
                       store(&x, kMask, 1, kRelaxed, l);
                       rmw(&y, kMask, Rmw::add, 1, kRelaxed, true, l);
                       rmw(&y, kMask, Rmw::add, 1, kRelaxed, true, l);
                     }},
                     {"B", [&] {
                       got = load(&y, kMask, kRelaxed, l);
                       load(&x, kMask, kRelaxed, l);
                     }}},
                    *strategy, MemoryModel::weak, 1000);
    EXPECT_TRUE(o.failure.empty() && !o.deadlock) << o.failure;
    read.insert(got);
    bool late_store = false;
    for (const Step& st : o.trace) {
      if (st.fiber != 0 || st.c != Reorder::late) continue;
      if (st.kind == StepKind::store) late_store = true;
      else if (late_store) both = true;
    }
  });
  return {both, read};
}

TEST(ExhaustiveSearch, AnRmwIsNotHeldBackBehindAHeldBackStore) {
  auto [both1, read1] = late_rmw_after_late_store(1);
  EXPECT_FALSE(both1);
  EXPECT_EQ(read1, (std::set<uint64_t>{0, 1, 2}));
  EXPECT_TRUE(late_rmw_after_late_store(2).first);
}

// A store that another CPU reads only once it cannot have been held back
// (B waits for A's flag, set after that point) adds no execution by being
// held back, as if B read another word; B always reads it. Under `weak`
// that point is a grace period's end, which propagates every late write;
// under `tso`, A's smp_mb(), which drains its store buffer.
unsigned explore_read_after_settling(MemoryModel mm, bool b_reads_x) {
  auto strategy = make_exhaustive_strategy(1, 1);
  std::set<uint64_t> seen;
  unsigned executions = each_execution(*strategy, [&](unsigned) {
    Word x, other, flag;
    const auto l = std::source_location::current();
    uint64_t got = 0;
    Outcome o = run({{"A", [&] {
                       store(&x, kMask, 1, kRelaxed, l);
                       if (mm == MemoryModel::weak) synchronize_rcu(l);
                       else fence(Fence::full, l);
                       store(&flag, kMask, 1, kRelaxed, l);
                     }},
                     {"B", [&] {
                       while (load(&flag, kMask, kRelaxed, l) == 0) spin(l);
                       got = load(b_reads_x ? &x : &other, kMask, kRelaxed, l);
                     }}},
                    *strategy, mm, 1000);
    EXPECT_TRUE(o.failure.empty() && !o.deadlock && !o.step_limit) << o.failure;
    seen.insert(got);
  });
  EXPECT_EQ(seen, (std::set<uint64_t>{b_reads_x ? 1u : 0u})) << memory_model_name(mm);
  return executions;
}

TEST(ExhaustiveSearch, AStoreSeenOnlyOnceSettledIsNotHeldBack) {
  for (MemoryModel mm : {MemoryModel::tso, MemoryModel::weak})
    EXPECT_EQ(explore_read_after_settling(mm, true), explore_read_after_settling(mm, false)) << memory_model_name(mm);
}

}  // namespace
}  // namespace faultline::sync::model
