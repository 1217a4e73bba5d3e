// src/sync/cpu_local.h — per-CPU data (the kernel's DEFINE_PER_CPU).
//
// Owns: this_cpu<T>(), a T of the running CPU's own, made on first use;
// cpu_slot(), the running CPU's index into a structure's own per-CPU array
// (smp_processor_id()).
// Natively a CPU is a thread: thread_local. Under the model checker every
// CPU is a fiber of one OS thread, so each fiber of an execution gets its
// own T, and a new execution starts from fresh ones (code outside an
// execution, such as a scenario's setup, has one more of its own). Only
// the owning CPU touches its T: no lock, no atomics.
#pragma once

#ifdef FAULTLINE_SYNC_MODEL
#include <memory>
#include <vector>

#include "sync/model/model.h"
#else
#include <atomic>
#endif

namespace faultline::sync {

// How many per-CPU slots a structure keeps (nr_cpu_ids). Natively threads
// outnumber them and share: two threads may run on one slot at once, so a
// slot's data takes a lock (as the kernel's pcp->lock) or is atomic.
inline constexpr unsigned kCpuSlots = 32;

#ifdef FAULTLINE_SYNC_MODEL
// The fiber's CPU, and slot 0 outside an execution: no two CPUs of an
// execution share a slot.
inline unsigned cpu_slot() noexcept { return static_cast<unsigned>(model::current_cpu() + 1) % kCpuSlots; }
#else
// Threads take slots round-robin as they first ask.
inline unsigned cpu_slot() noexcept {
  static std::atomic<unsigned> next{0};
  thread_local unsigned slot = next.fetch_add(1, std::memory_order_relaxed) % kCpuSlots;
  return slot;
}
#endif

#ifdef FAULTLINE_SYNC_MODEL
template <class T>
T& this_cpu() {
  static std::vector<std::unique_ptr<T>> cpus;
  static uint64_t execution = ~uint64_t{0};
  static T outside;
  int cpu = model::current_cpu();
  if (cpu < 0) return outside;
  if (execution != model::execution_id()) {
    cpus.clear();
    execution = model::execution_id();
  }
  auto i = static_cast<size_t>(cpu);
  if (cpus.size() <= i) cpus.resize(i + 1);
  if (!cpus[i]) cpus[i] = std::make_unique<T>();
  return *cpus[i];
}
#else
template <class T>
T& this_cpu() {
  static thread_local T t;
  return t;
}
#endif

}  // namespace faultline::sync
