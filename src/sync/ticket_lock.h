// src/sync/ticket_lock.h — a fair (FIFO) sleeping lock in one 32-bit word.
//
// Owns: ticket_lock / ticket_trylock / ticket_unlock. The high half is the
// next ticket, the low half the ticket being served: the lock passes to
// waiters strictly in arrival order, as the fair page lock proposed for
// Linux 5.9 hands the page lock to the first waiter instead of letting the
// unlocker (or a newcomer) take it again. Waiters sleep on the word (futex).
#pragma once

#include <cstdint>

#include "sync/atomic.h"
#include "sync/lock_stat.h"

namespace faultline::sync {

inline void ticket_lock(Atomic<uint32_t>& w, LockClass c) noexcept {
  ContentionTimer timer(c);
  uint32_t mine = w.fetch_add(1u << 16, acquire) >> 16;
  for (unsigned spins = 0;; ++spins) {
    uint32_t v = w.peek(acquire);
    if ((v & 0xffff) == (mine & 0xffff)) return;
    timer.start();
    if (spins < 64) w.relax_while(v);
    else w.wait(v, acquire);
  }
}

inline bool ticket_trylock(Atomic<uint32_t>& w) noexcept {
  uint32_t v = w.load(relaxed);
  return (v >> 16) == (v & 0xffff) && w.cmpxchg(v, v + (1u << 16), acquire);
}

inline void ticket_unlock(Atomic<uint32_t>& w) noexcept {
  uint32_t v = w.peek(relaxed);
  // serving + 1 in the low half, without carrying into the high half
  while (!w.cmpxchg(v, (v & 0xffff0000u) | ((v + 1) & 0xffffu), release)) {
  }
  if ((v >> 16) != ((v + 1) & 0xffff)) w.notify_all();  // someone still waits
}

}  // namespace faultline::sync
