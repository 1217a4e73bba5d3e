// The native sync backend: locks exclude, rwsems prefer writers, RCU waits.
#include <gtest/gtest.h>

#include <vector>

#include "sync/atomic.h"
#include "sync/bit_wait.h"
#include "sync/rcu.h"
#include "sync/rwsem.h"
#include "sync/spinlock.h"
#include "sync/thread.h"

namespace faultline::sync {
namespace {

template <class Lock>
void hammer(Lock& lock) {
  uint64_t counter = 0;  // protected by lock only
  std::vector<Thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        lock.lock();
        ++counter;
        lock.unlock();
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(counter, 80000u);
}

TEST(Sync, SpinLockExcludes) {
  SpinLock l;
  hammer(l);
}

TEST(Sync, MutexExcludes) {
  Mutex m;
  hammer(m);
}

TEST(Sync, BitLockExcludes) {
  struct BitLock {
    Atomic<uint32_t> word{0};
    void lock() { bit_lock(word, 1, 2, LockClass::other); }
    void unlock() { bit_unlock(word, 1, 2); }
  } l;
  hammer(l);
}

TEST(Sync, RwSemReadersShareWritersExclude) {
  RwSem s;
  s.down_read();
  EXPECT_TRUE(s.down_read_trylock());
  EXPECT_FALSE(s.down_write_trylock());
  s.up_read();
  s.up_read();
  EXPECT_TRUE(s.down_write_trylock());
  EXPECT_FALSE(s.down_read_trylock());
  s.up_write();
}

TEST(Sync, RwSemWaitingWriterBlocksNewReaders) {
  RwSem s;
  s.down_read();
  Atomic<bool> got_write{false};
  Thread w([&] {
    s.down_write();
    got_write.store(true, seq_cst);
    s.up_write();
  });
  while (!s.is_locked() || s.down_read_trylock()) {
    // Until the writer is queued, trylock may succeed: undo and retry.
    if (s.is_locked()) s.up_read();
    cpu_relax();
    if (got_write.load(seq_cst)) break;
  }
  EXPECT_FALSE(got_write.load(seq_cst));
  s.up_read();
  w.join();
  EXPECT_TRUE(got_write.load(seq_cst));
}

TEST(Sync, SynchronizeRcuWaitsForReaders) {
  Atomic<int> phase{0};
  Atomic<bool> reader_done{false};
  Thread r([&] {
    rcu_read_lock();
    phase.store(1, seq_cst);
    while (phase.load(seq_cst) != 2) cpu_relax();
    // Give the writer a chance to (wrongly) return.
    for (int i = 0; i < 100000; ++i) cpu_relax();
    reader_done.store(true, seq_cst);
    rcu_read_unlock();
  });
  while (phase.load(seq_cst) != 1) cpu_relax();
  phase.store(2, seq_cst);
  synchronize_rcu();
  EXPECT_TRUE(reader_done.load(seq_cst));
}

TEST(Sync, CallRcuRunsAfterGracePeriod) {
  Atomic<int> ran{0};
  for (int i = 0; i < 10; ++i) call_rcu([&] { ran.fetch_add(1, relaxed); });
  rcu_barrier();
  EXPECT_EQ(ran.load(relaxed), 10);
}

}  // namespace
}  // namespace faultline::sync
