// src/check/litmus.cc — parsing and running C litmus tests (see litmus.h).
//
// A test is parsed once into statements; each execution builds its shared
// words anew (in the same order, so that word ids match between executions,
// see model::Word) and runs each CPU's statements as a fiber, every memory
// access through the model backend.
#include "check/litmus.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>
#include <functional>
#include <map>
#include <stdexcept>

#include "sync/model/model.h"

namespace faultline_check {

namespace model = faultline::sync::model;

namespace {

constexpr int kRelaxed = 0, kAcquire = 2, kRelease = 3, kSeqCst = 5;
constexpr uint64_t kAll = ~uint64_t{0};
constexpr int64_t kAddress = int64_t{1} << 40;  // a variable's address: kAddress + its index

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("litmus: " + what); }

// ---- tokens ------------------------------------------------------------------

struct Lexer {
  std::string s;
  size_t i = 0;
  std::vector<std::string> comments;

  void skip() {
    for (;;) {
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      // "(*" opens an OCaml-style comment; "(*x" is a call's dereference.
      bool ml = s.compare(i, 2, "(*") == 0 && (i + 2 >= s.size() || std::isspace(static_cast<unsigned char>(s[i + 2])));
      if (ml) comment("*)");
      else if (s.compare(i, 2, "/*") == 0) comment("*/");
      else if (s.compare(i, 2, "//") == 0) i = std::min(s.size(), s.find('\n', i));
      else return;
    }
  }
  void comment(const char* end) {
    size_t e = s.find(end, i + 2);
    if (e == std::string::npos) bad("a comment is not closed");
    comments.push_back(s.substr(i + 2, e - i - 2));
    i = e + 2;
  }
  bool at_end() {
    skip();
    return i >= s.size();
  }
  std::string peek() {
    size_t save = i;
    std::string t = next();
    i = save;
    return t;
  }
  std::string next() {
    skip();
    if (i >= s.size()) return "";
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t b = i;
    if (std::isalnum(c) || c == '_') {
      while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_')) ++i;
      return s.substr(b, i - b);
    }
    for (const char* two : {"==", "!=", "/\\", "\\/"})
      if (s.compare(i, 2, two) == 0) {
        i += 2;
        return two;
      }
    ++i;
    return std::string(1, static_cast<char>(c));
  }
  void expect(const std::string& t) {
    std::string got = next();
    if (got != t) bad(fmt::format("expected '{}' but found '{}'", t, got));
  }
  std::string rest_of_line() {
    size_t e = s.find('\n', i);
    std::string line = s.substr(i, e == std::string::npos ? std::string::npos : e - i);
    i = e == std::string::npos ? s.size() : e;
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) line.erase(0, 1);
    return line;
  }
};

bool is_number(const std::string& t) {
  return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

}  // namespace

// ---- the program -----------------------------------------------------------------

// An operand: a number, a register's value, or a variable's address.
struct Operand {
  enum Kind { number, reg, address } kind = number;
  int64_t n = 0;  // number; address: the variable's index
  std::string name;
};
// A shared location: `*x` or `x` for a variable, `*r` for the variable
// whose address register r holds.
struct Location {
  int var = -1;      // the variable, or
  std::string reg;   // a register holding its address
};
struct Cond {
  Operand a, b;
  std::string op;  // "==", "!=" or "" (a != 0)
};

struct Stmt {
  enum Kind { assign, load, store, rmw, cmpxchg, barrier, lock, unlock, rcu_lock, rcu_unlock, sync_rcu, branch };
  Kind kind = barrier;
  std::string reg;  // assigned; empty: none
  Location loc;
  Operand a, b;     // value(s)
  int order = kRelaxed;
  model::Rmw op = model::Rmw::xchg;
  bool returns = true;
  model::Fence fence = model::Fence::full;
  Cond cond;
  std::vector<Stmt> then, otherwise;
};

struct Atom {
  int cpu = -1;  // -1: a variable's final value
  std::string reg;
  int var = -1;
  Operand value;
};

struct LitmusProgram {
  std::vector<uint64_t> constants;  // the numbers it stores: what a load may be promised
  std::vector<std::string> vars;
  std::vector<int64_t> init;  // raw values (addresses encoded)
  std::vector<std::vector<Stmt>> cpus;
  std::vector<std::vector<Atom>> exists;  // a disjunction of conjunctions
};

namespace {

class Parser {
 public:
  explicit Parser(const std::string& text) { lx_.s = text; }

  Litmus parse() {
    Litmus t;
    if (lx_.next() != "C") bad("a test starts with 'C NAME'");
    t.name = lx_.rest_of_line();
    if (t.name.empty()) bad("the test has no name");
    auto p = std::make_shared<LitmusProgram>();
    prog_ = p.get();
    if (lx_.peek() == "{") init();
    while (lx_.peek().size() > 1 && lx_.peek()[0] == 'P') cpu();
    if (prog_->cpus.empty()) bad("no CPU (P0, P1, ...)");
    if (lx_.peek() == "locations") {
      lx_.next();
      lx_.rest_of_line();
    }
    if (lx_.next() != "exists") bad("expected the 'exists' clause");
    exists();
    verdicts(t);
    t.program = std::move(p);
    return t;
  }

 private:
  int var(const std::string& name, bool create) {
    for (size_t i = 0; i < prog_->vars.size(); ++i)
      if (prog_->vars[i] == name) return static_cast<int>(i);
    if (!create) return -1;
    prog_->vars.push_back(name);
    prog_->init.push_back(0);
    return static_cast<int>(prog_->vars.size() - 1);
  }

  // { x=1; y=x; int z; spinlock_t l; }
  void init() {
    lx_.expect("{");
    while (lx_.peek() != "}") {
      std::string a = lx_.next();
      if (a.empty()) bad("the initial state is not closed");
      if (a == ";") continue;
      while (lx_.peek() != "=" && lx_.peek() != ";" && lx_.peek() != "}") a = lx_.next();
      if (a == "*") bad("a pointer in the initial state");
      int v = var(a, true);
      if (lx_.peek() == "=") {
        lx_.next();
        std::string value = lx_.next();
        if (value == "&") value = lx_.next();
        prog_->init[static_cast<size_t>(v)] = is_number(value) ? std::stoll(value) : kAddress + var(value, true);
      }
    }
    lx_.next();
  }

  void cpu() {
    std::string name = lx_.next();
    if (name != fmt::format("P{}", prog_->cpus.size())) bad(fmt::format("expected P{} but found {}", prog_->cpus.size(), name));
    lx_.expect("(");
    std::string last;
    for (std::string t = lx_.next(); t != ")"; t = lx_.next()) {
      if (t.empty()) bad("a parameter list is not closed");
      if (t == ",") var(last, true);
      else last = t;
    }
    if (!last.empty() && last != "void") var(last, true);
    regs_.clear();
    prog_->cpus.push_back(block());
  }

  std::vector<Stmt> block() {
    lx_.expect("{");
    std::vector<Stmt> body;
    while (lx_.peek() != "}") {
      if (lx_.peek().empty()) bad("a block is not closed");
      statement(body);
    }
    lx_.next();
    return body;
  }

  void statement(std::vector<Stmt>& body) {
    std::string t = lx_.next();
    if (t == ";") return;
    if (t == "int" || t == "intptr_t") {
      std::string r = lx_.next();
      while (r == "*") r = lx_.next();
      regs_.push_back(r);
      if (lx_.peek() == "=") {
        lx_.next();
        body.push_back(rhs(r));
      }
      lx_.expect(";");
      return;
    }
    if (t == "if") return branch(body);
    if (is_reg(t) && lx_.peek() == "=") {
      lx_.next();
      body.push_back(rhs(t));
      lx_.expect(";");
      return;
    }
    body.push_back(call(t, ""));
    lx_.expect(";");
  }

  void branch(std::vector<Stmt>& body) {
    Stmt s;
    s.kind = Stmt::branch;
    lx_.expect("(");
    s.cond.a = operand();
    if (lx_.peek() == "==" || lx_.peek() == "!=") {
      s.cond.op = lx_.next();
      s.cond.b = operand();
    }
    lx_.expect(")");
    s.then = arm();
    if (lx_.peek() == "else") {
      lx_.next();
      s.otherwise = arm();
    }
    body.push_back(std::move(s));
  }
  std::vector<Stmt> arm() {
    if (lx_.peek() == "{") return block();
    std::vector<Stmt> one;
    statement(one);
    return one;
  }

  bool is_reg(const std::string& t) const { return std::find(regs_.begin(), regs_.end(), t) != regs_.end(); }

  Stmt rhs(const std::string& reg) {
    std::string t = lx_.next();
    if (lx_.peek() != "(") {
      Stmt s;
      s.kind = Stmt::assign;
      s.reg = reg;
      s.a = name_operand(t);
      return s;
    }
    return call(t, reg);
  }

  Operand name_operand(const std::string& t) {
    if (is_number(t)) {
      uint64_t n = std::stoull(t);
      if (std::find(prog_->constants.begin(), prog_->constants.end(), n) == prog_->constants.end())
        prog_->constants.push_back(n);
      return {Operand::number, static_cast<int64_t>(n), t};
    }
    if (t == "-") {
      std::string n = lx_.next();
      if (!is_number(n)) bad("expected a number after '-'");
      return {Operand::number, -std::stoll(n), "-" + n};
    }
    if (is_reg(t)) return {Operand::reg, 0, t};
    int v = var(t, false);
    if (v < 0) bad(fmt::format("unknown name '{}'", t));
    return {Operand::address, v, t};
  }
  Operand operand() {
    std::string t = lx_.next();
    if (t == "&") t = lx_.next();
    return name_operand(t);
  }

  Location location() {
    std::string t = lx_.next();
    if (t == "*") t = lx_.next();
    if (is_reg(t)) return {-1, t};
    int v = var(t, false);
    if (v < 0) bad(fmt::format("unknown location '{}'", t));
    return {v, ""};
  }

  static int suffix_order(const std::string& f, const std::string& base, int plain) {
    if (f == base) return plain;
    if (f == base + "_relaxed") return kRelaxed;
    if (f == base + "_acquire") return kAcquire;
    if (f == base + "_release") return kRelease;
    return -1;
  }

  Stmt call(const std::string& f, const std::string& reg) {
    Stmt s;
    s.reg = reg;
    lx_.expect("(");
    static const std::map<std::string, model::Fence> kFences = {
        {"smp_mb", model::Fence::full},
        {"smp_rmb", model::Fence::read},
        {"smp_wmb", model::Fence::write},
        {"smp_mb__before_atomic", model::Fence::before_atomic},
        {"smp_mb__after_atomic", model::Fence::after_atomic},
        {"smp_mb__after_spinlock", model::Fence::full},
        {"smp_mb__after_unlock_lock", model::Fence::full}};
    if (auto it = kFences.find(f); it != kFences.end()) {
      s.fence = it->second;
    } else if (f == "READ_ONCE" || f == "smp_load_acquire" || f == "rcu_dereference") {
      s.kind = Stmt::load;
      s.loc = location();
      s.order = f == "READ_ONCE" ? kRelaxed : kAcquire;
    } else if (f == "WRITE_ONCE" || f == "smp_store_release" || f == "rcu_assign_pointer") {
      s.kind = Stmt::store;
      s.loc = location();
      lx_.expect(",");
      s.a = operand();
      s.order = f == "WRITE_ONCE" ? kRelaxed : kRelease;
    } else if (int o = std::max(suffix_order(f, "xchg", kSeqCst), suffix_order(f, "cmpxchg", kSeqCst)); o >= 0) {
      bool cx = f.rfind("cmpxchg", 0) == 0;  // cmpxchg(x, old, new); xchg(x, new)
      s.kind = cx ? Stmt::cmpxchg : Stmt::rmw;
      s.order = o;
      s.loc = location();
      lx_.expect(",");
      s.a = operand();
      if (cx) {
        lx_.expect(",");
        s.b = operand();
      }
    } else if (f == "atomic_inc" || f == "atomic_add" || f == "set_bit") {
      s.kind = Stmt::rmw;
      s.returns = false;
      s.op = f == "set_bit" ? model::Rmw::or_ : model::Rmw::add;
      s.a = {Operand::number, 1, "1"};
      if (f != "atomic_inc") {
        s.a = operand();
        lx_.expect(",");
        if (f == "set_bit") s.a = {Operand::number, int64_t{1} << s.a.n, ""};
      }
      s.loc = location();
    } else if (f == "spin_lock" || f == "spin_unlock") {
      s.kind = f == "spin_lock" ? Stmt::lock : Stmt::unlock;
      s.loc = location();
    } else if (f == "rcu_read_lock" || f == "rcu_read_unlock" || f == "synchronize_rcu") {
      s.kind = f == "rcu_read_lock" ? Stmt::rcu_lock : f == "rcu_read_unlock" ? Stmt::rcu_unlock : Stmt::sync_rcu;
    } else {
      bad(fmt::format("unsupported primitive '{}'", f));
    }
    lx_.expect(")");
    if (!reg.empty() && s.kind != Stmt::load && s.kind != Stmt::cmpxchg && !(s.kind == Stmt::rmw && s.returns))
      bad(fmt::format("'{}' returns no value", f));
    return s;
  }

  // exists (0:r0=1 /\ x=2 \/ ...)
  void exists() {
    bool paren = lx_.peek() == "(";
    if (paren) lx_.next();
    prog_->exists.emplace_back();
    for (;;) {
      prog_->exists.back().push_back(atom());
      std::string t = lx_.peek();
      if (t == "/\\") {
        lx_.next();
      } else if (t == "\\/") {
        lx_.next();
        prog_->exists.emplace_back();
      } else {
        break;
      }
    }
    if (paren) lx_.expect(")");
    if (!lx_.at_end()) bad(fmt::format("unexpected '{}' after the exists clause", lx_.next()));
  }
  Atom atom() {
    Atom a;
    std::string t = lx_.next();
    if (is_number(t)) {
      a.cpu = std::stoi(t);
      if (a.cpu >= static_cast<int>(prog_->cpus.size())) bad(fmt::format("no CPU {} in '{}:'", t, t));
      lx_.expect(":");
      a.reg = lx_.next();
    } else {
      a.var = var(t, false);
      if (a.var < 0) bad(fmt::format("unknown variable '{}' in the exists clause", t));
    }
    lx_.expect("=");
    std::string v = lx_.next();
    if (is_number(v)) a.value = {Operand::number, std::stoll(v), v};
    else if (int x = var(v, false); x >= 0) a.value = {Operand::address, x, v};
    else bad(fmt::format("unknown value '{}' in the exists clause", v));
    return a;
  }

  void verdicts(Litmus& t) {
    for (const std::string& c : lx_.comments)
      for (auto [key, field] : {std::pair{"Result:", &t.lkmm}, {" sc:", &t.sc}, {" tso:", &t.tso},
                                {"faultline weak:", &t.weak_differs}}) {
        size_t k = c.find(key);
        if (k == std::string::npos) continue;
        Lexer word;
        word.s = c.substr(k + std::string(key).size());
        *field = word.next();
        if (*field != "Never" && *field != "Sometimes" && *field != "Always")
          bad(fmt::format("verdict '{}' after '{}' (Never, Sometimes or Always)", *field, key));
      }
  }

  Lexer lx_;
  LitmusProgram* prog_ = nullptr;
  std::vector<std::string> regs_;
};

// ---- running -------------------------------------------------------------------

const std::source_location kLoc = std::source_location::current();

struct World {
  std::vector<std::unique_ptr<model::Word>> words;
  std::vector<std::map<std::string, int64_t>> regs;
};

class Cpu {
 public:
  Cpu(World& w, int id) : w_(w), regs_(w.regs[static_cast<size_t>(id)]) {}
  void run(const std::vector<Stmt>& body) {
    for (const Stmt& s : body) step(s);
  }

 private:
  int64_t value(const Operand& o) {
    if (o.kind == Operand::number) return o.n;
    if (o.kind == Operand::address) return kAddress + o.n;
    return regs_[o.name];
  }
  model::Word* word(const Location& l) {
    int64_t v = l.var >= 0 ? l.var : regs_[l.reg] - kAddress;
    if (v < 0 || v >= static_cast<int64_t>(w_.words.size()))
      model::fail(fmt::format("litmus: register {} holds no address", l.reg));
    return w_.words[static_cast<size_t>(v)].get();
  }
  void set(const std::string& reg, uint64_t v) {
    if (!reg.empty()) regs_[reg] = static_cast<int64_t>(v);
  }
  void lock(model::Word* l) {
    for (;;) {
      uint64_t expected = 0;
      model::next_store_depends_on(control());
      if (model::cas(l, kAll, expected, 1, kAcquire, kLoc)) return;
      while (model::load(l, kAll, kRelaxed, kLoc) != 0) model::spin(kLoc);
    }
  }
  bool holds(const Cond& c) {
    int64_t a = value(c.a);
    if (c.op.empty()) return a != 0;
    return (a == value(c.b)) == (c.op == "==");
  }

  void step(const Stmt& s) {
    switch (s.kind) {
      case Stmt::assign:
        if (!s.reg.empty()) taints_[s.reg] = taint(s.a);
        return set(s.reg, static_cast<uint64_t>(value(s.a)));
      case Stmt::load:
        set(s.reg, model::load(word(s.loc), kAll, s.order, kLoc));
        return loaded(s.reg);
      case Stmt::store:
        depends(s.loc, s.a, {});
        return model::store(word(s.loc), kAll, static_cast<uint64_t>(value(s.a)), s.order, kLoc);
      case Stmt::rmw:
        depends(s.loc, s.a, {});
        set(s.reg, model::rmw(word(s.loc), kAll, s.op, static_cast<uint64_t>(value(s.a)), s.order, s.returns, kLoc));
        return loaded(s.reg);
      case Stmt::cmpxchg: {
        uint64_t expected = static_cast<uint64_t>(value(s.a));
        depends(s.loc, s.a, s.b);
        model::cas(word(s.loc), kAll, expected, static_cast<uint64_t>(value(s.b)), s.order, kLoc);
        set(s.reg, expected);  // the old value, as cmpxchg() returns
        return loaded(s.reg);
      }
      case Stmt::barrier: return model::fence(s.fence, kLoc);
      case Stmt::lock: return lock(word(s.loc));
      case Stmt::unlock:
        depends(s.loc, {}, {});
        return model::store(word(s.loc), kAll, 0, kRelease, kLoc);
      case Stmt::rcu_lock: return model::rcu_read_lock();
      case Stmt::rcu_unlock: return model::rcu_read_unlock();
      case Stmt::sync_rcu: return model::synchronize_rcu(kLoc);
      case Stmt::branch: {
        control_.push_back(taint(s.cond.a) | taint(s.cond.b));
        run(holds(s.cond) ? s.then : s.otherwise);
        control_.pop_back();
        return;
      }
    }
  }

  // Load buffering: what each register's value depends on (a mask of the
  // promises its loads read), and the conditions the CPU is inside.
  uint64_t taint(const Operand& o) { return o.kind == Operand::reg ? taints_[o.name] : 0; }
  uint64_t taint(const Location& l) { return l.var >= 0 ? 0 : taints_[l.reg]; }
  uint64_t control() const {
    uint64_t t = 0;
    for (uint64_t c : control_) t |= c;
    return t;
  }
  // The next store or RMW depends on these operands and the conditions.
  void depends(const Location& l, const Operand& a, const Operand& b) {
    model::next_store_depends_on(taint(l) | taint(a) | taint(b) | control());
  }
  void loaded(const std::string& reg) {
    if (!reg.empty()) taints_[reg] = model::last_load_taint();
  }

  World& w_;
  std::map<std::string, int64_t>& regs_;
  std::map<std::string, uint64_t> taints_;
  std::vector<uint64_t> control_;
};

bool satisfied(const LitmusProgram& p, const World& w) {
  auto value = [](const Operand& o) { return o.kind == Operand::address ? kAddress + o.n : o.n; };
  for (const auto& conj : p.exists) {
    bool all = true;
    for (const Atom& a : conj) {
      int64_t got = 0;
      if (a.cpu >= 0) {
        const auto& r = w.regs[static_cast<size_t>(a.cpu)];
        auto it = r.find(a.reg);
        got = it == r.end() ? 0 : it->second;
      } else {
        got = static_cast<int64_t>(w.words[static_cast<size_t>(a.var)]->v);
      }
      all = all && got == value(a.value);
    }
    if (all) return true;
  }
  return false;
}

std::string final_state(const LitmusProgram& p, const World& w) {
  std::string s;
  for (size_t c = 0; c < w.regs.size(); ++c)
    for (const auto& [reg, v] : w.regs[c]) s += fmt::format("{}:{}={} ", c, reg, v);
  for (size_t i = 0; i < p.vars.size(); ++i) s += fmt::format("{}={} ", p.vars[i], w.words[i]->v);
  if (!s.empty()) s.pop_back();
  return s;
}

model::MemoryModel memory_model(const std::string& m) {
  if (m == "sc") return model::MemoryModel::sc;
  if (m == "tso") return model::MemoryModel::tso;
  if (m == "weak") return model::MemoryModel::weak;
  bad(fmt::format("unknown memory model '{}' (sc, tso, weak)", m));
}

}  // namespace

Litmus parse_litmus(const std::string& text) { return Parser(text).parse(); }

LitmusRun run_litmus(const Litmus& t, const std::string& mm_name, unsigned bound, unsigned reorder_bound) {
  model::MemoryModel mm = memory_model(mm_name);
  const LitmusProgram& p = *t.program;
  auto strategy = model::make_exhaustive_strategy(bound, reorder_bound);
  LitmusRun r;
  model::set_promise_values(p.constants);
  struct Off {
    ~Off() { model::set_promise_values({}); }
  } off;
  for (unsigned e = 0;; ++e) {
    strategy->begin(e);
    World w;
    for (int64_t v : p.init) w.words.push_back(std::make_unique<model::Word>(static_cast<uint64_t>(v)));
    w.regs.resize(p.cpus.size());
    std::vector<std::pair<std::string, std::function<void()>>> fibers;
    for (size_t c = 0; c < p.cpus.size(); ++c)
      fibers.push_back({fmt::format("P{}", c), [&w, &p, c] { Cpu(w, static_cast<int>(c)).run(p.cpus[c]); }});
    model::Outcome o = model::run(fibers, *strategy, mm, 100000);
    ++r.executions;
    if (o.infeasible) {  // a promised value no store kept (a spin on one may never end)
      if (!strategy->next()) return r;
      continue;
    }
    if (!o.failure.empty() || o.deadlock || o.step_limit)
      bad(fmt::format("{}: an execution {}", t.name,
                      !o.failure.empty() ? "failed: " + o.failure : o.deadlock ? "deadlocked" : "hit the step limit"));
    r.outcomes.insert(final_state(p, w));
    if (!r.reached && satisfied(p, w)) {
      r.reached = true;
      r.schedule = o.schedule;
      if (std::getenv("FAULTLINE_LITMUS_TRACE"))
        for (const auto& st : model::describe(o)) fmt::print(stderr, "P{} {} {}\n", st.fiber, st.where, st.what);
    }
    if (!strategy->next()) return r;
  }
}

}  // namespace faultline_check
