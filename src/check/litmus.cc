// src/check/litmus.cc — parsing and running C litmus tests (see litmus.h).
//
// A test is parsed once into statements; each execution builds its shared
// words anew (in the same order, so that word ids match between executions,
// see model::Word) and runs each CPU's statements as a fiber, every memory
// access through the model backend. A primitive inside an expression
// (`if (READ_ONCE(*x) == 1)`, `r = atomic_dec_and_test(a)`) is hoisted
// into a statement of its own that sets a hidden register, so that a
// statement does at most one access, in program order.
#include "check/litmus.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <optional>
#include <set>
#include <stdexcept>

#include "check/litmus_program.h"
#include "sync/model/model.h"

namespace faultline_check {

namespace {

constexpr uint64_t kAll = ~uint64_t{0};

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("litmus: " + what); }

// ---- tokens ------------------------------------------------------------------

struct Lexer {
  std::string s;
  size_t i = 0;
  std::vector<std::string> comments;
  bool in_code = false;  // inside a CPU's body

  void skip() {
    for (;;) {
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      // "(*" opens an OCaml-style comment, but in C code "(*x" is a
      // dereference in parentheses.
      bool ml = s.compare(i, 2, "(*") == 0 &&
                (!in_code || i + 2 >= s.size() || std::isspace(static_cast<unsigned char>(s[i + 2])));
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
    for (const char* two : {"==", "!=", "/\\", "\\/", "&&", "||", "<=", ">=", "<<", ">>"})
      if (s.compare(i, 2, two) == 0) {
        i += 2;
        return two;
      }
    ++i;
    return std::string(1, static_cast<char>(c));
  }
  void expect(const std::string& t) {
    std::string got = next();
    if (got != t) bad(fmt::format("expected '{}' but found '{}'", t, got.empty() ? "the end" : got));
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
bool is_name(const std::string& t) {
  return !t.empty() && (std::isalpha(static_cast<unsigned char>(t[0])) || t[0] == '_');
}
int64_t number(const std::string& t) {
  try {
    return std::stoll(t);
  } catch (const std::exception&) {
    bad(fmt::format("number '{}' is out of range", t));
  }
}

}  // namespace

namespace {

bool any_plain(const std::vector<Stmt>& code) {
  return std::any_of(code.begin(), code.end(),
                     [](const Stmt& s) { return s.plain || any_plain(s.then) || any_plain(s.otherwise); });
}


class Parser {
 public:
  explicit Parser(const std::string& text) { lx_.s = text; }

  Litmus parse() {
    Litmus t;
    std::string arch = lx_.next();
    if (arch != "C" && arch != "LISA") {
      for (const char* a : {"PPC", "X86", "X86_64", "ARM", "AArch64", "RISCV", "MIPS", "Bell", "BPF"})
        if (arch == a) throw LitmusNotC(fmt::format("litmus: a {} test (faultline reads herd7's C format)", arch));
      bad("a test starts with 'C NAME'");
    }
    t.name = lx_.rest_of_line();
    if (auto c = t.name.find("(*"); c != std::string::npos) {  // a comment after the name
      t.name.erase(c);
      while (!t.name.empty() && std::isspace(static_cast<unsigned char>(t.name.back()))) t.name.pop_back();
    }
    if (t.name.empty()) bad("the test has no name");
    auto p = std::make_shared<LitmusProgram>();
    prog_ = p.get();
    header();
    if (lx_.peek() == "{") init();
    if (arch == "LISA") lisa();
    while (is_cpu(lx_.peek())) cpu();
    if (prog_->cpus.empty()) bad("no CPU (P0, P1, ...)");
    prog_->reg_init.resize(prog_->cpus.size());
    for (auto& [key, v] : pending_reg_init_) {
      if (key.first >= static_cast<int>(prog_->cpus.size())) bad(fmt::format("no CPU {} in '{}:{}'", key.first, key.first, key.second));
      prog_->reg_init[static_cast<size_t>(key.first)][key.second] = v;
    }
    tail(t);
    verdicts(t);
    t.plain_accesses = std::any_of(prog_->cpus.begin(), prog_->cpus.end(), any_plain);
    t.program = std::move(p);
    return t;
  }

 private:
  static bool is_cpu(const std::string& t) { return t.size() > 1 && t[0] == 'P' && is_number(t.substr(1)); }

  // diy7's metadata lines and a quoted description, up to the initial state.
  void header() {
    while (!lx_.at_end() && lx_.peek() != "{" && !is_cpu(lx_.peek())) lx_.rest_of_line();
  }

  int var(const std::string& name, bool create) {
    for (size_t i = 0; i < prog_->vars.size(); ++i)
      if (prog_->vars[i] == name) return static_cast<int>(i);
    if (!create) return -1;
    if (!is_name(name)) bad(fmt::format("'{}' is not a variable's name", name));
    prog_->vars.push_back(name);
    prog_->init.push_back(0);
    return static_cast<int>(prog_->vars.size() - 1);
  }

  // { x=1; y=x; int *p = &x; 0:r1=x; spinlock_t l; atomic_t a = ATOMIC_INIT(1); }
  void init() {
    lx_.expect("{");
    while (lx_.peek() != "}") {
      std::string a = lx_.next();
      if (a.empty()) bad("the initial state is not closed");
      if (a == ";") continue;
      while (is_type(a) || a == "*") a = lx_.next();
      if (is_number(a) && lx_.peek() == ":") {
        lx_.next();
        std::string reg = lx_.next();
        int64_t& v = pending_reg_init_[{static_cast<int>(number(a)), reg}];
        if (lx_.peek() == "=") {
          lx_.next();
          v = init_value();
        }
        continue;
      }
      while (lx_.peek() != "=" && lx_.peek() != ";" && lx_.peek() != "}") {
        a = lx_.next();
        if (a.empty()) bad("the initial state is not closed");
      }
      int v = var(a, true);
      if (lx_.peek() == "=") {
        lx_.next();
        prog_->init[static_cast<size_t>(v)] = init_value();
      }
    }
    lx_.next();
  }
  int64_t init_value() {
    std::string value = lx_.next();
    if (value == "ATOMIC_INIT") {
      lx_.expect("(");
      int64_t v = init_value();
      lx_.expect(")");
      return v;
    }
    if (value == "&") value = lx_.next();
    if (value == "-") return -number(lx_.next());
    if (is_number(value)) return number(value);
    return kAddress + var(value, true);
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
    for (const auto& [key, v] : pending_reg_init_)
      if (key.first == static_cast<int>(prog_->cpus.size())) regs_.push_back(key.second);
    lx_.in_code = true;
    prog_->cpus.push_back(block());
    lx_.in_code = false;
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

  static bool is_type(const std::string& t) {
    for (const char* k : {"int", "intptr_t", "long", "unsigned", "u32", "u64", "bool", "char", "void", "const",
                          "volatile", "spinlock_t", "atomic_t", "struct"})
      if (t == k) return true;
    return false;
  }

  void statement(std::vector<Stmt>& body) {
    std::vector<Stmt>* saved = out_;
    out_ = &body;
    std::string t = lx_.peek();
    if (t == ";") {
      lx_.next();
    } else if (is_type(t)) {
      declaration();
    } else if (t == "if") {
      lx_.next();
      branch();
    } else if (t == "{") {
      for (Stmt& s : block()) body.push_back(std::move(s));
    } else {
      expression_statement();
    }
    out_ = saved;
  }

  // int r0, *r1 = READ_ONCE(*x);
  void declaration() {
    while (is_type(lx_.peek()) || lx_.peek() == "*") lx_.next();
    for (;;) {
      while (lx_.peek() == "*") lx_.next();
      std::string r = lx_.next();
      if (!is_name(r)) bad(fmt::format("expected a register's name but found '{}'", r));
      if (var(r, false) >= 0) bad(fmt::format("register '{}' has a shared variable's name", r));
      regs_.push_back(r);
      if (lx_.peek() == "=") {
        lx_.next();
        assign(r, expr());
      }
      if (lx_.peek() != ",") break;
      lx_.next();
    }
    lx_.expect(";");
  }

  void assign(const std::string& r, Expr e) {
    // A hoisted call's hidden register becomes the register itself.
    if (e.kind == Expr::reg && e.name[0] == kHidden && !out_->empty() && out_->back().reg == e.name) {
      out_->back().reg = r;
      return;
    }
    Stmt s;
    s.kind = Stmt::assign;
    s.reg = r;
    s.a = std::move(e);
    out_->push_back(std::move(s));
  }

  // r = e;  *x = e;  call(...);
  void expression_statement() {
    std::string t = lx_.peek();
    if (!is_reg(t) && is_name(t) && var(t, false) < 0 && assignment_ahead())
      regs_.push_back(t);  // diy7's tests assign registers they never declare
    if (is_reg(t)) {
      lx_.next();
      if (lx_.peek() != "=") bad(fmt::format("expected '=' after register '{}' but found '{}'", t, lx_.peek()));
      lx_.next();
      assign(t, expr());
    } else if (t == "*") {  // a plain store
      lx_.next();
      Stmt s;
      s.kind = Stmt::store;
      s.loc = unary();
      lx_.expect("=");
      s.a = expr();
      s.order = kRelaxed;
      s.plain = true;
      constant_of(s.a);
      out_->push_back(std::move(s));
    } else {
      expr();
    }
    lx_.expect(";");
  }

  bool assignment_ahead() {
    size_t save = lx_.i;
    lx_.next();
    bool yes = lx_.peek() == "=";
    lx_.i = save;
    return yes;
  }

  void branch() {
    Stmt s;
    s.kind = Stmt::branch;
    lx_.expect("(");
    s.a = expr();
    lx_.expect(")");
    s.then = arm();
    if (lx_.peek() == "else") {
      lx_.next();
      s.otherwise = arm();
    }
    out_->push_back(std::move(s));
  }
  std::vector<Stmt> arm() {
    std::vector<Stmt> body;
    statement(body);
    return body;
  }

  bool is_reg(const std::string& t) const { return std::find(regs_.begin(), regs_.end(), t) != regs_.end(); }

  // ---- expressions (C's precedence) ----

  static int precedence(const std::string& op) {
    static const std::map<std::string, int> kPrec = {{"||", 1}, {"&&", 2}, {"|", 3}, {"^", 4}, {"&", 5}, {"==", 6},
                                                      {"!=", 6}, {"<", 7},  {"<=", 7}, {">", 7}, {">=", 7}, {"<<", 8},
                                                      {">>", 8}, {"+", 9},  {"-", 9},  {"*", 10}, {"/", 10}, {"%", 10}};
    auto it = kPrec.find(op);
    return it == kPrec.end() ? 0 : it->second;
  }
  Expr expr(int min = 1) {
    Expr e = unary();
    for (;;) {
      std::string op = lx_.peek();
      int p = precedence(op);
      if (p < min) return e;
      lx_.next();
      Expr rhs = expr(p + 1);
      Expr b;
      b.kind = Expr::binary;
      b.name = op;
      b.args = {std::move(e), std::move(rhs)};
      e = std::move(b);
    }
  }
  Expr unary() {
    std::string t = lx_.next();
    if (t == "-" || t == "!" || t == "~") {
      Expr u;
      u.kind = Expr::unary;
      u.name = t;
      u.args = {unary()};
      return u;
    }
    if (t == "&") return address(lx_.next());
    if (t == "*") return plain_load(unary());
    if (t == "(") {
      if (is_type(lx_.peek())) {  // a cast: (int *)p
        while (lx_.peek() != ")" && !lx_.peek().empty()) lx_.next();
        lx_.expect(")");
        return unary();
      }
      Expr e = expr();
      lx_.expect(")");
      return e;
    }
    if (is_number(t)) {
      Expr n;
      n.n = number(t);
      constant(static_cast<uint64_t>(n.n));
      return n;
    }
    if (!is_name(t)) bad(fmt::format("expected a value but found '{}'", t.empty() ? "the end" : t));
    if (lx_.peek() == "(") return call(t);
    if (is_reg(t)) {
      Expr r;
      r.kind = Expr::reg;
      r.name = t;
      return r;
    }
    if (t == "NULL") return {};
    return address(t);
  }
  Expr address(const std::string& name) {
    int v = var(name, false);
    if (v < 0) bad(fmt::format("unknown name '{}'", name));
    Expr a;
    a.kind = Expr::address;
    a.n = v;
    a.name = name;
    return a;
  }
  // A location argument: `*x`, `x` (a variable, or a pointer to it: the
  // kernel's macros take both forms), `*r`, `&x`, or an address expression.
  Expr location() {
    if (lx_.peek() == "*") {
      lx_.next();
      return unary();
    }
    return expr();
  }
  void constant(uint64_t n) {
    if (std::find(prog_->constants.begin(), prog_->constants.end(), n) == prog_->constants.end())
      prog_->constants.push_back(n);
  }
  void constant_of(const Expr& e) {
    if (e.kind == Expr::number) constant(static_cast<uint64_t>(e.n));
  }

  Expr hidden_reg() {
    Expr r;
    r.kind = Expr::reg;
    r.name = fmt::format("{}{}", kHidden, hidden_++);
    regs_.push_back(r.name);
    return r;
  }
  // Emits `s`; when it yields a value, the value is a hidden register's.
  Expr emit(Stmt s, bool yields) {
    Expr r;
    if (yields) {
      r = hidden_reg();
      s.reg = r.name;
    }
    out_->push_back(std::move(s));
    return r;
  }
  Expr plain_load(Expr loc) {
    Stmt s;
    s.kind = Stmt::load;
    s.loc = std::move(loc);
    s.plain = true;
    return emit(std::move(s), true);
  }
  static Expr compare(Expr a, const std::string& op, int64_t n) {
    Expr b;
    b.kind = Expr::binary;
    b.name = op;
    Expr k;
    k.n = n;
    b.args = {std::move(a), std::move(k)};
    return b;
  }

  static int suffix_order(const std::string& f, const std::string& base, int plain) {
    if (f == base) return plain;
    if (f == base + "_relaxed") return kRelaxed;
    if (f == base + "_acquire") return kAcquire;
    if (f == base + "_release") return kRelease;
    return -1;
  }
  std::vector<Expr> arguments() {
    std::vector<Expr> v;
    lx_.expect("(");
    if (lx_.peek() == ")") {
      lx_.next();
      return v;
    }
    for (;;) {
      v.push_back(location());
      std::string t = lx_.next();
      if (t == ")") return v;
      if (t != ",") bad(fmt::format("expected ',' or ')' but found '{}'", t.empty() ? "the end" : t));
    }
  }
  static void arity(const std::string& f, const std::vector<Expr>& args, size_t n) {
    if (args.size() != n) bad(fmt::format("'{}' takes {} argument(s), not {}", f, n, args.size()));
  }

  Expr call(const std::string& f) {
    static const std::map<std::string, model::Fence> kFences = {
        {"smp_mb", model::Fence::full},
        {"smp_rmb", model::Fence::read},
        {"smp_wmb", model::Fence::write},
        {"smp_mb__before_atomic", model::Fence::before_atomic},
        {"smp_mb__after_atomic", model::Fence::after_atomic},
        {"smp_mb__after_spinlock", model::Fence::full},
        {"smp_mb__after_unlock_lock", model::Fence::full},
        {"smp_mb__after_srcu_read_unlock", model::Fence::after_srcu_read_unlock}};
    std::vector<Expr> args = arguments();
    Stmt s;
    if (auto it = kFences.find(f); it != kFences.end()) {
      arity(f, args, 0);
      s.fence = it->second;
      return emit(std::move(s), false);
    }
    if (f == "barrier") {  // a compiler barrier: the model reorders no accesses of one CPU's program on its own
      arity(f, args, 0);
      return {};
    }
    if (f == "READ_ONCE" || f == "smp_load_acquire" || f == "rcu_dereference" || f == "atomic_read" ||
        f == "atomic_read_acquire" || f == "rcu_dereference_raw") {
      arity(f, args, 1);
      s.kind = Stmt::load;
      s.loc = std::move(args[0]);
      s.order = f == "smp_load_acquire" || f == "atomic_read_acquire" ? kAcquire : kRelaxed;
      return emit(std::move(s), true);
    }
    if (f == "WRITE_ONCE" || f == "smp_store_release" || f == "rcu_assign_pointer" || f == "atomic_set" ||
        f == "atomic_set_release" || f == "smp_store_mb") {
      arity(f, args, 2);
      s.kind = Stmt::store;
      s.loc = std::move(args[0]);
      s.a = std::move(args[1]);
      constant_of(s.a);
      s.order = f == "smp_store_release" || f == "rcu_assign_pointer" || f == "atomic_set_release" ? kRelease : kRelaxed;
      s.fence_after = f == "smp_store_mb";
      return emit(std::move(s), false);
    }
    if (f == "spin_lock" || f == "spin_unlock" || f == "spin_trylock" || f == "spin_is_locked" ||
        f == "spin_unlock_wait") {
      arity(f, args, 1);
      static const std::map<std::string, Stmt::Kind> kLocks = {{"spin_lock", Stmt::lock},
                                                               {"spin_unlock", Stmt::unlock},
                                                               {"spin_trylock", Stmt::trylock},
                                                               {"spin_is_locked", Stmt::is_locked},
                                                               {"spin_unlock_wait", Stmt::unlock_wait}};
      s.kind = kLocks.at(f);
      s.loc = std::move(args[0]);
      return emit(std::move(s), s.kind == Stmt::trylock || s.kind == Stmt::is_locked);
    }
    if (f == "rcu_read_lock" || f == "rcu_read_unlock" || f == "synchronize_rcu" || f == "synchronize_rcu_expedited") {
      arity(f, args, 0);
      s.kind = f == "rcu_read_lock" ? Stmt::rcu_lock : f == "rcu_read_unlock" ? Stmt::rcu_unlock : Stmt::sync_rcu;
      return emit(std::move(s), false);
    }
    if (f == "srcu_read_lock" || f == "srcu_read_unlock" || f == "srcu_down_read" || f == "srcu_up_read" ||
        f == "synchronize_srcu" || f == "synchronize_srcu_expedited") {
      bool lock = f == "srcu_read_lock" || f == "srcu_down_read", unlock = f == "srcu_read_unlock" || f == "srcu_up_read";
      arity(f, args, unlock ? 2 : 1);
      s.kind = lock ? Stmt::srcu_lock : unlock ? Stmt::srcu_unlock : Stmt::sync_srcu;
      s.loc = std::move(args[0]);
      if (unlock) s.a = std::move(args[1]);
      return emit(std::move(s), lock);  // srcu_read_lock()'s index: the section's token
    }
    return atomic(f, std::move(args));
  }

  // xchg, cmpxchg and the atomic_t read-modify-writes.
  Expr atomic(const std::string& f, std::vector<Expr> args) {
    Stmt s;
    std::string base = f;
    int order = kSeqCst;
    for (const char* sfx : {"_relaxed", "_acquire", "_release"})
      if (f.size() > std::string(sfx).size() && f.ends_with(sfx)) {
        base = f.substr(0, f.size() - std::string(sfx).size());
        order = suffix_order(f, base, kSeqCst);
      }
    s.order = order;
    if (base == "xchg" || base == "atomic_xchg") {
      arity(f, args, 2);
      s.kind = Stmt::rmw;
      s.loc = std::move(args[0]);
      s.a = std::move(args[1]);
      constant_of(s.a);
      return emit(std::move(s), true);
    }
    if (base == "cmpxchg" || base == "atomic_cmpxchg") return three_operand(Stmt::cmpxchg, f, std::move(args), order);
    // atomic_OP(V, X), atomic_OP_return(V, X), atomic_fetch_OP(V, X), and
    // the inc/dec forms without V.
    static const std::map<std::string, std::pair<model::Rmw, int>> kOps = {
        {"add", {model::Rmw::add, 0}}, {"sub", {model::Rmw::sub, 0}}, {"inc", {model::Rmw::add, 1}},
        {"dec", {model::Rmw::sub, 1}}, {"and", {model::Rmw::and_, 0}}, {"or", {model::Rmw::or_, 0}},
        {"andnot", {model::Rmw::and_, 0}}};
    std::string op = base.starts_with("atomic_") ? base.substr(7) : base;
    bool fetch = op.starts_with("fetch_"), ret = op.ends_with("_return"), test = op.ends_with("_and_test");
    if (fetch) op = op.substr(6);
    if (ret) op = op.substr(0, op.size() - 7);
    if (test) op = op.substr(0, op.size() - 9);
    bool negative = op == "add_negative";
    if (negative) op = "add";
    if (f == "set_bit" || f == "clear_bit") {  // set_bit(N, X): unordered
      arity(f, args, 2);
      if (args[0].kind != Expr::number) bad(fmt::format("'{}' takes a constant bit number", f));
      s.kind = Stmt::rmw;
      s.returns = false;
      s.order = kRelaxed;
      s.op = f == "set_bit" ? model::Rmw::or_ : model::Rmw::and_;
      s.a.n = f == "set_bit" ? int64_t{1} << args[0].n : ~(int64_t{1} << args[0].n);
      s.loc = std::move(args[1]);
      return emit(std::move(s), false);
    }
    // atomic_add_unless(X, A, U): adds A to *X unless *X is U, fully
    // ordered when it adds; returns whether it added.
    if (base == "atomic_add_unless" && order == kSeqCst)
      return three_operand(Stmt::add_unless, f, std::move(args), order);
    auto it = kOps.find(op);
    if (!base.starts_with("atomic_") || it == kOps.end()) bad(fmt::format("unsupported primitive '{}'", f));
    bool plain_op = !fetch && !ret && !test && !negative;
    if ((plain_op || test || negative) && order != kSeqCst) bad(fmt::format("unsupported primitive '{}'", f));
    s.kind = Stmt::rmw;
    s.op = it->second.first;
    if (it->second.second) {
      arity(f, args, 1);
      s.a.n = 1;
      s.loc = std::move(args[0]);
    } else {
      arity(f, args, 2);
      s.a = std::move(args[0]);
      s.loc = std::move(args[1]);
    }
    if (op == "andnot") {
      Expr inv;
      inv.kind = Expr::unary;
      inv.name = "~";
      inv.args = {std::move(s.a)};
      s.a = std::move(inv);
    }
    constant_of(s.a);
    s.returns = !plain_op;
    s.order = plain_op ? kRelaxed : order;
    s.new_value = ret || test || negative;
    Expr v = emit(std::move(s), !plain_op);
    if (test) return compare(std::move(v), "==", 0);
    if (negative) return compare(std::move(v), "<", 0);
    return v;
  }

  // f(X, A, B) on *X: cmpxchg's old and new value, add_unless's addend and
  // limit; a value it may store is a constant a load may be promised.
  Expr three_operand(Stmt::Kind kind, const std::string& f, std::vector<Expr> args, int order) {
    arity(f, args, 3);
    Stmt s;
    s.kind = kind;
    s.order = order;
    s.loc = std::move(args[0]);
    s.a = std::move(args[1]);
    s.b = std::move(args[2]);
    constant_of(kind == Stmt::cmpxchg ? s.b : s.a);
    return emit(std::move(s), true);
  }

  // ---- after the CPUs ----

  void tail(Litmus& t) {
    if (lx_.peek() == "locations") {
      lx_.next();
      lx_.expect("[");
      while (lx_.peek() != "]") {
        if (lx_.peek().empty()) bad("'locations [' is not closed");
        if (lx_.peek() == ";") {
          lx_.next();
          continue;
        }
        Prop where;
        place(where);
        show(where);
        if (lx_.peek() == "*") lx_.next();  // herd7's `1:r1*`: shown as the register's value here
      }
      lx_.next();
    }
    if (lx_.peek() == "filter") {
      lx_.next();
      prog_->has_filter = true;
      prog_->filter = prop();
    }
    if (lx_.at_end()) {  // no final condition: every state counts (herd7 lists them)
      t.quantifier = "exists";
      return;
    }
    std::string q = lx_.next();
    if (q == "~") {
      lx_.expect("exists");
      q = "~exists";
    }
    if (q != "exists" && q != "~exists" && q != "forall")
      bad(fmt::format("expected 'exists', '~exists' or 'forall' but found '{}'", q.empty() ? "the end" : q));
    t.quantifier = q;
    prog_->condition = prop();
    if (lx_.peek() == ";") lx_.next();
    if (!lx_.at_end()) bad(fmt::format("unexpected '{}' after the final condition", lx_.next()));
  }

  // A disjunction of conjunctions of negations: `\/` binds loosest.
  Prop prop(bool conjunction = false) {
    const char* op = conjunction ? "/\\" : "\\/";
    auto operand = [&] { return conjunction ? negation() : prop(true); };
    Prop p = operand();
    while (lx_.peek() == op) {
      lx_.next();
      p = combine(conjunction ? Prop::conjunction : Prop::disjunction, std::move(p), operand());
    }
    return p;
  }
  static Prop combine(Prop::Kind k, Prop a, Prop b) {
    Prop p;
    p.kind = k;
    p.args = {std::move(a), std::move(b)};
    return p;
  }
  Prop negation() {
    std::string t = lx_.peek();
    if (t == "~" || t == "not") {
      lx_.next();
      Prop p;
      p.kind = Prop::negation;
      p.args = {negation()};
      return p;
    }
    if (t == "(") {
      lx_.next();
      Prop p = prop();
      lx_.expect(")");
      return p;
    }
    if (t == "true" || t == "false") {
      lx_.next();
      Prop p;
      p.truth = t == "true";
      return p;
    }
    return atom();
  }
  // Where an atom looks: `N:r`, `x` or `*x`.
  void place(Prop& a) {
    std::string t = lx_.next();
    if (t == "*") t = lx_.next();
    if (is_number(t) && lx_.peek() == ":") {
      a.cpu = static_cast<int>(number(t));
      if (a.cpu >= static_cast<int>(prog_->cpus.size())) bad(fmt::format("no CPU {} in '{}:'", t, t));
      lx_.expect(":");
      a.reg = lx_.next();
    } else {
      a.var = var(t, false);
      if (a.var < 0) bad(fmt::format("unknown variable '{}' in the final condition", t.empty() ? "the end" : t));
    }
  }
  void show(const Prop& a) {
    std::pair<int, std::string> key = a.cpu >= 0 ? std::pair{a.cpu, a.reg} : std::pair{-1, prog_->vars[static_cast<size_t>(a.var)]};
    if (std::find(prog_->shown.begin(), prog_->shown.end(), key) == prog_->shown.end()) prog_->shown.push_back(key);
  }
  Prop atom() {
    Prop a;
    a.kind = Prop::atom;
    place(a);
    show(a);
    std::string op = lx_.next();
    if (op != "=" && op != "!=") bad(fmt::format("expected '=' or '!=' but found '{}'", op.empty() ? "the end" : op));
    a.differs = op == "!=";
    std::string v = lx_.next();
    if (is_number(v) && lx_.peek() == ":") {  // another CPU's register: 0:r1=1:r2
      a.other_cpu = static_cast<int>(number(v));
      if (a.other_cpu >= static_cast<int>(prog_->cpus.size())) bad(fmt::format("no CPU {} in '{}:'", v, v));
      lx_.next();
      a.other_reg = lx_.next();
    } else if (v == "-") {
      a.value.n = -number(lx_.next());
    } else if (is_number(v)) {
      a.value.n = number(v);
    } else if (int x = var(v == "&" ? lx_.next() : v, false); x >= 0) {
      a.value.kind = Expr::address;
      a.value.n = x;
    } else {
      bad(fmt::format("unknown value '{}' in the final condition", v.empty() ? "the end" : v));
    }
    return a;
  }

  // ---- LISA, herd7's generic assembly ----------------------------------
  //
  // A table: a row naming the CPUs (`P0 | P1 ;`), then a row per step,
  // each CPU's instruction in its column: `r[once] r1 x` (also acquire,
  // and deref and lderef, rcu_dereference: a relaxed load), `w[once] x 1`
  // (also release, and assign, rcu_assign_pointer), `f[mb]` (rmb, wmb,
  // sync: synchronize_rcu, rcu_read_lock, rcu_read_unlock; rb_dep, which
  // the LKMM no longer orders by, does nothing), `mov r1 E` with E a
  // number, a register, a variable (its address) or `(op E E)` (add, sub,
  // xor, and, or, eq, neq), `b[] E L` (to label `L:` further down when E
  // is not 0). Registers are `r` and a number.
  struct LisaItem {
    std::string label;  // a label, or a branch's target
    bool branch = false;
    Expr cond;
    std::optional<Stmt> stmt;
  };

  void lisa() {
    std::vector<std::vector<LisaItem>> cols;
    for (std::vector<std::string> row; lisa_row(row);) {
      if (cols.empty()) {
        for (const std::string& c : row)
          if (!is_cpu(c)) bad(fmt::format("a LISA table starts with the CPUs' names, not '{}'", c));
        cols.resize(row.size());
        continue;
      }
      std::vector<std::vector<std::string>> cells = lisa_cells(row);
      if (cells.size() > cols.size()) bad("a LISA row has more columns than CPUs");
      for (size_t c = 0; c < cells.size(); ++c) lisa_cell(cells[c], cols[c]);
    }
    if (cols.empty()) bad("no LISA table");
    for (auto& col : cols) prog_->cpus.push_back(lisa_block(col));
  }
  // The next row's tokens, up to its ';'; false at the final condition.
  bool lisa_row(std::vector<std::string>& row) {
    row.clear();
    std::string t = lx_.peek();
    if (t.empty() || t == "exists" || t == "~" || t == "forall" || t == "locations" || t == "filter") return false;
    for (t = lx_.next(); t != ";"; t = lx_.next()) {
      if (t.empty()) bad("a LISA row does not end with ';'");
      row.push_back(t);
    }
    if (!row.empty() && is_cpu(row[0])) std::erase(row, std::string("|"));
    return true;
  }
  static std::vector<std::vector<std::string>> lisa_cells(const std::vector<std::string>& row) {
    std::vector<std::vector<std::string>> cells(1);
    for (const std::string& t : row) {
      if (t == "|") cells.emplace_back();
      else cells.back().push_back(t);
    }
    return cells;
  }
  void lisa_cell(const std::vector<std::string>& toks, std::vector<LisaItem>& col) {
    size_t i = 0;
    if (toks.size() >= 2 && toks[1] == ":") {
      col.push_back({toks[0], false, {}, std::nullopt});
      i = 2;
    }
    if (i == toks.size()) return;
    auto word = [&] {
      if (i >= toks.size()) bad(fmt::format("a LISA instruction ends early: '{}'", fmt::join(toks, " ")));
      return toks[i++];
    };
    std::string op = word();
    if (op == "mov") {
      Stmt s;
      s.kind = Stmt::assign;
      s.reg = lisa_reg(word());
      s.a = lisa_expr(toks, i);
      col.push_back({"", false, {}, s});
      return lisa_end(toks, i);
    }
    if (word() != "[") bad(fmt::format("unknown LISA instruction '{}'", op));
    std::string kind = toks[i] == "]" ? "" : word();
    if (word() != "]") bad(fmt::format("LISA: '{}[' is not closed", op));
    if (op == "b") {
      LisaItem b{"", true, lisa_expr(toks, i), std::nullopt};
      b.label = word();
      col.push_back(b);
    } else {
      col.push_back({"", false, {}, lisa_access(op, kind, toks, i)});
    }
    lisa_end(toks, i);
  }
  std::optional<Stmt> lisa_access(const std::string& op, const std::string& kind, const std::vector<std::string>& toks,
                                  size_t& i) {
    Stmt s;
    if (op == "r" && (kind == "once" || kind == "acquire" || kind == "deref" || kind == "lderef")) {
      s.kind = Stmt::load;
      if (i >= toks.size()) bad("LISA: r[] without a register");
      s.reg = lisa_reg(toks[i++]);
      s.loc = lisa_expr(toks, i);
      s.order = kind == "acquire" ? kAcquire : kRelaxed;
      return s;
    }
    if (op == "w" && (kind == "once" || kind == "release" || kind == "assign")) {
      s.kind = Stmt::store;
      s.loc = lisa_expr(toks, i);
      s.a = lisa_expr(toks, i);
      constant_of(s.a);  // a value a load may be promised (load buffering)
      s.order = kind == "once" ? kRelaxed : kRelease;
      return s;
    }
    static const std::map<std::string, model::Fence> kFences = {
        {"mb", model::Fence::full}, {"rmb", model::Fence::read}, {"wmb", model::Fence::write}};
    if (op == "f" && kFences.count(kind)) {
      s.fence = kFences.at(kind);
      return s;
    }
    if (op == "f" && (kind == "sync" || kind == "rcu_read_lock" || kind == "rcu_read_unlock")) {
      s.kind = kind == "sync" ? Stmt::sync_rcu : kind == "rcu_read_lock" ? Stmt::rcu_lock : Stmt::rcu_unlock;
      return s;
    }
    if (op == "f" && kind == "rb_dep") return std::nullopt;
    bad(fmt::format("unsupported LISA instruction '{}[{}]'", op, kind));
  }
  static void lisa_end(const std::vector<std::string>& toks, size_t i) {
    if (i != toks.size()) bad(fmt::format("LISA: '{}' after an instruction", toks[i]));
  }
  static std::string lisa_reg(const std::string& t) {
    if (t.size() < 2 || t[0] != 'r' || !is_number(t.substr(1))) bad(fmt::format("LISA: '{}' is not a register", t));
    return t;
  }
  Expr lisa_expr(const std::vector<std::string>& toks, size_t& i) {
    if (i >= toks.size()) bad("LISA: an operand is missing");
    std::string t = toks[i++];
    Expr e;
    if (t == "-" && i < toks.size() && is_number(toks[i])) {
      e.n = -number(toks[i++]);
      return e;
    }
    if (is_number(t)) {
      e.n = number(t);
      return e;
    }
    if (t != "(") {
      if (t.size() > 1 && t[0] == 'r' && is_number(t.substr(1))) {
        e.kind = Expr::reg;
        e.name = t;
      } else {
        var(t, true);
        e = address(t);
      }
      if (i < toks.size() && toks[i] == "+") {  // an address and an offset: x+r2
        ++i;
        Expr sum;
        sum.kind = Expr::binary;
        sum.name = "+";
        sum.args = {std::move(e), lisa_expr(toks, i)};
        return sum;
      }
      return e;
    }
    static const std::map<std::string, std::string> kOps = {{"add", "+"}, {"sub", "-"}, {"xor", "^"}, {"and", "&"},
                                                            {"or", "|"},  {"eq", "=="}, {"neq", "!="}, {"ne", "!="}};
    if (i >= toks.size() || !kOps.count(toks[i])) bad(fmt::format("LISA: unknown operator '{}'", i < toks.size() ? toks[i] : ""));
    e.kind = Expr::binary;
    e.name = kOps.at(toks[i++]);
    e.args.push_back(lisa_expr(toks, i));
    e.args.push_back(lisa_expr(toks, i));
    if (i >= toks.size() || toks[i++] != ")") bad("LISA: '(' is not closed");
    return e;
  }
  // A column as statements. A branch forward sets its label's flag (a
  // register `$L`) to whether it is taken; every instruction runs only
  // while no flag of a label still ahead is set, and reaching a label
  // clears its flag. Overlapping forward jumps come out right, and what
  // follows a branch depends on it through control, as in herd7.
  std::vector<Stmt> lisa_block(const std::vector<LisaItem>& col) {
    std::vector<Stmt> out;
    std::vector<std::string> ahead;  // the flags of labels jumped to and not yet reached
    std::set<std::string> passed;     // labels already reached
    auto guarded = [&](Stmt s) {
      if (ahead.empty()) return out.push_back(std::move(s));
      Stmt g;
      g.kind = Stmt::branch;
      for (const std::string& flag : ahead) {
        Expr f;
        f.kind = Expr::reg;
        f.name = flag;
        if (g.a.kind == Expr::number) {
          g.a = std::move(f);
          continue;
        }
        Expr either;
        either.kind = Expr::binary;
        either.name = "|";
        either.args = {std::move(g.a), std::move(f)};
        g.a = std::move(either);
      }
      g.otherwise.push_back(std::move(s));
      out.push_back(std::move(g));
    };
    for (const LisaItem& it : col) {
      std::string flag = "$" + it.label;
      if (it.stmt) {
        guarded(*it.stmt);
      } else if (it.branch) {
        if (passed.count(it.label)) bad(fmt::format("LISA: a branch back to '{}' (only forward ones are read)", it.label));
        Stmt set;
        set.kind = Stmt::assign;
        set.reg = flag;
        set.a.kind = Expr::binary;
        set.a.name = "!=";
        set.a.args = {it.cond, Expr{}};
        guarded(std::move(set));
        if (std::find(ahead.begin(), ahead.end(), flag) == ahead.end()) ahead.push_back(flag);
      } else {  // a label: the jumps to it land here
        passed.insert(it.label);
        auto at = std::find(ahead.begin(), ahead.end(), flag);
        if (at == ahead.end()) continue;
        ahead.erase(at);
        Stmt clear;
        clear.kind = Stmt::assign;
        clear.reg = flag;
        out.push_back(std::move(clear));
      }
    }
    return out;
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
        if (*field == "Never" || *field == "Sometimes" || *field == "Always" ||
            (field == &t.lkmm && *field == "DEADLOCK")) {
          if (field == &t.lkmm) t.lkmm_datarace = word.rest_of_line().find("DATARACE") != std::string::npos;
          continue;
        }
        // herd7's own results besides a verdict ("Flag ...") and
        // an author's "Maybe" are notes, not verdicts; a pin must be one.
        if (field != &t.lkmm) bad(fmt::format("verdict '{}' after '{}' (Never, Sometimes or Always)", *field, key));
        t.lkmm_note = *field + " " + word.rest_of_line();
        while (!t.lkmm_note.empty() && std::isspace(static_cast<unsigned char>(t.lkmm_note.back()))) t.lkmm_note.pop_back();
        field->clear();
      }
  }

  Lexer lx_;
  LitmusProgram* prog_ = nullptr;
  std::vector<std::string> regs_;
  std::vector<Stmt>* out_ = nullptr;
  unsigned hidden_ = 0;
  std::map<std::pair<int, std::string>, int64_t> pending_reg_init_;
};

// ---- running -------------------------------------------------------------------

const std::source_location kLoc = std::source_location::current();



class Cpu {
 public:
  Cpu(World& w, int id) : w_(w), regs_(w.regs[static_cast<size_t>(id)]) {}
  void run(const std::vector<Stmt>& body) {
    for (const Stmt& s : body) step(s);
  }

 private:
  int64_t value(const Expr& e) {
    switch (e.kind) {
      case Expr::number: return e.n;
      case Expr::address: return kAddress + e.n;
      case Expr::reg: return regs_[e.name];
      case Expr::unary: {
        int64_t v = value(e.args[0]);
        return e.name == "-" ? static_cast<int64_t>(uint64_t{0} - static_cast<uint64_t>(v)) : e.name == "!" ? !v : ~v;
      }
      case Expr::binary: return apply(e.name, value(e.args[0]), value(e.args[1]));
    }
    return 0;
  }
  model::Word* word(const Expr& loc) {
    int64_t v = value(loc) - kAddress;
    if (v < 0 || v >= static_cast<int64_t>(w_.words.size()))
      model::fail(fmt::format("litmus: an access to address {}, which is no variable's", value(loc)));
    return w_.words[static_cast<size_t>(v)].get();
  }
  void set(const std::string& reg, uint64_t v) {
    if (!reg.empty()) regs_[reg] = static_cast<int64_t>(v);
  }
  void lock(model::Word* l) {
    for (;;) {
      uint64_t expected = 0;
      depends({}, {}, {});
      if (model::cas(l, kAll, expected, 1, kAcquire, kLoc)) return;
      while (model::peek(l, kAll, kRelaxed, kLoc) != 0) model::spin(kLoc);  // the value only picks the retry
    }
  }
  uint64_t rmw(const Stmt& s) {
    depends(s.loc, s.a, {});
    auto arg = static_cast<uint64_t>(value(s.a));
    uint64_t old = model::rmw(word(s.loc), kAll, s.op, arg, s.order, s.returns, kLoc);
    return s.new_value ? model::apply(s.op, old, arg, kAll) : old;
  }

  // A failed attempt orders nothing; a successful one is a full cmpxchg.
  uint64_t add_unless(const Stmt& s) {
    model::Word* w = word(s.loc);
    uint64_t old = model::load(w, kAll, kRelaxed, kLoc);
    for (;;) {  // a failed cmpxchg leaves in `old` what it read
      if (old == static_cast<uint64_t>(value(s.b))) return 0;
      depends(s.loc, s.a, s.b);
      if (model::cas(w, kAll, old, old + static_cast<uint64_t>(value(s.a)), kSeqCst, kLoc)) return 1;
    }
  }

  void step(const Stmt& s) {
    switch (s.kind) {
      case Stmt::assign:
        if (!s.reg.empty()) deps_[s.reg] = dep(s.a);
        return set(s.reg, static_cast<uint64_t>(value(s.a)));
      case Stmt::load:
        return read(s, [&] {
          model::next_access_address_from(dep(s.loc).loads);
          model::Word* w = word(s.loc);
          if (s.plain) model::next_access_plain();
          return model::load(w, kAll, s.order, kLoc);
        });
      case Stmt::store:
        accessed_at_[value(s.loc)] |= depends(s.loc, s.a, {});
        if (s.plain) model::next_access_plain();
        model::store(word(s.loc), kAll, static_cast<uint64_t>(value(s.a)), s.order, kLoc);
        if (s.fence_after) model::fence(model::Fence::full, kLoc);
        return;
      case Stmt::rmw: return read(s, [&] { return rmw(s); });
      case Stmt::cmpxchg:
        return read(s, [&] {
          uint64_t expected = static_cast<uint64_t>(value(s.a));
          depends(s.loc, s.a, s.b);
          model::cas(word(s.loc), kAll, expected, static_cast<uint64_t>(value(s.b)), s.order, kLoc);
          return expected;  // the old value, as cmpxchg() returns
        });
      case Stmt::add_unless: return read(s, [&] { return add_unless(s); });
      case Stmt::trylock:
        return read(s, [&] {
          uint64_t expected = 0;
          depends(s.loc, {}, {});
          return uint64_t{model::cas(word(s.loc), kAll, expected, 1, kAcquire, kLoc)};
        });
      case Stmt::is_locked: return read(s, [&] { return uint64_t{model::load(word(s.loc), kAll, kRelaxed, kLoc) != 0}; });
      case Stmt::unlock_wait:  // until it sees the lock free, with acquire (as the LKMM once had it)
        while (model::load(word(s.loc), kAll, kAcquire, kLoc) != 0) model::spin(kLoc);
        return;
      case Stmt::barrier: return model::fence(s.fence, kLoc);
      case Stmt::lock: return lock(word(s.loc));
      case Stmt::unlock:
        depends(s.loc, {}, {});
        return model::store(word(s.loc), kAll, 0, kRelease, kLoc);
      case Stmt::rcu_lock: return model::rcu_read_lock();
      case Stmt::rcu_unlock: return model::rcu_read_unlock();
      case Stmt::sync_rcu: return model::synchronize_rcu(kLoc);
      case Stmt::srcu_lock: return set(s.reg, model::srcu_read_lock(word(s.loc)));
      case Stmt::srcu_unlock:  // an index no open section has: herd7 flags it, and it ends nothing
        if (!model::srcu_read_unlock(word(s.loc), static_cast<uint64_t>(value(s.a)))) w_.flags.insert("srcu-bad-nesting");
        return;
      case Stmt::sync_srcu: return model::synchronize_srcu(word(s.loc), kLoc);
      case Stmt::branch: {
        control_.push_back(dep(s.a));
        run(value(s.a) != 0 ? s.then : s.otherwise);
        control_.pop_back();
        return;
      }
    }
  }

  // What a value depends on: the promises its loads read (load buffering,
  // a mask) and whether it comes from a load at all (a dependency the
  // LKMM orders a store by).
  struct Dep {
    uint64_t taint = 0;
    bool on_load = false;
    uint64_t loads = 0;  // the loads it comes from (model::last_load_bit())
    Dep& operator|=(const Dep& o) {
      taint |= o.taint;
      on_load = on_load || o.on_load;
      loads |= o.loads;
      return *this;
    }
  };
  Dep dep(const Expr& e) {
    if (e.kind == Expr::reg) return deps_[e.name];
    Dep d;
    for (const Expr& a : e.args) d |= dep(a);
    return d;
  }
  // The conditions the CPU is inside.
  Dep control() const {
    Dep d;
    for (const Dep& c : control_) d |= c;
    return d;
  }
  // The next store or RMW depends on these operands and the conditions.
  Dep depends(const Expr& l, const Expr& a, const Expr& b) {
    Dep data = dep(l);
    data |= dep(a);
    data |= dep(b);
    Dep d = control();
    d |= data;
    if (auto it = accessed_at_.find(value(l)); it != accessed_at_.end()) d |= it->second;
    model::next_store_depends_on(d.taint, d.on_load, data.on_load);
    model::next_access_address_from(dep(l).loads);  // an RMW's read
    return d;
  }
  // A statement that reads `s.loc` (`access` does it, returning the value
  // for `s.reg`): the register depends on that load, and on the loads the
  // address came from; a later store to the location will too (a load or
  // a store, then a store to its location, is ordered: the LKMM's
  // overwrite & int).
  template <class Access>
  void read(const Stmt& s, Access access) {
    int64_t at = value(s.loc);
    Dep address = dep(s.loc);
    set(s.reg, access());
    Dep d{model::last_load_taint() | address.taint, true, model::last_load_bit()};
    if (!s.reg.empty()) deps_[s.reg] = d;
    accessed_at_[at] |= d;
  }

  World& w_;
  std::map<std::string, int64_t>& regs_;
  std::map<std::string, Dep> deps_;
  std::map<int64_t, Dep> accessed_at_;  // per address: what its loads and stores so far depended on
  std::vector<Dep> control_;
};

model::MemoryModel memory_model(const std::string& m) {
  if (m == "sc") return model::MemoryModel::sc;
  if (m == "tso") return model::MemoryModel::tso;
  if (m == "weak") return model::MemoryModel::weak;
  bad(fmt::format("unknown memory model '{}' (sc, tso, weak)", m));
}

}  // namespace

// ---- values and final states (litmus_program.h) ---------------------------------

int64_t apply(const std::string& op, int64_t a, int64_t b) {
  auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
  if (op == "+") return static_cast<int64_t>(u(a) + u(b));
  if (op == "-") return static_cast<int64_t>(u(a) - u(b));
  if (op == "*") return static_cast<int64_t>(u(a) * u(b));
  if (op == "/") return b == 0 ? 0 : a / b;
  if (op == "%") return b == 0 ? 0 : a % b;
  if (op == "&") return a & b;
  if (op == "|") return a | b;
  if (op == "^") return a ^ b;
  if (op == "<<") return static_cast<int64_t>(u(a) << (u(b) & 63));
  if (op == ">>") return a >> (u(b) & 63);
  if (op == "==") return a == b;
  if (op == "!=") return a != b;
  if (op == "<") return a < b;
  if (op == "<=") return a <= b;
  if (op == ">") return a > b;
  if (op == ">=") return a >= b;
  if (op == "&&") return a && b;
  return a || b;  // "||"
}

static int64_t reg_value(const World& w, int cpu, const std::string& reg) {
  const auto& r = w.regs[static_cast<size_t>(cpu)];
  auto it = r.find(reg);
  return it == r.end() ? 0 : it->second;
}

bool holds(const Prop& p, const World& w) {
  switch (p.kind) {
    case Prop::constant: return p.truth;
    case Prop::negation: return !holds(p.args[0], w);
    case Prop::conjunction: return holds(p.args[0], w) && holds(p.args[1], w);
    case Prop::disjunction: return holds(p.args[0], w) || holds(p.args[1], w);
    case Prop::atom: {
      int64_t got = p.cpu >= 0 ? reg_value(w, p.cpu, p.reg) : static_cast<int64_t>(w.words[static_cast<size_t>(p.var)]->v);
      int64_t want = p.other_cpu >= 0                  ? reg_value(w, p.other_cpu, p.other_reg)
                     : p.value.kind == Expr::address ? kAddress + p.value.n
                                                     : p.value.n;
      return (got == want) != p.differs;
    }
  }
  return false;
}

// A value as herd7 prints it: a pointer by its variable's name.
static std::string shown_value(const LitmusProgram& p, int64_t v) {
  int64_t i = v - kAddress;
  if (i >= 0 && i < static_cast<int64_t>(p.vars.size())) return p.vars[static_cast<size_t>(i)];
  return std::to_string(v);
}

std::string final_state(const LitmusProgram& p, const World& w) {
  std::string s;
  for (size_t c = 0; c < w.regs.size(); ++c)
    for (const auto& [reg, v] : w.regs[c])
      if (reg[0] != kHidden) s += fmt::format("{}:{}={} ", c, reg, v);
  for (size_t i = 0; i < p.vars.size(); ++i) s += fmt::format("{}={} ", p.vars[i], w.words[i]->v);
  if (!s.empty()) s.pop_back();
  return s;
}

std::string herd_state(const LitmusProgram& p, const World& w) {
  std::string s;
  for (const auto& [cpu, name] : p.shown) {
    int64_t v = cpu >= 0 ? reg_value(w, cpu, name)
                         : static_cast<int64_t>(w.words[static_cast<size_t>(std::find(p.vars.begin(), p.vars.end(), name) - p.vars.begin())]->v);
    s += cpu >= 0 ? fmt::format("{}:{}={}; ", cpu, name, shown_value(p, v)) : fmt::format("{}={}; ", name, shown_value(p, v));
  }
  if (!s.empty()) s.pop_back();
  return s;
}

Litmus parse_litmus(const std::string& text) { return Parser(text).parse(); }

std::string LitmusRun::verdict() const {
  if (positive + negative == 0 && deadlocked > 0) return "DEADLOCK";
  if (positive == 0) return "Never";
  return negative == 0 ? "Always" : "Sometimes";
}

LitmusRun run_litmus(const Litmus& t, const std::string& mm_name, unsigned bound, unsigned reorder_bound,
                     double seconds, bool until_decided) {
  model::MemoryModel mm = memory_model(mm_name);
  const LitmusProgram& p = *t.program;
  auto strategy = model::make_exhaustive_strategy(bound, reorder_bound);
  LitmusRun r;
  model::set_promise_values(p.constants);
  model::track_address_dependencies(true);
  model::track_data_races(t.plain_accesses);
  struct Off {
    ~Off() {
      model::set_promise_values({});
      model::track_address_dependencies(false);
      model::track_data_races(false);
    }
  } off;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (unsigned e = 0;; ++e) {
    if (seconds > 0 && std::chrono::steady_clock::now() > deadline) {
      r.unfinished = true;
      return r;
    }
    strategy->begin(e);
    World w;
    for (int64_t v : p.init) w.words.push_back(std::make_unique<model::Word>(static_cast<uint64_t>(v)));
    w.regs = p.reg_init;
    std::vector<std::pair<std::string, std::function<void()>>> fibers;
    for (size_t c = 0; c < p.cpus.size(); ++c)
      fibers.push_back({fmt::format("P{}", c), [&w, &p, c] { Cpu(w, static_cast<int>(c)).run(p.cpus[c]); }});
    model::Outcome o = model::run(fibers, *strategy, mm, 100000);
    ++r.executions;
    if (o.infeasible) {  // a promised value no store kept (a spin on one may never end)
      ++r.dropped;
      if (!strategy->next()) return r;
      continue;
    }
    if (!o.failure.empty() || o.step_limit)
      bad(fmt::format("{}: an execution {}", t.name, !o.failure.empty() ? "failed: " + o.failure : "hit the step limit"));
    if (o.deadlock) {  // no final state (herd7 has none either: a lock never taken)
      ++r.deadlocked;
      if (!strategy->next()) return r;
      continue;
    }
    r.outcomes.insert(final_state(p, w));
    if (!p.has_filter || holds(p.filter, w)) {
      r.flags.insert(w.flags.begin(), w.flags.end());
      if (o.data_race) r.flags.insert("data-race");
      ++r.states[herd_state(p, w)];
      bool yes = holds(p.condition, w);
      ++(yes ? r.positive : r.negative);
      if (yes && !r.reached) {
        r.reached = true;
        r.schedule = o.schedule;
        if (std::getenv("FAULTLINE_LITMUS_TRACE"))
          for (const auto& st : model::describe(o)) fmt::print(stderr, "P{} {} {}\n", st.fiber, st.where, st.what);
      }
    }
    if (until_decided && r.positive > 0 && r.negative > 0) {
      r.decided = true;
      return r;
    }
    if (!strategy->next()) return r;
  }
}

}  // namespace faultline_check
