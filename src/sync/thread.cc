// src/sync/thread.cc — native Thread over std::thread.
#include "sync/thread.h"

#include <thread>

namespace faultline::sync {

struct Thread::Impl {
  std::thread t;
};

Thread::Thread(std::function<void()> fn) : impl_(new Impl{std::thread(std::move(fn))}) {}
void Thread::Free::operator()(Impl* p) const noexcept { delete p; }
void Thread::wait(Impl& impl) {
  if (impl.t.joinable()) impl.t.join();
}
unsigned Thread::hardware_concurrency() noexcept { return std::thread::hardware_concurrency(); }

}  // namespace faultline::sync
