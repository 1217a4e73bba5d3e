// src/check/litmus.h — litmus tests in the C format of herd7 and the
// Linux-kernel memory model (tools/memory-model/litmus-tests), run under
// the model checker's memory models.
//
// Owns: parsing a test (its CPUs' code, initial state, `locations`,
// `filter` and final condition) and running it: every execution an
// exhaustive search covers within its bounds, the states they end in, and
// how many satisfy the condition. Built against the model backend; plain
// types only in this header (see check.h).
//
// The language, as herd7 reads it for the LKMM:
// - A header: `C NAME`, then anything before the initial state (diy7's
//   `Hash=`, `Cycle=` lines, a quoted description) is skipped.
// - The initial state: `x=1;`, `int x = 1;`, pointers `y=x;`, `y=&x;`,
//   `int *p = &x;`, `int **pp = &p;`, registers `0:r1=x;`, declarations
//   without a value (`spinlock_t l;`, `atomic_t a;`): zero.
// - CPUs `P0(int *x, spinlock_t *l, ...)` with C statements: declarations
//   with or without initializers, assignments, `if`/`else`, expressions
//   over registers and constants (+ - * / % & | ^ << >> == != < <= > >=
//   && || ! ~), plain accesses `*x = e;`, `r = *x;`, and the primitives of
//   the kernel's linux-kernel.def: READ_ONCE, WRITE_ONCE, smp_load_acquire,
//   smp_store_release, smp_store_mb, rcu_dereference, rcu_assign_pointer,
//   every barrier (smp_mb and the __before/__after variants, barrier()),
//   xchg/cmpxchg and their orderings, spin_lock, spin_unlock,
//   spin_trylock, spin_is_locked, spin_unlock_wait, RCU and SRCU
//   read-side sections (srcu_down_read/srcu_up_read too), grace periods
//   and smp_mb__after_srcu_read_unlock, and the atomic_t API (read/set,
//   add/sub/inc/dec, the _return, fetch_, _and_test and xchg/cmpxchg
//   forms with their _relaxed, _acquire and _release orderings,
//   fetch_and/or/andnot, add_unless).
// - `locations [...]`, `filter (...)`, then `exists`, `~exists` or
//   `forall` with a condition of `/\`, `\/`, `~`/`not`, `true`/`false`,
//   parentheses and atoms `N:r=V`, `x=V`, `*x=V` (`=` or `!=`; V a number
//   or a variable's name, for a pointer).
// Anything else is an error naming it. LISA, herd7's generic assembly,
// too: a table of columns of r[once|acquire|deref|lderef], w[once|release|
// assign], f[mb|rmb|wmb|sync|rcu_read_lock|rcu_read_unlock|rb_dep], mov
// with (add|sub|xor|and|or|eq|neq a b), addresses `x+r2`, and forward
// branches b[] to labels (Parser::lisa).
//
// Dependencies: the interpreter tells the model each store's data,
// address and control dependencies and each load's and RMW's address
// dependencies (model::next_store_depends_on, next_access_address_from).
//
// Data races: in a test with plain accesses every execution is run, and
// one where two accesses to a variable from different CPUs, one a write
// and one plain, are not ordered raises herd7's data-race flag
// (LitmusRun::flags "data-race"; the happens-before it uses is in
// src/sync/model/weak_memory.h, RaceClocks: releases and acquires, fences,
// address dependencies, locks, RCU's grace periods), looked for in the
// executions without load buffering (promised loads).
//
// Two ways to run one: under a model checker's memory model (run_litmus,
// an exhaustive search over executions), or under the LKMM's axioms over
// candidate executions, as herd7 does (run_litmus_lkmm, src/check/lkmm.cc).
//
// Where the model is not herd7: plain accesses run as READ_ONCE/WRITE_ONCE
// (no compiler transformations), and the data-race flag's happens-before is
// coarser than the LKMM's xb in places; an SRCU read-side section that a grace
// period waited for binds the updater as an RCU one does, which forbids
// C-srcu-observed-4 where herd7 allows it (and the implementation, its
// comment says, forbids it too); the search is bounded (preemptions, unless
// run with model::kUnbounded, and held-back stores), so a verdict is
// herd7's only if the bounds cover the test. SRCU: each srcu_struct is a
// domain of its own, and a section ends by the index srcu_read_lock()
// returned, on any CPU; an index no open
// section has raises herd7's srcu-bad-nesting flag (LitmusRun::flags).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace faultline_check {

struct LitmusProgram;  // the parsed test

struct Litmus {
  std::string name;
  // Verdicts written in the test's comments: `Result: Never|Sometimes|Always|DEADLOCK`
  // (herd7 under the LKMM), faultline's own pins, `sc: ...`, `tso: ...`,
  // and `faultline weak: ...` where the weak model knowingly differs from
  // the LKMM (empty when absent).
  std::string lkmm, sc, tso, weak_differs;
  // What followed `Result:` when it was no verdict ("DEADLOCK", "Maybe",
  // "Flag srcu-bad-nesting"), and whether herd7 flagged a data race.
  std::string lkmm_note;
  bool lkmm_datarace = false;
  bool plain_accesses = false;  // some CPU makes a plain access (`*x`): data races are looked for
  std::string quantifier;  // "exists", "~exists" or "forall"
  std::shared_ptr<const LitmusProgram> program;
};

// Throws std::invalid_argument naming what it cannot read; LitmusNotC for
// a test of another architecture (PPC, X86, ...).
struct LitmusNotC : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
Litmus parse_litmus(const std::string& text);

struct LitmusRun {
  bool reached = false;  // some execution satisfied the condition (its proposition, whatever the quantifier)
  uint64_t executions = 0;
  // Executions the filter kept, by whether they satisfied the condition.
  uint64_t positive = 0, negative = 0;
  uint64_t deadlocked = 0;  // executions that ended with CPUs waiting for ever (no final state)
  uint64_t dropped = 0;     // executions a promised load made infeasible (no store kept the promise)
  bool unfinished = false;  // stopped at the time limit
  bool decided = false;     // stopped once the verdict could only be Sometimes (run_litmus's until_decided)
  std::string schedule;     // of the first execution that reached it
  // Every final state seen: "0:r0=1 1:r0=0 x=1 y=1" (registers, then
  // variables, in order).
  std::set<std::string> outcomes;
  // The final states as herd7 prints them (the locations the condition
  // and `locations` name): "0:r0=1; x=1;", with how many executions ended
  // in each.
  std::map<std::string, uint64_t> states;
  // herd7's flags that executions the filter kept raised: "srcu-bad-nesting"
  // (an srcu_read_unlock() of an index no open section of its srcu_struct
  // has, which then ends nothing) and, under `weak` for a test with plain
  // accesses, "data-race" (herd7's DATARACE; see weak_memory.h's
  // RaceClocks for how it is decided).
  std::set<std::string> flags;
  // Never, Sometimes or Always: whether the condition's proposition held
  // in none, some or all of the executions the filter kept (herd7's
  // Observation); DEADLOCK when every execution deadlocked.
  std::string verdict() const;
};
// Every execution within `bound` preemptions (model::kUnbounded: any
// number) and `reorder_bound` held-back stores under `memory_model` (sc,
// tso, weak), up to reordering independent steps; `seconds` > 0 stops early
// (then `unfinished`); `until_decided` stops once executions both satisfied
// and did not satisfy the condition (the verdict is then Sometimes
// whatever the rest do; `outcomes`, `states` and `flags` are partial).
LitmusRun run_litmus(const Litmus& t, const std::string& memory_model, unsigned bound, unsigned reorder_bound,
                     double seconds = 0, bool until_decided = false);

// The LKMM as herd7 evaluates it (src/check/lkmm.cc): every candidate
// execution — each CPU's path for the values its reads return, a write for
// each read to read from, each variable's coherence order — checked
// against linux-kernel.cat's axioms (coherence, atomicity, happens-before,
// propagation, RCU). `executions` counts the candidates, `states` those
// the axioms allow. A cross-check of the `weak` model by a second,
// independent reading of the LKMM, and a verdict where the model
// checker's search is too large. Throws LitmusUnsupported for what it
// does not take: plain accesses (data races), spin locks,
// smp_mb__after_srcu_read_unlock(), unbalanced read-side sections, more
// than 64 events.
struct LitmusUnsupported : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
LitmusRun run_litmus_lkmm(const Litmus& t, double seconds = 0);

// `faultline litmus FILE|DIR...`: each test under `memory_model`, its
// verdict beside herd7's from the file (a DIFF lists the states seen).
// Tests of other architectures (PPC, X86, ...) are skipped and counted.
// Exit status 0 when all agree (or carry no verdict, or are known not
// to), 1 on any other DIFF or unfinished run or a known test that agrees,
// 2 when a path, the --known file or a C test cannot be read or parsed.
struct LitmusOptions {
  std::vector<std::string> paths;
  std::string memory_model = "weak";
  unsigned bound = 2, reorder_bound = 2;
  bool unbounded = false;  // no preemption bound (`bound` ignored): model::kUnbounded
  double seconds = 10;
  std::string json;  // one object per test, a line each
  bool states = false;  // print every state seen (and so run every execution, not only until the verdict is decided)
  // A file of tests known to differ from herd7 or not to finish in time,
  // a line each: the test's name, then why ('#' starts a comment). They
  // are judged "known DIFF" or "known UNFINISHED" and do not fail the run;
  // one that agrees does ("agree, but listed as known"), so that the list
  // stays true.
  std::string known;
};
int run_litmus_command(const LitmusOptions& o, std::ostream& out, std::ostream& err);

}  // namespace faultline_check
