// src/sync/rcu.h — read-copy-update for the engine.
//
// Owns: RCU read-side sections (page-cache lookups, page-table walks, every
// access through a mapping), grace periods (synchronize_rcu: the engine's
// TLB shootdown and the condition for freeing frames and xarray nodes) and
// deferred callbacks (call_rcu).
//
// Native backend: liburcu's memb flavor. A thread is registered with liburcu
// on its first read-side section and unregistered when it exits, so library
// users may call into the engine from threads the engine did not create.
// Read-side sections nest. Outside ThreadSanitizer (see rcu.cc) the
// read-side fast paths are liburcu's inline ones: every access through a
// mapping takes one, and two calls cost more than the section.
#pragma once

#include <functional>

#if !defined(FAULTLINE_SYNC_MODEL) && !defined(FAULTLINE_TSAN)
#define FAULTLINE_RCU_INLINE 1
#ifndef _LGPL_SOURCE
#define _LGPL_SOURCE 1
#endif
#include <urcu/urcu-memb.h>
#endif

namespace faultline::sync {

#ifdef FAULTLINE_RCU_INLINE
namespace rcu_detail {
extern thread_local bool registered;
void register_thread() noexcept;
}  // namespace rcu_detail
inline void rcu_read_lock() noexcept {
  if (!rcu_detail::registered) [[unlikely]]
    rcu_detail::register_thread();
  urcu_memb_read_lock();
}
inline void rcu_read_unlock() noexcept { urcu_memb_read_unlock(); }
#else
void rcu_read_lock() noexcept;
void rcu_read_unlock() noexcept;
#endif
// Waits until every read-side section that began before the call has ended.
// Must not be called inside a read-side section.
void synchronize_rcu() noexcept;
// Runs `fn` after a grace period, on liburcu's callback thread.
void call_rcu(std::function<void()> fn);

// The kernel's rcu_head: embedded in an object that is freed after a grace
// period. Queueing it allocates nothing (the native backend links the head
// itself into liburcu's queue), so a path that must not fail, such as
// unlinking an xarray node under the i_pages lock with a folio frozen, can
// still defer a free when memory has run out. Derive from it and downcast
// in `func`.
struct RcuHead {
  alignas(void*) unsigned char link[2 * sizeof(void*)];  // liburcu's rcu_head
  void (*func)(RcuHead*);
};
// Runs `func(head)` after a grace period. `head` must stay untouched until
// then. Native backend: allocation-free.
void call_rcu(RcuHead* head, void (*func)(RcuHead*)) noexcept;
// Waits until every callback queued before the call has run.
void rcu_barrier() noexcept;

class RcuReadGuard {
 public:
  RcuReadGuard() noexcept { rcu_read_lock(); }
  ~RcuReadGuard() { rcu_read_unlock(); }
  RcuReadGuard(const RcuReadGuard&) = delete;
  RcuReadGuard& operator=(const RcuReadGuard&) = delete;
};

}  // namespace faultline::sync
