// src/sync/lock_stat.h — per-thread lock contention statistics (lock_stat).
//
// Owns: LockClass (which kind of lock a lock is: the folio lock, mmap_lock,
// i_mmap_rwsem, invalidate_lock, the PTL, ...), LockStat (contentions and
// nanoseconds spent waiting, per class) and ContentionTimer, which every
// lock of src/sync/ runs around its slow path. As the kernel's
// CONFIG_LOCK_STAT, only a contended acquisition is timed: the fast path
// costs one predictable branch and no clock read.
//
// The counters are thread-local and written only by their own thread, so
// they need no synchronization; a thread reads its own (faultline's public
// this_thread_lock_stat()). The model backend keeps no statistics: a clock
// read is not a step of the checker and would only slow it.
#pragma once

#include <cstdint>

#ifndef FAULTLINE_SYNC_MODEL
#include <time.h>
#endif

namespace faultline::sync {

enum class LockClass : uint8_t {
  other,
  folio_lock,       // PG_locked, fair or not; folio_wait_locked()
  mmap_lock,
  i_mmap_rwsem,
  invalidate_lock,
  ptl,              // the split page-table locks
  i_rwsem,
  i_pages,          // the xarray's lock
  lru_lock,
  writeback,        // folio_wait_writeback(): PG_writeback
  zone_lock,        // the frame pool's free lists
  reclaim,          // reclaim_lock: one reclaimer at a time
  store,            // the memory store's lock (the "disk")
  pcp,              // a per-CPU page list's lock (pcp->lock)
  count
};
inline constexpr unsigned kLockClasses = static_cast<unsigned>(LockClass::count);

inline const char* lock_class_name(LockClass c) noexcept {
  constexpr const char* kNames[kLockClasses] = {"other",   "folio_lock", "mmap_lock", "i_mmap_rwsem", "invalidate_lock",
                                                "ptl",     "i_rwsem",    "i_pages",   "lru_lock",     "writeback",
                                                "zone_lock", "reclaim",  "store",     "pcp"};
  return kNames[static_cast<unsigned>(c)];
}

struct LockStat {
  uint64_t contentions[kLockClasses] = {};
  uint64_t wait_ns[kLockClasses] = {};
};

#ifdef FAULTLINE_SYNC_MODEL

inline LockStat& this_thread_lock_stat() noexcept {
  static LockStat none;
  return none;
}
class ContentionTimer {
 public:
  explicit ContentionTimer(LockClass) noexcept {}
  void start() noexcept {}
};

#else

inline thread_local LockStat tl_lock_stat;
inline LockStat& this_thread_lock_stat() noexcept { return tl_lock_stat; }

// Times one acquisition from its first failed attempt (start()) to the
// end of its scope, if it started at all.
class ContentionTimer {
 public:
  explicit ContentionTimer(LockClass c) noexcept : class_(c) {}
  ~ContentionTimer() {
    if (!t0_) return;
    unsigned i = static_cast<unsigned>(class_);
    tl_lock_stat.contentions[i] += 1;
    tl_lock_stat.wait_ns[i] += now_ns() - t0_;
  }
  ContentionTimer(const ContentionTimer&) = delete;
  ContentionTimer& operator=(const ContentionTimer&) = delete;
  void start() noexcept {
    if (!t0_) t0_ = now_ns();
  }

 private:
  static uint64_t now_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
  }
  LockClass class_;
  uint64_t t0_ = 0;
};

#endif

}  // namespace faultline::sync
