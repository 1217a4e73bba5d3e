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
  Thread(Thread&&) noexcept;
  Thread& operator=(Thread&&) noexcept;
  ~Thread();
  void join();
  bool joinable() const noexcept { return impl_ != nullptr; }

  static unsigned hardware_concurrency() noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace faultline::sync
