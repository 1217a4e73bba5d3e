// src/sync/thread.cc — native Thread over std::thread.
#include "sync/thread.h"

#include <thread>

namespace faultline::sync {

struct Thread::Impl {
  std::thread t;
};

Thread::Thread(std::function<void()> fn) : impl_(new Impl{std::thread(std::move(fn))}) {}
Thread::Thread(Thread&&) noexcept = default;
Thread& Thread::operator=(Thread&& o) noexcept {
  join();
  impl_ = std::move(o.impl_);
  return *this;
}
Thread::~Thread() { join(); }

void Thread::join() {
  if (impl_ && impl_->t.joinable()) impl_->t.join();
  impl_.reset();
}

unsigned Thread::hardware_concurrency() noexcept { return std::thread::hardware_concurrency(); }

}  // namespace faultline::sync
