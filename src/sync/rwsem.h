// src/sync/rwsem.h — rw_semaphore and mutex for sleeping critical sections.
//
// Owns: RwSem (i_rwsem, invalidate_lock, i_mmap_rwsem, mmap_lock) and Mutex.
// RwSem is writer-preferring like the kernel's: once a writer waits, new
// readers queue behind it, so a killer is not starved by a stream of faults.
// One 32-bit word: bit 31 writer holds, bits 16..30 writers waiting, bits
// 0..15 readers holding. Sleeping is a futex wait on that word.
#pragma once

#include <cstdint>

#include "sync/atomic.h"
#include "sync/guard.h"
#include "sync/lock_stat.h"

namespace faultline::sync {

class RwSem {
 public:
  RwSem() noexcept = default;
  // `c` names the lock for the contention statistics (lock_stat.h).
  explicit RwSem(LockClass c) noexcept : class_(c) {}

  void down_read() noexcept {
    ContentionTimer timer(class_);
    for (;;) {
      uint32_t s = state_.peek(relaxed);
      if ((s & (kWriter | kWaitMask)) == 0) {
        if (state_.cmpxchg(s, s + 1, acquire)) return;
        continue;
      }
      timer.start();
      state_.wait(s, relaxed);
    }
  }
  bool down_read_trylock() noexcept {
    uint32_t s = state_.load(relaxed);
    while ((s & (kWriter | kWaitMask)) == 0)
      if (state_.cmpxchg(s, s + 1, acquire)) return true;
    return false;
  }
  void up_read() noexcept {
    uint32_t s = state_.fetch_sub(1, release);
    if ((s & kReadMask) == 1 && (s & kWaitMask)) state_.notify_all();
  }
  void down_write() noexcept {
    ContentionTimer timer(class_);
    state_.fetch_add(kWaitOne, relaxed);
    for (;;) {
      uint32_t s = state_.peek(relaxed);
      if ((s & (kWriter | kReadMask)) == 0) {
        if (state_.cmpxchg(s, s - kWaitOne + kWriter, acquire)) return;
        continue;
      }
      timer.start();
      state_.wait(s, relaxed);
    }
  }
  bool down_write_trylock() noexcept {
    uint32_t s = state_.load(relaxed);
    while ((s & (kWriter | kReadMask)) == 0)
      if (state_.cmpxchg(s, s + kWriter, acquire)) return true;
    return false;
  }
  void up_write() noexcept {
    state_.fetch_and(~kWriter, release);
    state_.notify_all();
  }
  bool is_write_locked() const noexcept { return state_.load(relaxed) & kWriter; }
  bool is_locked() const noexcept { return state_.load(relaxed) & (kWriter | kReadMask); }

 private:
  static constexpr uint32_t kWriter = 1u << 31;
  static constexpr uint32_t kWaitOne = 1u << 16;
  static constexpr uint32_t kWaitMask = 0x7fffu << 16;
  static constexpr uint32_t kReadMask = 0xffffu;
  Atomic<uint32_t> state_{0};
  LockClass class_ = LockClass::other;
};

// Scoped holders for RwSem (guard(rwsem_read) / guard(rwsem_write)).
using ReadGuard = Guard<RwSem, &RwSem::down_read, &RwSem::up_read>;
using WriteGuard = Guard<RwSem, &RwSem::down_write, &RwSem::up_write>;

// A sleeping mutex: an RwSem used only for writing.
class Mutex {
 public:
  Mutex() noexcept = default;
  explicit Mutex(LockClass c) noexcept : s_(c) {}
  void lock() noexcept { s_.down_write(); }
  bool try_lock() noexcept { return s_.down_write_trylock(); }
  void unlock() noexcept { s_.up_write(); }

 private:
  RwSem s_;
};

}  // namespace faultline::sync
