// src/sync/atomic.h — atomics and the kernel's barriers for engine code.
//
// Owns: Atomic<T> (every shared word of the engine), the barrier functions
// mb(), rmb(), wmb(), mb_before_atomic(), mb_after_atomic(), and cpu_relax().
// Engine code outside src/sync/ never names std::atomic: the model backend
// replaces this file to make every access a scheduling point of the checker.
//
// Native backend: a zero-cost wrapper over std::atomic. Orders are explicit
// at every call site, as in the kernel (READ_ONCE is relaxed, smp_load_acquire
// is acquire, ...).
#pragma once

#ifdef FAULTLINE_SYNC_MODEL
#include "sync/model/atomic.h"
#else

#include <sched.h>

#include <atomic>
#include <cstdint>

#include "sync/cpu_local.h"

namespace faultline::sync {

using Order = std::memory_order;
inline constexpr Order relaxed = std::memory_order_relaxed;
inline constexpr Order acquire = std::memory_order_acquire;
inline constexpr Order release = std::memory_order_release;
inline constexpr Order acq_rel = std::memory_order_acq_rel;
inline constexpr Order seq_cst = std::memory_order_seq_cst;

template <class T>
class Atomic {
 public:
  constexpr Atomic() noexcept : v_{} {}
  constexpr explicit Atomic(T v) noexcept : v_(v) {}
  Atomic(const Atomic&) = delete;
  Atomic& operator=(const Atomic&) = delete;

  T load(Order o) const noexcept { return v_.load(o); }
  // A load whose stale value could only make the caller wait longer or try
  // again: the test of test-and-test-and-set, the first read of a cmpxchg
  // loop, a lock word polled for the caller's turn. Natively a load; the
  // model checker reads the newest write (a load under its `weak` model may
  // read an older one), so it does not explore delays that change nothing.
  T peek(Order o) const noexcept { return v_.load(o); }
  void store(T v, Order o) noexcept { v_.store(v, o); }
  T exchange(T v, Order o) noexcept { return v_.exchange(v, o); }
  bool cmpxchg(T& expected, T desired, Order o) noexcept {
    return v_.compare_exchange_strong(expected, desired, o, failure_order(o));
  }
  T fetch_add(T d, Order o) noexcept { return v_.fetch_add(d, o); }
  T fetch_sub(T d, Order o) noexcept { return v_.fetch_sub(d, o); }
  T fetch_or(T d, Order o) noexcept { return v_.fetch_or(d, o); }
  T fetch_and(T d, Order o) noexcept { return v_.fetch_and(d, o); }
  // set_bit / clear_bit: atomic, returning nothing (and so, in the kernel's
  // memory model, ordering nothing: see the model backend).
  void set_bits(T bits, Order o) noexcept { v_.fetch_or(bits, o); }
  void clear_bits(T bits, Order o) noexcept { v_.fetch_and(~bits, o); }

  // Sleep while the value equals `old` (a futex wait on Linux); wake-ups may
  // be spurious, so callers re-check their condition in a loop.
  void wait(T old, Order o) const noexcept { v_.wait(old, o); }
  void notify_all() noexcept { v_.notify_all(); }
  void notify_one() noexcept { v_.notify_one(); }
  // A spin loop's pause after it read `seen` here and must wait for the
  // word to change (the kernel's smp_cond_load_relaxed(); arm64 waits for
  // the word's cache line with WFE): cpu_relax(). The model backend sleeps
  // until the word holds something else, so the wait depends on this word
  // alone, not on every store (as a plain cpu_relax() does); under its
  // `weak` model only if `seen` came from peek().
  void relax_while(T seen) const noexcept;

 private:
  static constexpr Order failure_order(Order o) noexcept {
    return o == acq_rel ? acquire : o == release ? relaxed : o;
  }
  std::atomic<T> v_;
};

// A statistics counter: relaxed increments and decrements, read only for reporting, never
// to decide anything. The model backend makes it a plain integer, not a
// scheduling point, so that statistics neither lengthen executions nor
// make every two faults look dependent to the exhaustive search.
//
// Natively it is split like the kernel's per-CPU counters: each thread adds
// to a slot of its own cache line, and read() sums the slots. One shared
// word would be a cache line that every fault on every CPU writes, which
// costs more than the fault's own work once two CPUs fault at once.
class StatCounter {
 public:
  void add(uint64_t n = 1) noexcept { slots_[cpu_slot()].v.fetch_add(n, relaxed); }
  // Slots wrap modulo 2^64, so a slot may go "negative" and the sum is
  // still exact.
  void sub(uint64_t n) noexcept { add(uint64_t{0} - n); }
  uint64_t read() const noexcept {
    uint64_t sum = 0;
    for (const Slot& s : slots_) sum += s.v.load(relaxed);
    return sum;
  }

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> v{0};
  };
  Slot slots_[kCpuSlots];
};

// A heuristic hint that threads update racily, as the kernel's
// READ_ONCE/WRITE_ONCE counters such as file_ra_state::mmap_miss: a lost
// update only tunes performance, never decides correctness. The model
// backend makes it a plain word, not a scheduling point, like StatCounter.
template <class T>
class Hint {
 public:
  T get() const noexcept { return v_.load(relaxed); }
  void set(T v) noexcept { v_.store(v, relaxed); }

 private:
  std::atomic<T> v_{};
};

#ifdef FAULTLINE_TSAN
// GCC's ThreadSanitizer does not support fences. A locked RMW is a full
// barrier on x86, and TSan sees it as the atomic operation it is.
inline std::atomic<int> tsan_fence_word{0};
inline void full_fence() noexcept { tsan_fence_word.fetch_add(0, seq_cst); }
inline void acquire_fence() noexcept { full_fence(); }
inline void release_fence() noexcept { full_fence(); }
#else
inline void full_fence() noexcept { std::atomic_thread_fence(seq_cst); }
inline void acquire_fence() noexcept { std::atomic_thread_fence(acquire); }
inline void release_fence() noexcept { std::atomic_thread_fence(release); }
#endif

// smp_mb(): orders all earlier loads and stores against all later ones.
inline void mb() noexcept { full_fence(); }
// smp_rmb() / smp_wmb().
inline void rmb() noexcept { acquire_fence(); }
inline void wmb() noexcept { release_fence(); }
// smp_mb__before_atomic() / smp_mb__after_atomic(): on x86 a locked RMW is a
// full barrier already, and these compile to nothing but a compiler barrier.
// C++ has no such primitive, so the native backend gives them full-fence
// strength; the model backend gives them exactly the LKMM meaning.
inline void mb_before_atomic() noexcept { full_fence(); }
inline void mb_after_atomic() noexcept { full_fence(); }

// A spin loop's pause. The model backend sleeps until a word the loop's
// last round read is written, so a loop's rounds must differ only by what
// they read: a loop that counts its rounds to give up must not use it.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

template <class T>
inline void Atomic<T>::relax_while(T) const noexcept {
  cpu_relax();
}

// Gives up the CPU in a long spin (the model backend: sleeps until memory changes).
inline void yield_cpu() noexcept { sched_yield(); }

}  // namespace faultline::sync

#endif  // FAULTLINE_SYNC_MODEL
