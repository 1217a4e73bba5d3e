// src/sync/thread.h — thread creation for engine-side concurrency.
//
// Owns: Thread, the only way faultline's own code starts a thread (the
// engine, its tests and benchmarks), so that the model backend can turn each
// one into a fiber of the checker. Joins on destruction, like std::jthread.
// Library users (examples/) use std::thread as they would anyway.
#pragma once

#include <functional>
#include <memory>

namespace faultline::sync {

class Thread {
 public:
  Thread() = default;
  explicit Thread(std::function<void()> fn);
  Thread(Thread&& o) noexcept = default;
  Thread& operator=(Thread&& o) noexcept {
    join();
    impl_ = std::move(o.impl_);
    return *this;
  }
  ~Thread() { join(); }
  void join() {
    if (impl_) wait(*impl_);
    impl_.reset();
  }
  bool joinable() const noexcept { return impl_ != nullptr; }

  static unsigned hardware_concurrency() noexcept;

 private:
  // Each backend defines these (thread.cc, model/rcu_thread.cc).
  struct Impl;
  struct Free {
    void operator()(Impl* p) const noexcept;
  };
  static void wait(Impl& impl);
  std::unique_ptr<Impl, Free> impl_;
};

}  // namespace faultline::sync
