// src/sync/model/atomic.h — Atomic<T> and the barriers for the model
// backend (included by sync/atomic.h when FAULTLINE_SYNC_MODEL is set).
//
// Same API as the native Atomic<T>; every operation is a scheduling point
// of the checker and goes through the memory model (sync/model/model.h).
// The caller's source location names the engine function in traces.
#pragma once

#include <cstdint>
#include <cstring>
#include <source_location>
#include <type_traits>

#include "sync/model/model.h"

namespace faultline::sync {

enum Order : int { relaxed = 0, consume = 1, acquire = 2, release = 3, acq_rel = 4, seq_cst = 5 };

template <class T>
class Atomic {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>);
  using Loc = std::source_location;
  static constexpr uint64_t kMask = sizeof(T) == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * sizeof(T))) - 1;

  static uint64_t raw(T v) {
    uint64_t r = 0;
    std::memcpy(&r, &v, sizeof(T));
    return r;
  }
  static T val(uint64_t r) {
    T v;
    std::memcpy(&v, &r, sizeof(T));
    return v;
  }

 public:
  Atomic() noexcept = default;
  explicit Atomic(T v) noexcept : w_(raw(v)) {}
  Atomic(const Atomic&) = delete;
  Atomic& operator=(const Atomic&) = delete;

  T load(Order o, Loc l = Loc::current()) const noexcept { return val(model::load(&w_, kMask, o, l)); }
  T peek(Order o, Loc l = Loc::current()) const noexcept { return val(model::peek(&w_, kMask, o, l)); }
  void store(T v, Order o, Loc l = Loc::current()) noexcept { model::store(&w_, kMask, raw(v), o, l); }
  T exchange(T v, Order o, Loc l = Loc::current()) noexcept {
    return val(model::rmw(&w_, kMask, model::Rmw::xchg, raw(v), o, true, l));
  }
  bool cmpxchg(T& expected, T desired, Order o, Loc l = Loc::current()) noexcept {
    uint64_t e = raw(expected);
    bool ok = model::cas(&w_, kMask, e, raw(desired), o, l);
    if (!ok) expected = val(e);
    return ok;
  }
  T fetch_add(T d, Order o, Loc l = Loc::current()) noexcept { return op(model::Rmw::add, d, o, l); }
  T fetch_sub(T d, Order o, Loc l = Loc::current()) noexcept { return op(model::Rmw::sub, d, o, l); }
  T fetch_or(T d, Order o, Loc l = Loc::current()) noexcept { return op(model::Rmw::or_, d, o, l); }
  T fetch_and(T d, Order o, Loc l = Loc::current()) noexcept { return op(model::Rmw::and_, d, o, l); }
  void set_bits(T bits, Order o, Loc l = Loc::current()) noexcept {
    model::rmw(&w_, kMask, model::Rmw::or_, raw(bits), o, false, l);
  }
  void clear_bits(T bits, Order o, Loc l = Loc::current()) noexcept {
    model::rmw(&w_, kMask, model::Rmw::and_, raw(static_cast<T>(~bits)), o, false, l);
  }

  void wait(T old, Order, Loc l = Loc::current()) const noexcept { model::wait_while(&w_, kMask, raw(old), l); }
  void relax_while(T seen, Loc l = Loc::current()) const noexcept { model::spin_while(&w_, kMask, raw(seen), l); }
  // Waiters re-check memory on every scheduling decision: nothing to do.
  void notify_all() noexcept {}
  void notify_one() noexcept {}

 private:
  T op(model::Rmw k, T d, Order o, const Loc& l) { return val(model::rmw(&w_, kMask, k, raw(d), o, true, l)); }
  mutable model::Word w_;
};

// Statistics (see sync/atomic.h): one OS thread runs every fiber, so a
// plain integer is exact, and increments are no scheduling points.
class StatCounter {
 public:
  void add(uint64_t n = 1) noexcept { v_ += n; }
  void sub(uint64_t n) noexcept { v_ -= n; }
  uint64_t read() const noexcept { return v_; }

 private:
  uint64_t v_ = 0;
};

// A heuristic hint (see sync/atomic.h): a plain word, no scheduling point.
template <class T>
class Hint {
 public:
  T get() const noexcept { return v_; }
  void set(T v) noexcept { v_ = v; }

 private:
  T v_{};
};

inline void mb(std::source_location l = std::source_location::current()) { model::fence(model::Fence::full, l); }
inline void rmb(std::source_location l = std::source_location::current()) { model::fence(model::Fence::read, l); }
inline void wmb(std::source_location l = std::source_location::current()) { model::fence(model::Fence::write, l); }
inline void mb_before_atomic(std::source_location l = std::source_location::current()) {
  model::fence(model::Fence::before_atomic, l);
}
inline void mb_after_atomic(std::source_location l = std::source_location::current()) {
  model::fence(model::Fence::after_atomic, l);
}
inline void cpu_relax(std::source_location l = std::source_location::current()) { model::spin(l); }
inline void yield_cpu(std::source_location l = std::source_location::current()) { model::spin(l); }

}  // namespace faultline::sync
