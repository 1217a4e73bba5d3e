// The memory models against litmus tests of the Linux-kernel memory model,
// carried as data in tests/litmus/ in herd7's C format (the programs of
// tools/memory-model/litmus-tests and more), each with herd7's verdict
// under the LKMM ("Result:") and faultline's pin for `tso` (x86). For each
// test and model, the exhaustive search must reach the test's outcome
// exactly when the model allows it: never under `sc`, as x86 does under
// `tso`, as the LKMM does under `weak`, load buffering included (the
// interpreter states each store's dependencies, model.h's promises). A
// test may name a known difference ("faultline weak: ..."); none here does.
//
// And the models nest: on every test and on random programs, the final
// states reachable under `sc` are reachable under `tso`, and those under
// `tso` under `weak`, at the same bounds.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <ranges>
#include <sstream>

#include "check/litmus.h"
#include "sync/model/model.h"

namespace faultline_check {
namespace {

namespace fs = std::filesystem;

constexpr unsigned kBound = 2, kReorders = 2;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<fs::path> litmus_files() {
  std::vector<fs::path> v;
  for (const auto& e : fs::directory_iterator(FAULTLINE_LITMUS_DIR))
    if (e.path().extension() == ".litmus") v.push_back(e.path());
  std::sort(v.begin(), v.end());
  return v;
}

bool reached(const std::string& verdict) { return verdict != "Never"; }

TEST(Litmus, CarriesAtLeastThirtyTestsWithVerdicts) {
  auto files = litmus_files();
  EXPECT_GE(files.size(), 30u);
  for (const auto& f : files) {
    Litmus t = parse_litmus(slurp(f));
    EXPECT_EQ(t.name + ".litmus", f.filename().string());
    EXPECT_FALSE(t.lkmm.empty()) << t.name << ": no herd7 verdict";
    EXPECT_FALSE(t.tso.empty()) << t.name << ": no tso pin";
  }
}

class LitmusFile : public ::testing::TestWithParam<std::string> {};

// Per memory model, whether the test's outcome is reached there.
std::map<std::string, bool> reached_under(const Litmus& t) {
  return {{"sc", t.sc.empty() ? false : reached(t.sc)},
          {"tso", reached(t.tso)},
          {"weak", reached(t.weak_differs.empty() ? t.lkmm : t.weak_differs)}};
}

TEST_P(LitmusFile, ReachesTheOutcomeExactlyWhereTheModelAllowsIt) {
  Litmus t = parse_litmus(slurp(GetParam()));
  std::map<std::string, LitmusRun> got;
  for (const auto& [mm, expect] : reached_under(t)) {
    got[mm] = run_litmus(t, mm, kBound, kReorders);
    EXPECT_EQ(got[mm].reached, expect) << t.name << " under " << mm << " (" << got[mm].executions << " executions)";
  }
  // Nesting: sc's final states are tso's, tso's are weak's.
  EXPECT_TRUE(std::includes(got["tso"].outcomes.begin(), got["tso"].outcomes.end(), got["sc"].outcomes.begin(),
                            got["sc"].outcomes.end()))
      << t.name;
  EXPECT_TRUE(std::includes(got["weak"].outcomes.begin(), got["weak"].outcomes.end(), got["tso"].outcomes.begin(),
                            got["tso"].outcomes.end()))
      << t.name;
  EXPECT_TRUE(t.weak_differs.empty()) << t.name << " differs from the LKMM: " << t.weak_differs;
}

// Without a preemption bound (plain sleep sets and source sets) the search
// covers every interleaving: it reaches the outcome exactly where the model
// allows it too, and every final state the bounded search reached.
TEST_P(LitmusFile, WithoutAPreemptionBoundReachesEveryStateOfTheBoundedSearch) {
  Litmus t = parse_litmus(slurp(GetParam()));
  for (const auto& [mm, expect] : reached_under(t)) {
    LitmusRun bounded = run_litmus(t, mm, kBound, kReorders);
    LitmusRun all = run_litmus(t, mm, faultline::sync::model::kUnbounded, kReorders);
    EXPECT_EQ(all.reached, expect) << t.name << " under " << mm << " (" << all.executions << " executions)";
    EXPECT_TRUE(std::includes(all.outcomes.begin(), all.outcomes.end(), bounded.outcomes.begin(),
                              bounded.outcomes.end()))
        << t.name << " under " << mm;
  }
}

INSTANTIATE_TEST_SUITE_P(Lkmm, LitmusFile, ::testing::ValuesIn([] {
                           std::vector<std::string> v;
                           for (const auto& p : litmus_files()) v.push_back(p.string());
                           return v;
                         }()),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string n;
                           for (char c : fs::path(p.param).stem().string())
                             n += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

// A random program of two or three CPUs over x and y: stores, loads,
// barriers, releases, acquires and RMWs, written as a litmus test.
std::string random_program(std::mt19937& rng) {
  const char* kStmts[] = {"WRITE_ONCE(*x, {v});", "WRITE_ONCE(*y, {v});", "r{r} = READ_ONCE(*x);",
                          "r{r} = READ_ONCE(*y);", "smp_mb();", "smp_wmb();", "smp_rmb();",
                          "smp_store_release(y, {v});", "r{r} = smp_load_acquire(x);", "r{r} = xchg_relaxed(x, {v});",
                          "r{r} = xchg(y, {v});", "atomic_inc(x);"};
  std::ostringstream out;
  out << "C random\n\n{}\n\n";
  unsigned cpus = 2 + rng() % 2;
  for (unsigned c = 0; c < cpus; ++c) {
    out << "P" << c << "(int *x, int *y)\n{\n\tint r0;\n\tint r1;\n\tint r2;\n";
    unsigned n = 2 + rng() % 3, r = 0;
    for (unsigned i = 0; i < n; ++i) {
      std::string s = kStmts[rng() % std::size(kStmts)];
      unsigned reg = s.find("{r}") != std::string::npos ? std::min(r++, 2u) : 0u;
      out << "\t" << fmt::format(fmt::runtime(s), fmt::arg("v", 1 + c * 4 + i), fmt::arg("r", reg)) << "\n";
    }
    out << "}\n\n";
  }
  out << "exists (x=0)\n";
  return out.str();
}

// The final states of `b` that `a` lacks, for a failure message.
std::string missing(const LitmusRun& a, const LitmusRun& b) {
  std::string m;
  for (const auto& o : b.outcomes)
    if (!a.outcomes.count(o)) m.append("  ").append(o).append("\n");
  return m;
}

TEST(MemoryModels, NestOnRandomPrograms) {
  std::mt19937 rng(20261125);
  for (int i = 0; i < 150; ++i) {
    std::string text = random_program(rng);
    Litmus t = parse_litmus(text);
    for (unsigned bound : {0u, 1u})
      for (unsigned reorders : {0u, 1u, 2u}) {
        LitmusRun sc = run_litmus(t, "sc", bound, reorders), tso = run_litmus(t, "tso", bound, reorders),
                  weak = run_litmus(t, "weak", bound, reorders);
        ASSERT_TRUE(std::includes(tso.outcomes.begin(), tso.outcomes.end(), sc.outcomes.begin(), sc.outcomes.end()))
            << "bound " << bound << " reorders " << reorders << ", sc only:\n" << missing(tso, sc) << text;
        ASSERT_TRUE(
            std::includes(weak.outcomes.begin(), weak.outcomes.end(), tso.outcomes.begin(), tso.outcomes.end()))
            << "bound " << bound << " reorders " << reorders << ", tso only:\n" << missing(weak, tso) << text;
        if (reorders == 0) {  // no store held back: exactly the sc executions
          EXPECT_EQ(tso.outcomes, sc.outcomes) << text;
          EXPECT_EQ(weak.outcomes, sc.outcomes) << text;
        }
      }
  }
}

// herd7's C format as the corpora write it: diy7's header lines and
// undeclared registers, pointers in the initial state, primitives inside
// expressions, the atomic_t API, forall, ~exists, filter and locations.
LitmusRun weak(const std::string& text) { return run_litmus(parse_litmus(text), "weak", 3, 3); }

TEST(Litmus, ReadsDiy7HeadersAndUndeclaredRegisters) {
  Litmus t = parse_litmus(
      "C C-MP+poreleaserelease+poacquireonce\n\"PodWWReleaseRelease RfeReleaseAcquire\"\n"
      "Cycle=PodRRAcquireOnce FreOnceRelease\nPrefetch=0:x=F,0:y=W\n(* Result: Never *)\n{\n}\n"
      "P0(int *x, int *y)\n{\n\tsmp_store_release(x, 1);\n\tsmp_store_release(y, 1);\n}\n"
      "P1(int *y, int *x)\n{\n\tr0 = smp_load_acquire(y);\n\tr1 = READ_ONCE(*x);\n}\n"
      "exists\n(1:r0=1 /\\ 1:r1=0)\n");
  EXPECT_EQ(t.lkmm, "Never");
  LitmusRun r = run_litmus(t, "weak", 3, 3);
  EXPECT_EQ(r.verdict(), "Never");
  EXPECT_EQ(r.states.size(), 3u);  // 1:r0=0 with either r1, and 1:r0=1 with r1=1
}

TEST(Litmus, ForallOverAtomicAddUnlessIsAlways) {
  LitmusRun r = weak(
      "C add-unless\n{ atomic_t x = ATOMIC_INIT(0); }\n"
      "P0(atomic_t *x) { int r0; r0 = atomic_add_unless(x, 10, 10); }\n"
      "P1(atomic_t *x) { int r1; int r2; r1 = atomic_add_unless(x, 5, 10); r2 = atomic_add_unless(x, 5, 10); }\n"
      "forall (0:r0=0 /\\ 1:r1=1 /\\ 1:r2=1 /\\ x=10) \\/ (0:r0=1 /\\ 1:r1=0 /\\ 1:r2=0 /\\ x=10) \\/\n"
      "(0:r0=1 /\\ 1:r1=1 /\\ 1:r2=1 /\\ x=20)\n");
  EXPECT_EQ(r.verdict(), "Always");
  EXPECT_EQ(r.states.size(), 3u);
  // Without the second clause it is only Sometimes: the check can fail.
  LitmusRun s = weak(
      "C add-unless-2\n{ atomic_t x = ATOMIC_INIT(0); }\n"
      "P0(atomic_t *x) { int r0; r0 = atomic_add_unless(x, 10, 10); }\n"
      "P1(atomic_t *x) { int r1; r1 = atomic_add_unless(x, 5, 10); }\n"
      "forall (0:r0=1 /\\ 1:r1=1 /\\ x=15)\n");
  EXPECT_EQ(s.verdict(), "Sometimes");
}

TEST(Litmus, ReadsPointersExpressionsFiltersAndLocations) {
  // Message passing through a pointer published with rcu_assign_pointer,
  // the reader's condition on a value read inside the `if`, a register
  // set in the initial state, and arithmetic on what was read.
  LitmusRun r = weak(
      "C ptr\n{ int *p = &a; int a = 1; int b = 0; 1:r9=7; }\n"
      "P0(int **p, int *b) { WRITE_ONCE(*b, 2); rcu_assign_pointer(*p, b); }\n"
      "P1(int **p) { int *r0; int r1; int r2; r0 = rcu_dereference(*p); r1 = READ_ONCE(*r0);\n"
      "  if (READ_ONCE(*r0) + r9 == 9) r2 = 1; else r2 = 0; }\n"
      "locations [b;]\n"
      "filter (1:r0=b)\n"
      "~exists (1:r1=0 \\/ 1:r2=0)\n");
  EXPECT_EQ(r.verdict(), "Never");
  EXPECT_EQ(r.states.count("1:r1=2; 1:r2=1; b=2; 1:r0=b;") + r.states.count("b=2; 1:r0=b; 1:r1=2; 1:r2=1;"), 1u)
      << fmt::format("{}", fmt::join(r.states | std::views::keys, " | "));
  EXPECT_GT(r.negative, 0u);
  // Without the dependency's ordering (a plain READ_ONCE of the pointer and
  // smp_wmb missing on the writer) the old value shows.
  LitmusRun u = weak(
      "C ptr2\n{ int *p = &a; int a = 1; int b = 0; }\n"
      "P0(int **p, int *b) { WRITE_ONCE(*b, 2); WRITE_ONCE(*p, b); }\n"
      "P1(int **p) { int *r0; int r1; r0 = READ_ONCE(*p); r1 = READ_ONCE(*r0); }\n"
      "exists (1:r0=b /\\ 1:r1=0)\n");
  EXPECT_EQ(u.verdict(), "Sometimes");
}

TEST(Litmus, ReadsTheAtomicApiAndLockQueries) {
  // atomic_inc_return is fully ordered: store buffering is forbidden with
  // it and allowed with the unordered atomic_inc.
  const char* sb =
      "C sb\n{ atomic_t a; }\n"
      "P0(int *x, int *y, atomic_t *a) { WRITE_ONCE(*x, 1); {OP}; r0 = READ_ONCE(*y); }\n"
      "P1(int *x, int *y, atomic_t *a) { WRITE_ONCE(*y, 1); smp_mb(); r0 = READ_ONCE(*x); }\n"
      "exists (0:r0=0 /\\ 1:r0=0)\n";
  auto with = [&](const std::string& op) {
    std::string text = sb;
    text.replace(text.find("{OP}"), 4, op);
    return weak(text).verdict();
  };
  EXPECT_EQ(with("r1 = atomic_inc_return(a)"), "Never");
  EXPECT_EQ(with("r1 = atomic_fetch_add(2, a)"), "Never");
  EXPECT_EQ(with("atomic_inc(a)"), "Sometimes");
  EXPECT_EQ(with("r1 = atomic_inc_return_relaxed(a)"), "Sometimes");
  EXPECT_EQ(with("smp_store_mb(*x, 2)"), "Never");
  // The values they return.
  LitmusRun v = weak(
      "C values\n{ atomic_t a = ATOMIC_INIT(1); spinlock_t l; }\n"
      "P0(atomic_t *a, spinlock_t *l) { r0 = atomic_dec_and_test(a); r1 = atomic_fetch_or(6, a);\n"
      "  r2 = atomic_add_return(3, a); r3 = spin_trylock(l); r4 = spin_is_locked(l); r5 = spin_trylock(l); }\n"
      "forall (0:r0=1 /\\ 0:r1=0 /\\ 0:r2=9 /\\ 0:r3=1 /\\ 0:r4=1 /\\ 0:r5=0 /\\ a=9)\n");
  EXPECT_EQ(v.verdict(), "Always") << fmt::format("{}", fmt::join(v.states | std::views::keys, " | "));
}

// herd7 reports a test whose every execution deadlocks as DEADLOCK; a
// test may have no final condition at all.
TEST(Litmus, EveryExecutionDeadlockingIsTheVerdictDeadlock) {
  Litmus t = parse_litmus("C self\n(* Result: DEADLOCK *)\n{}\nP0(spinlock_t *l) { spin_lock(l); spin_lock(l); }\n");
  EXPECT_EQ(t.lkmm, "DEADLOCK");
  LitmusRun r = run_litmus(t, "weak", 2, 2);
  EXPECT_EQ(r.verdict(), "DEADLOCK");
  EXPECT_GT(r.deadlocked, 0u);
  LitmusRun w = weak("C wait\n{}\nP0(spinlock_t *l, int *x) { spin_lock(l); WRITE_ONCE(*x, 1); spin_unlock(l); }\n"
                     "P1(spinlock_t *l, int *x) { spin_unlock_wait(l); r0 = READ_ONCE(*x); }\n");
  EXPECT_EQ(w.verdict(), "Always");  // no condition: true in every state
  EXPECT_EQ(w.deadlocked, 0u);
}

// SRCU sections end by the index srcu_read_lock() returned, on any CPU
// (srcu_down_read()/srcu_up_read()); an index no open section of that
// srcu_struct has raises herd7's srcu-bad-nesting flag and ends nothing.
TEST(Litmus, SrcuSectionsEndByTheirIndexOnAnyCpu) {
  const char* handoff =
      "C handoff\n{}\n"
      "P0(int *i, struct srcu_struct *s) { r0 = srcu_down_read(s); smp_store_release(i, r0); }\n"
      "P1(int *i, struct srcu_struct *s) { r1 = smp_load_acquire(i); if (r1 != 0) srcu_up_read(s, r1); }\n"
      "P2(int *x, struct srcu_struct *s) { synchronize_srcu(s); WRITE_ONCE(*x, 1); }\n"
      "exists (x=1)\n";
  LitmusRun r = weak(handoff);
  EXPECT_TRUE(r.reached);        // P1 ended P0's section: the grace period ended
  EXPECT_GT(r.deadlocked, 0u);   // and where P1 read 0 nobody did
  EXPECT_TRUE(r.flags.empty());
  LitmusRun twice = weak(
      "C twice\n{}\nP0(int *x, struct srcu_struct *s) { r0 = srcu_read_lock(s); srcu_read_unlock(s, r0);\n"
      "  srcu_read_unlock(s, r0); r1 = READ_ONCE(*x); }\nexists (0:r1=0)\n");
  EXPECT_EQ(twice.flags, std::set<std::string>{"srcu-bad-nesting"});
  LitmusRun other = weak(
      "C other\n{}\nP0(struct srcu_struct *s1, struct srcu_struct *s2) { r0 = srcu_read_lock(s1);\n"
      "  srcu_read_unlock(s2, r0); srcu_read_unlock(s1, r0); }\nexists (0:r0=1)\n");
  EXPECT_EQ(other.flags, std::set<std::string>{"srcu-bad-nesting"});  // s2 has no section of that index
}

// herd7's data-race flag: plain accesses to one variable from two CPUs,
// one a write, race unless ordered (a release read by an acquire, a lock,
// a fence after a read plus a dependency...); marked accesses never race.
TEST(Litmus, PlainAccessesRaceUnlessOrdered) {
  auto raced = [](const std::string& name, const std::string& p0, const std::string& p1) {
    LitmusRun r = weak("C " + name + "\n{}\nP0(int *x, int *y, spinlock_t *l) { " + p0 + " }\n" +
                       "P1(int *x, int *y, spinlock_t *l) { " + p1 + " }\nexists (x=1)\n");
    return r.flags.contains("data-race");
  };
  // Message passing of plain data: a release and an acquire order it.
  EXPECT_FALSE(raced("mp-release", "*x = 1; smp_store_release(y, 1);",
                     "r0 = smp_load_acquire(y); if (r0) r1 = *x;"));
  EXPECT_TRUE(raced("mp-once", "*x = 1; WRITE_ONCE(*y, 1);", "r0 = READ_ONCE(*y); if (r0) r1 = *x;"));
  // smp_wmb() and smp_rmb() order it as the release and acquire do.
  EXPECT_FALSE(raced("mp-fences", "*x = 1; smp_wmb(); WRITE_ONCE(*y, 1);",
                     "r0 = READ_ONCE(*y); smp_rmb(); if (r0) r1 = *x;"));
  // A lock orders the critical sections.
  EXPECT_FALSE(raced("locked", "spin_lock(l); *x = 1; spin_unlock(l);", "spin_lock(l); r1 = *x; spin_unlock(l);"));
  EXPECT_TRUE(raced("half-locked", "spin_lock(l); *x = 1; spin_unlock(l);", "r1 = *x;"));
  // Marked accesses do not race; two plain reads do not either.
  EXPECT_FALSE(raced("marked", "WRITE_ONCE(*x, 1);", "r1 = READ_ONCE(*x);"));
  EXPECT_FALSE(raced("reads", "r0 = *x;", "r1 = *x;"));
  EXPECT_TRUE(raced("plain-write", "*x = 1;", "r1 = READ_ONCE(*x);"));
  // The flag is looked for only where there are plain accesses.
  EXPECT_FALSE(parse_litmus("C m\n{}\nP0(int *x) { WRITE_ONCE(*x, 1); }\nexists (x=1)\n").plain_accesses);
}

// LISA, herd7's generic assembly: a table of columns; forward branches
// may overlap (TC1 of the Java causality tests jumps into the middle of
// another jump's span); `x+r2` is an address; synchronize_rcu() inside a
// read-side section never returns.
TEST(Litmus, ReadsLisaWithOverlappingForwardBranches) {
  auto with_x = [](int x) {
    return weak(fmt::format(
        "LISA tc\n{{ x = {}; }}\n P0 ;\n r[once] r1 x ;\n mov r3 (eq r1 0) ;\n b[] r3 SKIP0 ;\n"
        " mov r3 (neq r1 1) ;\n b[] r3 SKIP1 ;\n SKIP0: ;\n w[once] y 1 ;\n SKIP1: ;\n r[once] r2 y ;\n"
        "forall (0:r2=1)\n",
        x));
  };
  EXPECT_EQ(with_x(0).verdict(), "Always");  // jumps to SKIP0: the store runs
  EXPECT_EQ(with_x(1).verdict(), "Always");  // no jump
  EXPECT_EQ(with_x(2).verdict(), "Never");   // jumps to SKIP1, past the store
  LitmusRun offset = weak("LISA off\n{ y = 5; }\n P0 ;\n mov r2 (xor r1 r1) ;\n r[once] r3 y+r2 ;\nexists (0:r3=5)\n");
  EXPECT_EQ(offset.verdict(), "Always");
  LitmusRun self = weak("LISA self\n{ x = 0; }\n P0 ;\n f[rcu_read_lock] ;\n f[sync] ;\n f[rcu_read_unlock] ;\nexists (x=0)\n");
  EXPECT_EQ(self.verdict(), "DEADLOCK");
  EXPECT_THROW(parse_litmus("LISA bad\n{}\n P0 ;\n q[once] r1 x ;\nexists (0:r1=0)\n"), std::invalid_argument);
  EXPECT_THROW(parse_litmus("LISA loop\n{}\n P0 ;\n L: ;\n r[once] r1 x ;\n b[] r1 L ;\nexists (0:r1=0)\n"),
               std::invalid_argument);  // a loop: only forward branches are read
}

// `faultline litmus`: a line per test with herd7's verdict beside, the
// exit status the worst of them (0 all agree, 1 a DIFF, 2 unreadable).
TEST(Litmus, CommandJudgesEachTestAgainstHerd7) {
  fs::path dir = fs::temp_directory_path() / fmt::format("faultline-litmus-{}", ::getpid());
  fs::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
  };
  const std::string sb =
      "C SB\n(* Result: {} *)\n{{}}\nP0(int *x, int *y) {{ WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y); }}\n"
      "P1(int *x, int *y) {{ WRITE_ONCE(*y, 1); r0 = READ_ONCE(*x); }}\nexists (0:r0=0 /\\ 1:r0=0)\n";
  write("a.litmus", fmt::format(fmt::runtime(sb), "Sometimes"));
  write("b.litmus", "PPC b\n{}\n P0 | P1 ;\n");
  LitmusOptions o;
  o.paths = {dir.string()};
  o.json = (dir.parent_path() / fmt::format("faultline-litmus-{}.json", ::getpid())).string();
  std::ostringstream out, err;
  EXPECT_EQ(run_litmus_command(o, out, err), 0) << out.str() << err.str();
  EXPECT_NE(out.str().find("Sometimes  herd7 Sometimes  agree"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("(stopped once decided)"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("SKIPPED: a PPC test"), std::string::npos) << out.str();
  // Stopping once decided runs fewer executions, to the same verdict.
  Litmus sb_test = parse_litmus(fmt::format(fmt::runtime(sb), "Sometimes"));
  LitmusRun all = run_litmus(sb_test, "weak", 2, 2), some = run_litmus(sb_test, "weak", 2, 2, 0, true);
  EXPECT_EQ(some.verdict(), all.verdict());
  EXPECT_TRUE(some.decided);
  EXPECT_FALSE(all.decided);
  EXPECT_LT(some.executions, all.executions);
  std::ifstream json(o.json);
  std::string line;
  std::getline(json, line);
  EXPECT_NE(line.find("\"result\":\"agree\""), std::string::npos) << line;
  // A flag where herd7's verdict would be: agree when some execution raised it.
  write("ab.litmus", "C ab\n(* Result: Flag srcu-bad-nesting *)\n{}\n"
                     "P0(struct srcu_struct *s) { r0 = srcu_read_lock(s); srcu_read_unlock(s, 7); }\nexists (0:r0=1)\n");
  out.str("");
  EXPECT_EQ(run_litmus_command(o, out, err), 0) << out.str();
  EXPECT_NE(out.str().find("agree      1 states, 1 executions, flag srcu-bad-nesting"), std::string::npos) << out.str();
  fs::remove(dir / "ab.litmus");
  write("c.litmus", fmt::format(fmt::runtime(sb), "Never"));
  out.str("");
  EXPECT_EQ(run_litmus_command(o, out, err), 1) << out.str();
  EXPECT_NE(out.str().find("Sometimes  herd7 Never      DIFF"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("0:r0=0; 1:r0=0;"), std::string::npos) << "a DIFF lists the states: " << out.str();
  // --known: a listed DIFF does not fail the run; a listed test that
  // agrees does; a line without a reason is an error naming it.
  fs::path known = dir.parent_path() / fmt::format("faultline-known-{}.txt", ::getpid());
  std::ofstream(known) << "# why\nSB   the file says Never on purpose\n";
  o.known = known.string();
  out.str("");
  EXPECT_EQ(run_litmus_command(o, out, err), 1) << out.str();  // a.litmus is SB too, and agrees
  EXPECT_NE(out.str().find("known DIFF"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("known: the file says Never on purpose"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("agree, but listed as known"), std::string::npos) << out.str();
  fs::remove(dir / "a.litmus");
  out.str("");
  EXPECT_EQ(run_litmus_command(o, out, err), 0) << out.str();
  EXPECT_NE(out.str().find("1 known to differ, 0 listed as known but agree"), std::string::npos) << out.str();
  std::ofstream(known) << "SB\n";
  err.str("");
  EXPECT_EQ(run_litmus_command(o, out, err), 2);
  EXPECT_NE(err.str().find(":1: 'SB' has no reason after its name"), std::string::npos) << err.str();
  fs::remove(known);
  o.known.clear();
  write("d.litmus", "C d\n{}\nP0(int *x) { frobnicate(x); }\nexists (x=1)\n");
  out.str("");
  EXPECT_EQ(run_litmus_command(o, out, err), 2) << out.str();
  EXPECT_NE(out.str().find("UNREADABLE: litmus: unsupported primitive 'frobnicate'"), std::string::npos) << out.str();
  fs::remove_all(dir);
  fs::remove(o.json);
}

TEST(Litmus, RejectsWhatItCannotReadNamingIt) {
  auto error = [](const std::string& text) {
    try {
      parse_litmus(text);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error("C t\n{}\nP0(int *x) { frobnicate(x); }\nexists (x=1)").find("frobnicate"), std::string::npos);
  EXPECT_NE(error("C t\n{}\nP0(int *x) { WRITE_ONCE(*q, 1); }\nexists (x=1)").find("'q'"), std::string::npos);
  EXPECT_NE(error("C t\n{}\nP0(int *x) { WRITE_ONCE(*x, 1); }\nexists (5:r0=1)").find("CPU 5"), std::string::npos);
  EXPECT_NE(error("C t\n{}\nP0(int *x) { WRITE_ONCE(*x, 1);").find("not closed"), std::string::npos);
  EXPECT_NE(error("(* Result: Maybe *)").find("'C NAME'"), std::string::npos);
  EXPECT_NE(error("C t\n(* tso: Maybe *)\n{}\nP0(int *x) { WRITE_ONCE(*x, 1); }\nexists (x=1)").find("Maybe"),
            std::string::npos);
}

}  // namespace
}  // namespace faultline_check
