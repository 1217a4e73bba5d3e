// src/check/lkmm.cc — the Linux-kernel memory model as herd7 evaluates it:
// axiomatically, over candidate executions (tools/memory-model's
// linux-kernel.cat, .bell and .def), for litmus tests (see litmus.h,
// run_litmus_lkmm).
//
// Owns: a test's candidate executions — each CPU's path through its code
// for the values its reads return, the write each read reads from, and a
// coherence order of each variable's writes — and the LKMM's axioms over
// them: coherence, atomicity, happens-before, propagation and RCU (the
// cat's hb, pb and rb). Guarded by nothing: one call runs on one thread
// and keeps nothing after it returns but g_events, a thread-local count of
// the events of the candidate at hand (where the relations' loops stop).
//
// What it leaves to the model checker's `weak` model (LitmusUnsupported):
// plain accesses and data races, spin locks (lock.cat),
// smp_mb__after_srcu_read_unlock(), unbalanced RCU or SRCU sections,
// synchronize_rcu() inside a section, and tests larger than its caps (64
// events, 32 values a variable, 2^18 paths a CPU).
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <set>

#include "check/litmus.h"
#include "check/litmus_program.h"

namespace faultline_check {

namespace {

[[noreturn]] void unsupported(const std::string& what) { throw LitmusUnsupported("lkmm: " + what); }

// ---- relations over at most 64 events ---------------------------------------

using Set = uint64_t;
constexpr int kMaxEvents = 64;
Set bit(int i) { return Set{1} << i; }
// The events of the candidate at hand: relations' loops stop there.
thread_local int g_events = kMaxEvents;

struct Rel {
  std::array<Set, kMaxEvents> to{};  // to[i]: the events i is related to
  Rel& operator|=(const Rel& o) {
    for (int i = 0; i < g_events; ++i) to[i] |= o.to[i];
    return *this;
  }
  friend Rel operator|(Rel a, const Rel& b) { return a |= b; }
  friend Rel operator&(Rel a, const Rel& b) {
    for (int i = 0; i < g_events; ++i) a.to[i] &= b.to[i];
    return a;
  }
  bool operator==(const Rel&) const = default;
};

// a ; b
Rel seq(const Rel& a, const Rel& b) {
  Rel r;
  for (int i = 0; i < g_events; ++i)
    for (Set s = a.to[i]; s; s &= s - 1) r.to[i] |= b.to[__builtin_ctzll(s)];
  return r;
}
Rel seq(const Rel& a, const Rel& b, const Rel& c) { return seq(seq(a, b), c); }
Rel inverse(const Rel& a) {
  Rel r;
  for (int i = 0; i < g_events; ++i)
    for (Set s = a.to[i]; s; s &= s - 1) r.to[__builtin_ctzll(s)] |= bit(i);
  return r;
}
// [s]: the identity on the events of s.
Rel id(Set s) {
  Rel r;
  for (; s; s &= s - 1) r.to[__builtin_ctzll(s)] = s & -s;
  return r;
}
// [from] ; a ; [to]
Rel between(Set from, const Rel& a, Set to) {
  Rel r;
  for (Set s = from; s; s &= s - 1) {
    int i = __builtin_ctzll(s);
    r.to[i] = a.to[i] & to;
  }
  return r;
}
// a+: from each event, what it reaches, a frontier at a time (the
// relations here are sparse: most rows are empty).
Rel plus(const Rel& a) {
  Rel r;
  for (int i = 0; i < g_events; ++i) {
    Set reach = a.to[i];
    for (Set frontier = reach; frontier;) {
      Set next = 0;
      for (Set s = frontier; s; s &= s - 1) next |= a.to[__builtin_ctzll(s)];
      frontier = next & ~reach;
      reach |= next;
    }
    r.to[i] = reach;
  }
  return r;
}
Rel star(const Rel& a, Set all) { return plus(a) | id(all); }
Rel opt(const Rel& a, Set all) { return a | id(all); }
Rel minus_id(Rel a) {
  for (int i = 0; i < g_events; ++i) a.to[i] &= ~bit(i);
  return a;
}
bool irreflexive(const Rel& a) {
  for (int i = 0; i < g_events; ++i)
    if (a.to[i] & bit(i)) return false;
  return true;
}
// No cycle: peeling off the events with nothing after them (among those
// left) empties the set.
bool acyclic(const Rel& a) {
  Set left = g_events == kMaxEvents ? ~Set{0} : bit(g_events) - 1;
  while (left) {
    Set sinks = 0;
    for (Set s = left; s; s &= s - 1)
      if (!(a.to[__builtin_ctzll(s)] & left)) sinks |= s & -s;
    if (!sinks) return false;
    left &= ~sinks;
  }
  return true;
}
bool empty(const Rel& a) {
  for (int i = 0; i < g_events; ++i)
    if (a.to[i]) return false;
  return true;
}

// ---- events -------------------------------------------------------------------

// herd7's event classes (linux-kernel.bell), a bit each.
constexpr uint32_t
    kRead = 1, kWrite = 2, kInit = 4, kAcquireTag = 8, kReleaseTag = 16, kNoreturn = 32, kMb = 64, kRmb = 128,
    kWmb = 256, kBeforeAtomic = 512, kAfterAtomic = 1024, kRcuLock = 2048, kRcuUnlock = 4096, kSyncRcu = 8192,
    kSrcuLock = 16384, kSrcuUnlock = 32768, kSyncSrcu = 65536;

struct Event {
  uint32_t tags = 0;
  int loc = -1;  // the variable accessed, or the srcu_struct
  int64_t value = 0;
  // Within its CPU's path: the reads its address, its value (a write's, an
  // srcu_read_unlock()'s index) and the conditions before it depend on,
  // and, for an RMW's read, its write.
  Set addr = 0, data = 0, ctrl = 0;
  int rmw_write = -1;
};

// One CPU's path through its code for given values of its reads.
struct Path {
  std::vector<Event> events;
  std::map<std::string, int64_t> regs;
  std::vector<std::pair<int, int>> rcu_sections, srcu_sections;  // (lock, unlock), as event indices
};

// A value and the reads it comes from.
struct Val {
  int64_t v = 0;
  Set from = 0;
};

// ---- the paths of one CPU -----------------------------------------------------

// Walks a CPU's code, forking at each read over the values its variable
// may hold (`values`), the paths it can take.
class Walker {
 public:
  Walker(const LitmusProgram& p, const std::vector<std::set<int64_t>>& values) : p_(p), values_(values) {}

  std::vector<Path> paths(int cpu) {
    out_.clear();
    forks_ = 0;
    State s;
    for (const auto& [reg, v] : p_.reg_init[static_cast<size_t>(cpu)]) s.regs[reg] = {v, 0};
    s.frames.push_back({&p_.cpus[static_cast<size_t>(cpu)], 0, 0});
    try {
      walk(std::move(s));
    } catch (const NoVariable& e) {  // before any read: the test's own address
      unsupported(fmt::format("an access to address {}, which is no variable's", e.address));
    }
    return std::move(out_);
  }

 private:
  struct State {
    // Where it is, innermost last; a branch's frame holds the reads its
    // condition came from, which its events depend on through control
    // (herd7's ctrl ends where the if statement does: LB-ctls-diffvals-postif).
    struct Frame {
      const std::vector<Stmt>* code;
      size_t at;
      Set ctrl;
    };
    std::vector<Frame> frames;
    std::map<std::string, Val> regs;
    Path path;
    std::vector<int> rcu_open, srcu_open;  // open sections' lock events
  };

  Val eval(const State& s, const Expr& e) const {
    switch (e.kind) {
      case Expr::number: return {e.n, 0};
      case Expr::address: return {kAddress + e.n, 0};
      case Expr::reg: {
        auto it = s.regs.find(e.name);
        return it == s.regs.end() ? Val{} : it->second;
      }
      case Expr::unary: {
        Val a = eval(s, e.args[0]);
        int64_t v = e.name == "-" ? static_cast<int64_t>(uint64_t{0} - static_cast<uint64_t>(a.v)) : e.name == "!" ? !a.v : ~a.v;
        return {v, a.from};
      }
      case Expr::binary: {
        Val a = eval(s, e.args[0]), b = eval(s, e.args[1]);
        return {apply(e.name, a.v, b.v), a.from | b.from};
      }
    }
    return {};
  }
  // A path that reaches an access to an address no variable has is
  // dropped: a read returned a number (fork() offers every number the
  // program names) that no write gives a pointer.
  struct NoVariable {
    int64_t address;
  };
  int variable(const State& s, const Expr& loc) const {
    int64_t v = eval(s, loc).v - kAddress;
    if (v < 0 || v >= static_cast<int64_t>(p_.vars.size())) throw NoVariable{eval(s, loc).v};
    return static_cast<int>(v);
  }
  int add(State& s, uint32_t tags, int loc, int64_t value, Set addr, Set data) {
    int i = static_cast<int>(s.path.events.size());
    if (i >= kMaxEvents) unsupported("more than 64 events on one CPU");
    Set ctrl = 0;
    for (const auto& f : s.frames) ctrl |= f.ctrl;
    s.path.events.push_back({tags, loc, value, addr, data, ctrl, -1});
    if (tags & kWrite) written_.insert({loc, value});
    return i;
  }
  void set(State& s, const std::string& reg, Val v) {
    if (!reg.empty()) s.regs[reg] = v;
  }

  void walk(State s) {
    while (!s.frames.empty()) {
      auto& [code, at, ctrl] = s.frames.back();
      if (at == code->size()) {
        s.frames.pop_back();
        continue;
      }
      const Stmt& st = (*code)[at++];
      if (reads(st)) return fork(std::move(s), st);
      step(s, st);
    }
    finish(std::move(s));
  }
  static bool reads(const Stmt& st) {
    return st.kind == Stmt::load || st.kind == Stmt::rmw || st.kind == Stmt::cmpxchg || st.kind == Stmt::add_unless;
  }
  // A read: one path per value its variable may hold.
  void fork(State s, const Stmt& st) {
    int loc = variable(s, st.loc);
    for (int64_t v : values_[static_cast<size_t>(loc)]) {
      if (++forks_ > kMaxForks) unsupported(fmt::format("one CPU's code forks into more than {} paths", kMaxForks));
      State next = s;
      try {
        read(next, st, loc, v);
        walk(std::move(next));
      } catch (const NoVariable&) {
      }
    }
  }
  void finish(State s) {
    if (!s.rcu_open.empty() || !s.srcu_open.empty()) unsupported("a read-side section left open");
    for (const auto& [reg, v] : s.regs) s.path.regs[reg] = v.v;
    out_.push_back(std::move(s.path));
  }

  static bool full(int order) { return order == kSeqCst || order == 4; }  // value-returning RMWs: {mb}
  void fence(State& s, uint32_t tag) { add(s, tag, -1, 0, 0, 0); }

  // The read of `st` returns `v` from variable `loc`.
  void read(State& s, const Stmt& st, int loc, int64_t v) {
    Set addr = eval(s, st.loc).from;
    if (st.plain) unsupported("plain accesses (data races)");
    if (st.kind == Stmt::load) {
      int r = add(s, kRead | (st.order == kAcquire ? kAcquireTag : 0u), loc, v, addr, 0);
      return set(s, st.reg, {v, bit(r)});
    }
    // An RMW: a read and a write, with full barriers around a fully
    // ordered one; a cmpxchg or add_unless that fails only reads.
    int64_t nv = 0, result = v;
    Set data = 0;
    bool writes = true;
    if (st.kind == Stmt::rmw) {
      Val arg = eval(s, st.a);
      nv = static_cast<int64_t>(model::apply(st.op, static_cast<uint64_t>(v), static_cast<uint64_t>(arg.v), ~uint64_t{0}));
      data = arg.from;
      if (st.new_value) result = nv;
    } else if (st.kind == Stmt::cmpxchg) {
      Val expected = eval(s, st.a), desired = eval(s, st.b);
      writes = v == expected.v;
      nv = desired.v;
      data = desired.from;
    } else {  // add_unless(X, A, U)
      Val a = eval(s, st.a), u = eval(s, st.b);
      writes = v != u.v;
      nv = static_cast<int64_t>(static_cast<uint64_t>(v) + static_cast<uint64_t>(a.v));
      data = a.from;
      result = writes;
    }
    if (!writes) {
      int r = add(s, kRead, loc, v, addr, 0);
      return set(s, st.reg, {result, bit(r)});
    }
    bool mb = full(st.order);
    if (mb) fence(s, kMb);
    int r = add(s, kRead | (st.order == kAcquire ? kAcquireTag : 0u) | (st.returns ? 0u : kNoreturn), loc, v, addr, 0);
    int w = add(s, kWrite | (st.order == kRelease ? kReleaseTag : 0u), loc, nv, addr, data);
    s.path.events[static_cast<size_t>(r)].rmw_write = w;
    if (mb) fence(s, kMb);
    set(s, st.reg, {result, bit(r)});
  }

  void step(State& s, const Stmt& st) {
    switch (st.kind) {
      case Stmt::assign: return set(s, st.reg, eval(s, st.a));
      case Stmt::store: {
        if (st.plain) unsupported("plain accesses (data races)");
        Val v = eval(s, st.a);
        add(s, kWrite | (st.order == kRelease ? kReleaseTag : 0u), variable(s, st.loc), v.v, eval(s, st.loc).from, v.from);
        if (st.fence_after) fence(s, kMb);
        return;
      }
      case Stmt::barrier: return barrier(s, st.fence);
      case Stmt::rcu_lock: return s.rcu_open.push_back(add(s, kRcuLock, -1, 0, 0, 0));
      case Stmt::rcu_unlock: {
        if (s.rcu_open.empty()) unsupported("rcu_read_unlock() outside a read-side section");
        int u = add(s, kRcuUnlock, -1, 0, 0, 0);
        s.path.rcu_sections.push_back({s.rcu_open.back(), u});
        s.rcu_open.pop_back();
        return;
      }
      case Stmt::sync_rcu:
        if (!s.rcu_open.empty()) unsupported("synchronize_rcu() inside a read-side section (herd7: DEADLOCK)");
        return fence(s, kSyncRcu);
      case Stmt::srcu_lock: {
        int l = add(s, kSrcuLock, variable(s, st.loc), 0, 0, 0);
        s.srcu_open.push_back(l);
        return set(s, st.reg, {static_cast<int64_t>(s.srcu_open.size()), bit(l)});
      }
      case Stmt::srcu_unlock: return srcu_unlock(s, st);
      case Stmt::sync_srcu: add(s, kSyncSrcu, variable(s, st.loc), 0, 0, 0); return;
      case Stmt::branch: {
        Val c = eval(s, st.a);
        s.frames.push_back({c.v != 0 ? &st.then : &st.otherwise, 0, c.from});
        return;
      }
      default: unsupported("spin locks (lock.cat)");
    }
  }
  void barrier(State& s, model::Fence f) {
    switch (f) {
      case model::Fence::full: return fence(s, kMb);
      case model::Fence::read: return fence(s, kRmb);
      case model::Fence::write: return fence(s, kWmb);
      case model::Fence::before_atomic: return fence(s, kBeforeAtomic);
      case model::Fence::after_atomic: return fence(s, kAfterAtomic);
      case model::Fence::after_srcu_read_unlock: unsupported("smp_mb__after_srcu_read_unlock()");
    }
  }
  // srcu-rscs: an unlock ends the section whose lock its index came from
  // (through data), of the same srcu_struct.
  void srcu_unlock(State& s, const Stmt& st) {
    int loc = variable(s, st.loc);
    Val index = eval(s, st.a);
    int u = add(s, kSrcuUnlock, loc, 0, 0, index.from);
    for (size_t k = 0; k < s.srcu_open.size(); ++k) {
      int l = s.srcu_open[k];
      if ((index.from & bit(l)) && s.path.events[static_cast<size_t>(l)].loc == loc) {
        s.path.srcu_sections.push_back({l, u});
        s.srcu_open.erase(s.srcu_open.begin() + static_cast<long>(k));
        return;
      }
    }
    unsupported("an srcu_read_unlock() that matches no srcu_read_lock() (herd7 flags srcu-bad-nesting)");
  }

  static constexpr uint64_t kMaxForks = uint64_t{1} << 18;  // per CPU: its reads' values, dropped paths too
  const LitmusProgram& p_;
  const std::vector<std::set<int64_t>>& values_;
  std::vector<Path> out_;
  uint64_t forks_ = 0;

 public:
  // Every (variable, value) a write made on any path walked, dropped ones
  // too: a pointer that a dropped path wrote may be what a read needs to
  // return for the path not to be dropped (C-PPOCA).
  std::set<std::pair<int, int64_t>> written_;
};

// ---- one candidate execution --------------------------------------------------

// The events of one choice of paths: the initial writes, then each CPU's.
struct Candidate {
  std::vector<Event> ev;
  std::vector<int> cpu;  // -1: an initial write
  int n = 0;
  Set all = 0, reads = 0, writes = 0, init = 0;
  Rel po, addr, data, ctrl, rmw, rcu_rscs, srcu_rscs;
  // What reads-from and coherence do not change (fixed(): the cat's
  // relations over program order, fences and dependencies).
  Rel same_cpu, ext, same_loc, po_opt, strong_fence, po_rel, wmb, ppo_fixed, dep;
  Rel rmw_read;  // from an RMW's write to its read
  std::vector<Set> reads_of, writes_of;  // per variable: its reads, its writes but the initial one
  Set gps = 0, sgps = 0;                 // synchronize_rcu(), synchronize_srcu()
  Set tagged(uint32_t t) const {
    Set s = 0;
    for (int i = 0; i < n; ++i)
      if (ev[static_cast<size_t>(i)].tags & t) s |= bit(i);
    return s;
  }
};

void fixed(Candidate& c);

Candidate combine(const LitmusProgram& p, const std::vector<const Path*>& paths) {
  Candidate c;
  for (size_t v = 0; v < p.vars.size(); ++v) {
    c.ev.push_back({kWrite | kInit, static_cast<int>(v), p.init[v], 0, 0, 0, -1});
    c.cpu.push_back(-1);
  }
  for (size_t t = 0; t < paths.size(); ++t) {
    int base = static_cast<int>(c.ev.size());
    const auto& evs = paths[t]->events;
    if (base + static_cast<int>(evs.size()) > kMaxEvents) unsupported("more than 64 events");
    auto shift = [base](Set s) { return s << base; };  // a CPU's events are contiguous
    for (size_t i = 0; i < evs.size(); ++i) {
      int e = base + static_cast<int>(i);
      Event ev = evs[i];
      for (Set s = shift(ev.addr); s; s &= s - 1) c.addr.to[__builtin_ctzll(s)] |= bit(e);
      for (Set s = shift(ev.data); s; s &= s - 1) c.data.to[__builtin_ctzll(s)] |= bit(e);
      for (Set s = shift(ev.ctrl); s; s &= s - 1) c.ctrl.to[__builtin_ctzll(s)] |= bit(e);
      if (ev.rmw_write >= 0) c.rmw.to[e] = bit(base + ev.rmw_write);
      for (size_t j = i + 1; j < evs.size(); ++j) c.po.to[e] |= bit(base + static_cast<int>(j));
      c.ev.push_back(ev);
      c.cpu.push_back(static_cast<int>(t));
    }
    for (auto [l, u] : paths[t]->rcu_sections) c.rcu_rscs.to[base + l] |= bit(base + u);
    for (auto [l, u] : paths[t]->srcu_sections) c.srcu_rscs.to[base + l] |= bit(base + u);
  }
  c.n = static_cast<int>(c.ev.size());
  c.all = c.n == kMaxEvents ? ~Set{0} : bit(c.n) - 1;
  c.reads = c.tagged(kRead);
  c.writes = c.tagged(kWrite);
  c.init = c.tagged(kInit);
  fixed(c);
  return c;
}

// The relations of linux-kernel.cat that only program order, fences and
// dependencies make (no lock.cat: spin locks are not taken).
void fixed(Candidate& c) {
  g_events = c.n;
  Set all = c.all, mem = c.reads | c.writes;
  for (int i = 0; i < c.n; ++i)
    for (int j = 0; j < c.n; ++j) {
      if (c.cpu[static_cast<size_t>(i)] >= 0 && c.cpu[static_cast<size_t>(i)] == c.cpu[static_cast<size_t>(j)]) c.same_cpu.to[i] |= bit(j);
      int l = c.ev[static_cast<size_t>(i)].loc;
      if (l >= 0 && l == c.ev[static_cast<size_t>(j)].loc) c.same_loc.to[i] |= bit(j);
    }
  for (int i = 0; i < c.n; ++i) c.ext.to[i] = all & ~c.same_cpu.to[i];
  auto fencerel = [&](uint32_t t) { return seq(c.po, id(c.tagged(t)), c.po); };
  Set rmw_events = 0;
  for (int i = 0; i < c.n; ++i)
    if (c.rmw.to[i]) rmw_events |= bit(i) | c.rmw.to[i];
  Set r4rmb = c.reads & ~c.tagged(kNoreturn);
  c.po_opt = opt(c.po, all);
  Rel acq_po = between(c.tagged(kAcquireTag), c.po, mem);
  c.po_rel = between(mem, c.po, c.tagged(kReleaseTag));
  Rel rmb = between(r4rmb, fencerel(kRmb), r4rmb);
  c.wmb = between(c.writes, fencerel(kWmb), c.writes);
  Rel mb = between(mem, fencerel(kMb), mem) |
           between(mem, seq(fencerel(kBeforeAtomic), id(rmw_events), c.po_opt), mem) |
           between(mem, seq(c.po_opt, id(rmw_events), fencerel(kAfterAtomic)), mem);
  Rel gp = seq(c.po, id(c.tagged(kSyncRcu | kSyncSrcu)), c.po_opt);
  c.strong_fence = mb | gp;
  Rel fence = c.strong_fence | c.po_rel | acq_po | c.wmb | rmb;
  c.dep = c.addr | c.data;
  c.ppo_fixed = c.addr | between(all, c.dep | c.ctrl, c.writes) | fence;
  c.rmw_read = inverse(c.rmw);
  c.gps = c.tagged(kSyncRcu);
  c.sgps = c.tagged(kSyncSrcu);
  auto vars = static_cast<size_t>(__builtin_popcountll(c.init));  // an initial write each
  c.reads_of.assign(vars, 0);
  c.writes_of.assign(vars, 0);
  for (int i = 0; i < c.n; ++i) {
    int l = c.ev[static_cast<size_t>(i)].loc;
    if (c.reads & bit(i)) c.reads_of[static_cast<size_t>(l)] |= bit(i);
    if ((c.writes & ~c.init) & bit(i)) c.writes_of[static_cast<size_t>(l)] |= bit(i);
  }
}

// The LKMM's axioms over `c` with reads-from `rf` and coherence `co`
// (linux-kernel.cat, without lock.cat and the plain-access part), but
// coherence and atomicity, which the enumeration checks per variable.
bool consistent(const Candidate& c, const Rel& rf, const Rel& co) {
  g_events = c.n;
  Set all = c.all;
  Rel fr = seq(inverse(rf), co);
  Rel rfe = rf & c.ext, rfi = rf & c.same_cpu;
  Rel overwrite = co | fr;
  Rel ppo = c.ppo_fixed | seq(c.dep, rfi) | (overwrite & c.same_cpu);
  // Through an RMW that read a write, on to the RMW's write (rmw-sequence).
  Rel cumul = c.strong_fence | c.po_rel;
  Rel cumul_fence = seq(cumul | seq(rfe, cumul) | c.wmb, star(seq(rf, c.rmw), all));
  Rel prop = seq(opt(overwrite & c.ext, all), star(cumul_fence, all), opt(rfe, all));
  Rel hb = ppo | rfe | (minus_id(prop) & c.same_cpu);
  if (!acyclic(hb)) return false;  // happens-before
  Set gps = c.gps, sgps = c.sgps;
  if (empty(c.strong_fence) && !gps && !sgps) return true;  // no pb, no rb
  Rel hb_star = star(hb, all);
  Rel pb = seq(prop, c.strong_fence, hb_star);
  if (!acyclic(pb)) return false;  // propagation
  if (!gps && !sgps) return true;
  // RCU: rcu-fence, the least fixed point of its recursive definition.
  Rel pb_star = star(pb, all);
  Rel link = seq(seq(c.po_opt, hb_star), seq(pb_star, prop), c.po);
  Rel g = id(gps), sg = id(sgps), rs = inverse(c.rcu_rscs), srs = inverse(c.srcu_rscs);
  Rel base = g | sg | seq(g, link, rs) | (seq(sg, link, srs) & c.same_loc) | seq(rs, link, g) |
             (seq(srs, link, sg) & c.same_loc);
  Rel rcu_fence = base;
  for (;;) {
    Rel lf = seq(link, rcu_fence, link);
    Rel next = base | seq(g, lf, rs) | (seq(sg, lf, srs) & c.same_loc) | seq(rs, lf, g) |
               (seq(srs, lf, sg) & c.same_loc) | seq(rcu_fence, link, rcu_fence);
    if (next == rcu_fence) break;
    rcu_fence = next;
  }
  Rel rb = seq(seq(prop, c.po), seq(rcu_fence, c.po_opt), seq(hb_star, pb_star));
  return irreflexive(rb);  // rcu
}

// ---- enumeration -------------------------------------------------------------

class Enumerator {
 public:
  Enumerator(const Litmus& t, double seconds)
      : p_(*t.program), deadline_(std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds))),
        timed_(seconds > 0),
        registers_decide_(!mentions_memory(p_.condition) && !(p_.has_filter && mentions_memory(p_.filter)) &&
                          std::all_of(p_.shown.begin(), p_.shown.end(), [](const auto& s) { return s.first >= 0; })) {}

  LitmusRun run() {
    settle_values();
    each_combination(0);
    return std::move(r_);
  }

 private:
  // The values each variable may hold: its initial one, every number the
  // program names (a value may justify itself through a cycle, as herd7's
  // symbolic values do: crypto-control-data), and what some path writes,
  // until writes that depend on reads add nothing new, or until as many
  // rounds as an execution has writes: a value read comes through a chain
  // of writes, each computed from what the one before wrote, with no write
  // twice (a cycle of data dependencies is one of hb), so longer chains
  // (atomic_inc() on a value that grew each round) are no execution's.
  void settle_values() {
    values_.assign(p_.vars.size(), {});
    for (size_t v = 0; v < p_.vars.size(); ++v) {
      values_[v].insert(p_.init[v]);
      for (uint64_t k : p_.constants) values_[v].insert(static_cast<int64_t>(k));
    }
    for (size_t round = 0;; ++round) {
      Walker w(p_, values_);
      paths_.clear();
      size_t writes = 0;  // the most an execution makes
      for (size_t c = 0; c < p_.cpus.size(); ++c) {
        paths_.push_back(w.paths(static_cast<int>(c)));
        size_t most = 0;
        for (const Path& path : paths_.back())
          most = std::max<size_t>(most, std::count_if(path.events.begin(), path.events.end(),
                                                      [](const Event& e) { return (e.tags & kWrite) != 0; }));
        writes += most;
      }
      bool grew = false;
      for (auto [loc, value] : w.written_) grew = values_[static_cast<size_t>(loc)].insert(value).second || grew;
      for (const auto& v : values_)
        if (v.size() > kMaxValues) unsupported(fmt::format("a variable may hold more than {} values", kMaxValues));
      if (!grew || round >= writes) return;
    }
  }

  static bool mentions_memory(const Prop& p) {
    return p.var >= 0 || std::any_of(p.args.begin(), p.args.end(), mentions_memory);
  }
  // Whether this choice of paths needs no more candidates: its state is
  // known (registers_decide_), or time is up.
  bool done() const { return r_.unfinished || found_; }

  void each_combination(size_t cpu) {
    if (r_.unfinished) return;
    if (cpu == paths_.size()) {
      found_ = false;
      return each_rf(combine(p_, chosen_));
    }
    for (const Path& path : paths_[cpu]) {
      chosen_.push_back(&path);
      each_combination(cpu + 1);
      chosen_.pop_back();
    }
  }

  // Variable by variable: an order of its writes, then a write of the
  // right value for each of its reads to read from; what breaks coherence
  // or atomicity on it is dropped before the next variable multiplies it.
  // The variables with the most writes go first: their orders meet the
  // axioms' cycles soonest.
  void each_rf(const Candidate& c) {
    Rel rf;
    std::vector<std::vector<int>> per_var(p_.vars.size());
    levels_.resize(p_.vars.size());
    for (size_t v = 0; v < levels_.size(); ++v) levels_[v] = v;
    std::stable_sort(levels_.begin(), levels_.end(), [&](size_t a, size_t b) {
      return __builtin_popcountll(c.writes_of[a]) > __builtin_popcountll(c.writes_of[b]);
    });
    next_var(c, rf, per_var, 0);
  }
  void next_var(const Candidate& c, Rel& rf, std::vector<std::vector<int>>& per_var, size_t level) {
    if (timed_ && std::chrono::steady_clock::now() > deadline_) r_.unfinished = true;
    if (done()) return;
    if (level == levels_.size()) return check(c, rf, per_var);
    pick_co(c, rf, per_var, level, c.writes_of[levels_[level]]);
  }
  // Each order of the variable's writes after its initial write that
  // keeps each CPU's writes in program order (coherence), an RMW's write
  // right after one of the value its read returned (atomicity).
  void pick_co(const Candidate& c, Rel& rf, std::vector<std::vector<int>>& per_var, size_t level, Set left) {
    if (done()) return;
    size_t v = levels_[level];
    auto& order = per_var[v];
    if (left == 0) {
      return pick_rf(c, c.reads_of[v], rf, per_var, level);
    }
    int64_t last = c.ev[static_cast<size_t>(order.empty() ? static_cast<int>(v) : order.back())].value;
    for (Set s = left; s; s &= s - 1) {
      int w = __builtin_ctzll(s);
      if (Set r = c.rmw_read.to[w]; r && c.ev[static_cast<size_t>(__builtin_ctzll(r))].value != last) continue;
      bool po_first = true;  // no write of its CPU to the variable left before it
      for (Set o = left & ~bit(w); o; o &= o - 1)
        if (c.po.to[__builtin_ctzll(o)] & bit(w)) po_first = false;
      if (!po_first) continue;
      order.push_back(w);
      pick_co(c, rf, per_var, level, left & ~bit(w));
      order.pop_back();
    }
  }
  // A write for each read: an RMW's read reads the write just before its
  // own in coherence (atomicity), any other read a write of its value
  // that is not its own CPU's after it.
  void pick_rf(const Candidate& c, Set reads, Rel& rf, std::vector<std::vector<int>>& per_var, size_t level) {
    if (done()) return;
    size_t v = levels_[level];
    if (reads == 0) {
      if (coherent(c, rf, per_var[v], static_cast<int>(v)) && consistent_so_far(c, rf, per_var, level))
        next_var(c, rf, per_var, level + 1);
      return;
    }
    int r = __builtin_ctzll(reads);
    const Event& e = c.ev[static_cast<size_t>(r)];
    Set from = c.writes;
    if (Set own = c.rmw.to[r]) {
      const auto& order = per_var[v];
      auto at = std::find(order.begin(), order.end(), __builtin_ctzll(own));
      from = bit(at == order.begin() ? static_cast<int>(v) : *(at - 1));
    }
    for (; from; from &= from - 1) {
      int w = __builtin_ctzll(from);
      const Event& x = c.ev[static_cast<size_t>(w)];
      if (x.loc != e.loc || x.value != e.value || (c.po.to[r] & bit(w))) continue;
      rf.to[w] |= bit(r);
      pick_rf(c, reads & (reads - 1), rf, per_var, level);
      rf.to[w] &= ~bit(r);
    }
  }
  // The axioms over the variables of the levels up to `level`: every
  // relation they use only grows as later variables add their reads-from
  // and coherence edges, so a cycle here is one in every candidate that
  // extends this one.
  bool consistent_so_far(const Candidate& c, const Rel& rf, const std::vector<std::vector<int>>& per_var, size_t level) {
    if (level + 1 == levels_.size()) return true;  // check() does the whole
    Rel co;
    for (size_t l = 0; l <= level; ++l) co |= coherence_order(per_var[levels_[l]], static_cast<int>(levels_[l]));
    return consistent(c, rf, co);
  }
  // Coherence on variable `v` alone: po-loc | rf | co | fr acyclic there.
  static bool coherent(const Candidate& c, const Rel& rf, const std::vector<int>& order, int v) {
    Rel co = coherence_order(order, v), rel = rf | co | seq(inverse(rf), co);
    for (int i = 0; i < c.n; ++i)
      if (c.ev[static_cast<size_t>(i)].loc == v && ((c.reads | c.writes) & bit(i)))
        for (Set s = c.po.to[i]; s; s &= s - 1) {
          int j = __builtin_ctzll(s);
          if (c.ev[static_cast<size_t>(j)].loc == v && ((c.reads | c.writes) & bit(j))) rel.to[i] |= bit(j);
        }
    return acyclic(rel);
  }
  static Rel coherence_order(const std::vector<int>& order, int v) {
    Rel co;
    Set before = bit(v);  // the initial write
    for (int w : order) {
      for (Set s = before; s; s &= s - 1) co.to[__builtin_ctzll(s)] |= bit(w);
      before |= bit(w);
    }
    return co;
  }
  void check(const Candidate& c, const Rel& rf, const std::vector<std::vector<int>>& per_var) {
    Rel co;
    for (size_t v = 0; v < per_var.size(); ++v) co |= coherence_order(per_var[v], static_cast<int>(v));
    ++r_.executions;
    if (!consistent(c, rf, co)) return;
    record(c, per_var);
  }
  void record(const Candidate& c, const std::vector<std::vector<int>>& per_var) {
    World w;
    for (size_t v = 0; v < per_var.size(); ++v) {
      int last = per_var[v].empty() ? static_cast<int>(v) : per_var[v].back();
      w.words.push_back(std::make_unique<model::Word>(static_cast<uint64_t>(c.ev[static_cast<size_t>(last)].value)));
    }
    w.regs.resize(p_.cpus.size());
    for (size_t t = 0; t < p_.cpus.size(); ++t) w.regs[t] = chosen_[t]->regs;
    r_.outcomes.insert(final_state(p_, w));
    if (p_.has_filter && !holds(p_.filter, w)) return;
    ++r_.states[herd_state(p_, w)];
    bool yes = holds(p_.condition, w);
    ++(yes ? r_.positive : r_.negative);
    r_.reached = r_.reached || yes;
    found_ = registers_decide_;
  }

  const LitmusProgram& p_;
  std::chrono::steady_clock::time_point deadline_;
  bool timed_;
  static constexpr size_t kMaxValues = 32;
  std::vector<std::set<int64_t>> values_;
  std::vector<std::vector<Path>> paths_;
  std::vector<const Path*> chosen_;
  std::vector<size_t> levels_;  // the variables in the order the enumeration takes them
  // When the condition, the filter and the locations shown name registers
  // only, a choice of paths decides the state: one consistent candidate
  // of it is enough (found_), and the rest of its candidates are not
  // looked at.
  bool registers_decide_;
  bool found_ = false;  // each CPU's path in the candidate being built
  LitmusRun r_;
};

}  // namespace

LitmusRun run_litmus_lkmm(const Litmus& t, double seconds) { return Enumerator(t, seconds).run(); }

}  // namespace faultline_check
