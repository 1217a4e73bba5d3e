// src/sync/bit_wait.h — sleeping bit locks in a flags word (the folio lock).
//
// Owns: bit_lock / bit_lock_handoff / bit_trylock / bit_unlock /
// bit_unlock_handoff / bit_wait_clear (bit_unlock also ends PG_writeback) on a 32-bit
// flags word, with a "waiters" bit so that an unlock with nobody waiting
// costs no system call (PG_locked and PG_waiters in the kernel). The wait is a
// futex wait on the flags word itself: any change of the word wakes a waiter,
// which re-checks its bit. bit_lock is the unfair lock of Linux before 5.9:
// an unlocking thread may re-take the lock before a woken waiter runs, for
// ever; bit_lock_handoff bounds that (5.9 to today).
#pragma once

#include <climits>
#include <cstdint>

#include "sync/atomic.h"
#include "sync/lock_stat.h"

namespace faultline::sync {

inline bool bit_trylock(Atomic<uint32_t>& w, uint32_t bit) noexcept {
  return !(w.fetch_or(bit, acquire) & bit);
}

inline void bit_unlock(Atomic<uint32_t>& w, uint32_t bit, uint32_t waiters) noexcept {
  uint32_t old = w.fetch_and(~(bit | waiters), release);
  if (old & waiters) w.notify_all();
}

// The bits of a hand-off lock in its flags word.
struct HandoffBits {
  uint32_t locked;   // PG_locked
  uint32_t waiters;  // PG_waiters
  uint32_t asked;    // a waiter asked for the lock to be handed over
  uint32_t handed;   // an unlock handed it over: the asker owns it
};

// The bit lock with controlled unfairness (Linux 5.9, "mm: allow a
// controlled amount of unfairness in the page lock"): a waiter woken
// `unfairness` times (sysctl_page_lock_unfairness, 5) only to find the
// lock taken again asks for it to be handed over, by setting `asked` (one
// asker at a time). The next unlock then leaves `locked` set and turns
// `asked` into `handed`: the asker owns the lock, and nobody could take it
// in between. The asker clears `handed` when it sees it; until then nobody
// else may ask, so a hand-over always reaches the waiter that asked (the
// kernel marks the waiter's own wait-queue entry instead: WQ_FLAG_DONE).
// Unlocks pair with bit_unlock_handoff.
inline void bit_lock_handoff(Atomic<uint32_t>& w, const HandoffBits& b, unsigned unfairness, LockClass c) noexcept {
  ContentionTimer timer(c);
  unsigned failed = 0;  // wake-ups that found the lock taken
  bool asked = false;
  for (unsigned spins = 0;; ++spins) {
    uint32_t f = w.peek(asked ? acquire : relaxed);
    if (asked) {
      if (!(f & b.handed)) {
        w.wait(f, relaxed);
      } else if (w.cmpxchg(f, f & ~b.handed, acquire)) {
        return;  // handed over: `locked` still set, for us
      }
      continue;
    }
    if (!(f & b.locked)) {
      if (bit_trylock(w, b.locked)) return;
      continue;
    }
    timer.start();
    if (spins < 64) {
      w.relax_while(f);
      continue;
    }
    if (failed >= unfairness && !(f & (b.asked | b.handed))) {
      asked = w.cmpxchg(f, f | b.asked | b.waiters, relaxed);
      continue;
    }
    w.fetch_or(b.waiters, relaxed);
    w.wait(f | b.waiters, relaxed);
    ++failed;
  }
}

// The plain unfair lock: nobody ever asks for a hand-off.
inline void bit_lock(Atomic<uint32_t>& w, uint32_t bit, uint32_t waiters, LockClass c) noexcept {
  bit_lock_handoff(w, {bit, waiters, 0, 0}, UINT_MAX, c);
}

inline void bit_unlock_handoff(Atomic<uint32_t>& w, const HandoffBits& b) noexcept {
  uint32_t old = w.peek(relaxed);
  for (;;) {
    if (old & b.asked) {
      if (!w.cmpxchg(old, (old & ~b.asked) | b.handed, release)) continue;
      w.notify_all();  // the asker among them
      return;
    }
    if (w.cmpxchg(old, old & ~(b.locked | b.waiters), release)) break;
  }
  if (old & b.waiters) w.notify_all();
}

// Sleep until `bit` is clear (folio_wait_locked, folio_wait_writeback).
inline void bit_wait_clear(Atomic<uint32_t>& w, uint32_t bit, uint32_t waiters, LockClass c) noexcept {
  ContentionTimer timer(c);
  for (;;) {
    uint32_t f = w.load(acquire);
    if (!(f & bit)) return;
    timer.start();
    w.fetch_or(waiters, relaxed);
    w.wait(f | waiters, acquire);
  }
}

}  // namespace faultline::sync
