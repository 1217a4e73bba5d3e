// src/sync/spinlock.h — spinlock_t for short, non-sleeping critical sections.
//
// Owns: SpinLock (the i_pages lock, the page-table lock, private_lock, the
// frame pool's zone lock, the LRU lock). Test-and-test-and-set with pause;
// after a while it yields the CPU, because user-space threads, unlike kernel
// spinlock holders, can be preempted while holding it.
#pragma once

#include "sync/atomic.h"
#include "sync/guard.h"
#include "sync/lock_stat.h"

namespace faultline::sync {

class SpinLock {
 public:
  SpinLock() noexcept = default;
  // `c` names the lock for the contention statistics (lock_stat.h).
  explicit SpinLock(LockClass c) noexcept : class_(c) {}

  void lock() noexcept {
    ContentionTimer timer(class_);
    for (unsigned spins = 0;; ++spins) {
      if (!locked_.peek(relaxed) && !locked_.exchange(true, acquire)) return;
      timer.start();
      if (spins < 128) locked_.relax_while(true);
      else yield_cpu();
    }
  }
  bool try_lock() noexcept { return !locked_.load(relaxed) && !locked_.exchange(true, acquire); }
  void unlock() noexcept { locked_.store(false, release); }
  bool is_locked() const noexcept { return locked_.load(relaxed); }

 private:
  Atomic<bool> locked_{false};
  LockClass class_ = LockClass::other;
};

}  // namespace faultline::sync
