// src/sync/model/rcu_thread.cc — RCU and Thread for the model backend:
// read-side sections, grace periods and callbacks are the scheduler's
// (sync/model/model.h); a Thread is a fiber of the running execution.
#include "sync/model/model.h"
#include "sync/rcu.h"
#include "sync/thread.h"

namespace faultline::sync {

void rcu_read_lock() noexcept { model::rcu_read_lock(); }
void rcu_read_unlock() noexcept { model::rcu_read_unlock(); }
void synchronize_rcu() noexcept { model::synchronize_rcu(std::source_location::current()); }
void call_rcu(std::function<void()> fn) { model::call_rcu(std::move(fn)); }
// The model may allocate here: its executions do not run out of memory.
void call_rcu(RcuHead* head, void (*func)(RcuHead*)) noexcept {
  model::call_rcu([head, func] { func(head); });
}
void rcu_barrier() noexcept { model::rcu_barrier(); }

struct Thread::Impl {
  int fiber;
};

Thread::Thread(std::function<void()> fn) : impl_(new Impl{model::spawn(std::move(fn))}) {}
void Thread::Free::operator()(Impl* p) const noexcept { delete p; }
void Thread::wait(Impl& impl) { model::join(impl.fiber); }
unsigned Thread::hardware_concurrency() noexcept { return 2; }

}  // namespace faultline::sync
