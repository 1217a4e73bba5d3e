// src/sync/guard.h — scoped lock holders, as guard() in the kernel.
//
// Owns: Guard<L, acquire, release>, which takes a lock for a scope. The
// default pair is lock()/unlock() (SpinLock, Mutex); RwSem's shared and
// exclusive holders name their own pair (rwsem.h).
#pragma once

namespace faultline::sync {

template <class L, auto Acquire = &L::lock, auto Release = &L::unlock>
class Guard {
 public:
  explicit Guard(L& l) noexcept : l_(l) { (l_.*Acquire)(); }
  ~Guard() { (l_.*Release)(); }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

 private:
  L& l_;
};

}  // namespace faultline::sync
