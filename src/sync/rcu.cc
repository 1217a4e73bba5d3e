// src/sync/rcu.cc — native RCU over liburcu (memb flavor).
//
// ThreadSanitizer cannot see liburcu's synchronization (it is uninstrumented
// and uses membarrier), so under TSan every read-side unlock releases, and
// every grace period acquires, one shared sync object: everything a reader did
// happens-before the code after the next grace period. That is a superset of
// the real ordering (it also orders readers that began after the grace
// period), which can hide a race but never reports a false one.
#include "sync/rcu.h"

// Inline read-side fast paths (rcu.h), except under TSan, which would
// instrument liburcu's internals and report its (correct) plain accesses
// as races.
#ifndef FAULTLINE_TSAN
#ifndef _LGPL_SOURCE
#define _LGPL_SOURCE 1
#endif
#endif
#include <urcu/urcu-memb.h>

#include <memory>
#include <new>

#ifdef FAULTLINE_TSAN
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace faultline::sync {
namespace {

#ifdef FAULTLINE_TSAN
char tsan_grace_period;
void hb_release() { __tsan_release(&tsan_grace_period); }
void hb_acquire() { __tsan_acquire(&tsan_grace_period); }
#else
void hb_release() {}
void hb_acquire() {}
#endif

struct Registration {
  Registration() { urcu_memb_register_thread(); }
  ~Registration() { urcu_memb_unregister_thread(); }
};

void ensure_registered() {
  thread_local Registration reg;
  (void)reg;
#ifdef FAULTLINE_RCU_INLINE
  rcu_detail::registered = true;
#endif
}

// A callback given as a function: one allocation, queued as an RcuHead.
struct FnCallback : RcuHead {
  std::function<void()> fn;
};

}  // namespace

#ifdef FAULTLINE_RCU_INLINE
thread_local bool rcu_detail::registered = false;
void rcu_detail::register_thread() noexcept { ensure_registered(); }
#else
void rcu_read_lock() noexcept {
  ensure_registered();
  urcu_memb_read_lock();
}

void rcu_read_unlock() noexcept {
  hb_release();
  urcu_memb_read_unlock();
}
#endif

void synchronize_rcu() noexcept {
  ensure_registered();
  hb_release();
  urcu_memb_synchronize_rcu();
  hb_acquire();
}

// An RcuHead's link is liburcu's rcu_head, at offset 0 of a standard-layout
// struct: the head's address is the RcuHead's.
static_assert(sizeof(rcu_head) <= sizeof(RcuHead::link) && alignof(rcu_head) <= alignof(RcuHead));

static void run_head(rcu_head* link) {
  hb_acquire();  // before touching the head the queue handed over
  auto* head = reinterpret_cast<RcuHead*>(link);
  head->func(head);
  hb_release();  // what the callback did happens before rcu_barrier() returns
}

void call_rcu(RcuHead* head, void (*func)(RcuHead*)) noexcept {
  ensure_registered();
  head->func = func;
  auto* link = new (head->link) rcu_head;
  hb_release();  // after filling the head: the callback thread reads it
  urcu_memb_call_rcu(link, run_head);
}

void call_rcu(std::function<void()> fn) {
  call_rcu(new FnCallback{{}, std::move(fn)}, [](RcuHead* h) {
    std::unique_ptr<FnCallback> cb(static_cast<FnCallback*>(h));
    cb->fn();
  });
}

void rcu_barrier() noexcept {
  ensure_registered();
  urcu_memb_barrier();
  hb_acquire();
}

}  // namespace faultline::sync
