// src/check/litmus_program.h — a parsed litmus test, shared by the two
// ways faultline runs one: the model checker's interpreter (litmus.cc) and
// the axiomatic LKMM (lkmm.cc). Internal: not installed.
//
// Owns nothing at run time: plain data, built once by the parser and only
// read afterwards.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sync/model/model.h"

namespace faultline_check {

namespace model = faultline::sync::model;

constexpr int kRelaxed = 0, kAcquire = 2, kRelease = 3, kSeqCst = 5;  // model::Order's values
constexpr int64_t kAddress = int64_t{1} << 40;  // a variable's address: kAddress + its index
constexpr char kHidden = '$';                   // hoisted values' registers start with it

// A value: a number, a register, a variable's address, or an operator over
// values.
struct Expr {
  enum Kind { number, reg, address, unary, binary } kind = number;
  int64_t n = 0;     // number; address: the variable's index
  std::string name;  // reg: its name; unary, binary: the operator
  std::vector<Expr> args;
};

struct Stmt {
  enum Kind { assign, load, store, rmw, cmpxchg, add_unless, trylock, is_locked, unlock_wait, barrier, lock, unlock,
              rcu_lock, rcu_unlock, sync_rcu, srcu_lock, srcu_unlock, sync_srcu, branch };
  Kind kind = barrier;
  std::string reg;  // assigned; empty: none
  Expr loc;         // the address accessed
  Expr a, b;        // value(s); branch: a is the condition
  int order = kRelaxed;
  model::Rmw op = model::Rmw::xchg;
  bool returns = true;     // rmw: value-returning (ordered), not atomic_add()
  bool new_value = false;  // rmw: sets reg to the new value (_return), not the old
  bool fence_after = false;  // smp_store_mb()
  bool plain = false;        // load/store: a C access (`*x`), not READ_ONCE/WRITE_ONCE
  model::Fence fence = model::Fence::full;
  std::vector<Stmt> then, otherwise;
};

// A proposition of the final condition or the filter.
struct Prop {
  enum Kind { atom, negation, conjunction, disjunction, constant } kind = constant;
  bool truth = true;  // constant
  // atom: CPU `cpu`'s register, or variable `var`, compared with `value`
  int cpu = -1;
  std::string reg;
  int var = -1;
  Expr value;
  int other_cpu = -1;  // or this CPU's register
  std::string other_reg;
  bool differs = false;  // `!=`
  std::vector<Prop> args;
};

struct LitmusProgram {
  std::vector<uint64_t> constants;  // the numbers it stores: what a load may be promised
  std::vector<std::string> vars;
  std::vector<int64_t> init;  // raw values (addresses encoded)
  std::vector<std::map<std::string, int64_t>> reg_init;  // per CPU
  std::vector<std::vector<Stmt>> cpus;
  bool has_filter = false;
  Prop filter, condition;
  // What a state shows: (cpu, reg) or (-1, var), in order of appearance.
  std::vector<std::pair<int, std::string>> shown;
};

// The final state of one execution: each variable's last write, each
// CPU's registers, and herd7's flags it raised.
struct World {
  std::vector<std::unique_ptr<model::Word>> words;
  std::vector<std::map<std::string, int64_t>> regs;
  std::set<std::string> flags;  // herd7's flags this execution raised
};

// C's operator `op` over two values, as the tests' expressions compute it
// (division by zero gives 0).
int64_t apply(const std::string& op, int64_t a, int64_t b);
// Whether `p` holds in `w`.
bool holds(const Prop& p, const World& w);
// Every register (but hidden ones) and variable: "0:r0=1 1:r0=0 x=1".
std::string final_state(const LitmusProgram& p, const World& w);
// The locations the condition and `locations` name, as herd7 prints them.
std::string herd_state(const LitmusProgram& p, const World& w);

}  // namespace faultline_check
