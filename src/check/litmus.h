// src/check/litmus.h — litmus tests in the C format of herd7 and the
// Linux-kernel memory model (tools/memory-model/litmus-tests), run under
// the model checker's memory models.
//
// Owns: parsing a test (its CPUs' code, initial state and `exists`
// clause) and running it: every execution an exhaustive search covers
// within its bounds, and whether one reaches the outcome the clause asks
// about. Built against the model backend; plain types only in this header
// (see check.h).
//
// The subset: `int` registers and shared variables (a variable's name as a
// value is its address, for rcu_assign_pointer and rcu_dereference),
// READ_ONCE, WRITE_ONCE, smp_load_acquire, smp_store_release,
// rcu_dereference, rcu_assign_pointer, smp_mb, smp_rmb, smp_wmb,
// smp_mb__before_atomic, smp_mb__after_atomic, smp_mb__after_spinlock,
// spin_lock, spin_unlock, xchg and cmpxchg (plain, _relaxed, _acquire,
// _release), atomic_inc and atomic_add (no value, unordered), set_bit,
// rcu_read_lock, rcu_read_unlock, synchronize_rcu, `if (...) {...}` with
// `==`, `!=` or a register, and an `exists` clause of `/\` and `\/` over
// `N:rK=V` and `x=V`. Anything else is an error naming it.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace faultline_check {

struct LitmusProgram;  // the parsed test

struct Litmus {
  std::string name;
  // Verdicts written in the test's comments: `Result: Never|Sometimes`
  // (herd7 under the LKMM), faultline's own pins, `sc: ...`, `tso: ...`,
  // and `faultline weak: ...` where the weak model knowingly differs from
  // the LKMM (empty when absent).
  std::string lkmm, sc, tso, weak_differs;
  std::shared_ptr<const LitmusProgram> program;
};

// Throws std::invalid_argument naming what it cannot read.
Litmus parse_litmus(const std::string& text);

struct LitmusRun {
  bool reached = false;  // some execution satisfied the `exists` clause
  uint64_t executions = 0;
  std::string schedule;  // of the first execution that reached it
  // Every final state seen: "0:r0=1 1:r0=0 x=1 y=1" (registers, then
  // variables, in order).
  std::set<std::string> outcomes;
};
// Every execution within `bound` preemptions and `reorder_bound` held-back
// stores under `memory_model` (sc, tso, weak).
LitmusRun run_litmus(const Litmus& t, const std::string& memory_model, unsigned bound, unsigned reorder_bound);

}  // namespace faultline_check
