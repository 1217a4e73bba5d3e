// The axiomatic LKMM (src/check/lkmm.cc, `faultline litmus --memory-model
// lkmm`) against herd7's verdicts in tests/litmus, and against the model
// checker's `weak` model: on every test both take, the two readings of the
// LKMM — one operational, searched execution by execution, one axiomatic,
// over candidate executions — must reach the same final states. A bug in
// either shows as a state one reaches and the other does not.
//
// And the cases where the axiomatic reading is easy to get wrong, each from
// the public LKMM litmus corpus: a control dependency ends with its if
// statement; a value may justify itself through a cycle; a value a path
// that is later dropped wrote may be what makes another path possible.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "check/litmus.h"

namespace faultline_check {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> litmus_files() {
  std::vector<std::string> v;
  for (const auto& e : fs::directory_iterator(FAULTLINE_LITMUS_DIR))
    if (e.path().extension() == ".litmus") v.push_back(e.path().string());
  std::sort(v.begin(), v.end());
  return v;
}

std::set<std::string> state_names(const LitmusRun& r) {
  std::set<std::string> s;
  for (const auto& [state, n] : r.states) s.insert(state);
  return s;
}

LitmusRun lkmm(const std::string& text) { return run_litmus_lkmm(parse_litmus(text)); }

class LkmmFile : public ::testing::TestWithParam<std::string> {};

// What the axiomatic model leaves to `weak` (plain accesses, spin locks,
// smp_mb__after_srcu_read_unlock()) it says so; every other test gets
// herd7's verdict, and exactly the final states `weak` reaches.
TEST_P(LkmmFile, AgreesWithHerd7AndReachesTheStatesOfTheWeakModel) {
  Litmus t = parse_litmus(slurp(GetParam()));
  LitmusRun axiomatic;
  try {
    axiomatic = run_litmus_lkmm(t);
  } catch (const LitmusUnsupported& e) {
    std::string why = e.what();
    EXPECT_TRUE(why.find("plain accesses") != std::string::npos || why.find("spin locks") != std::string::npos ||
                why.find("smp_mb__after_srcu_read_unlock") != std::string::npos)
        << t.name << ": " << why;
    return;
  }
  EXPECT_FALSE(axiomatic.unfinished);
  EXPECT_EQ(axiomatic.verdict(), t.lkmm) << t.name;
  LitmusRun operational = run_litmus(t, "weak", 2, 2);
  EXPECT_EQ(state_names(axiomatic), state_names(operational)) << t.name;
}

INSTANTIATE_TEST_SUITE_P(Litmus, LkmmFile, ::testing::ValuesIn(litmus_files()),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string n;
                           for (char c : fs::path(p.param).stem().string())
                             n += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

// LB-ctls-diffvals-postif: the stores after the if statement depend on the
// loads through no control dependency (herd7: Sometimes); inside it they
// would (Never).
TEST(Lkmm, AControlDependencyEndsWithItsIfStatement) {
  auto lb = [](const char* cpu0_tail, const char* cpu1_tail) {
    return lkmm(std::string("C lb\n{}\n"
                            "P0(int *x, int *y, int *z) { int r1; r1 = READ_ONCE(*x);\n"
                            "  if (r1) { WRITE_ONCE(*y, 1); } else { WRITE_ONCE(*y, 2); ") +
                cpu0_tail +
                "}\n"
                "P1(int *x, int *y, int *z) { int r1; r1 = READ_ONCE(*z);\n"
                "  if (r1) { WRITE_ONCE(*y, 1); } else { WRITE_ONCE(*y, 2); " +
                cpu1_tail + "}\nexists (0:r1=1 /\\ 1:r1=1)\n");
  };
  EXPECT_EQ(lb("} WRITE_ONCE(*z, 1);", "} WRITE_ONCE(*x, 1);").verdict(), "Sometimes");
  EXPECT_EQ(lb("WRITE_ONCE(*z, 1); }", "WRITE_ONCE(*x, 1); }").verdict(), "Never");
}

// crypto-control-data: P0 writes 1 only if it read x != 0, which only P1's
// copy of that 1 can make: the LKMM allows the cycle (herd7: Sometimes),
// so a read may return a number no write has made yet.
TEST(Lkmm, AValueMayJustifyItselfThroughACycle) {
  LitmusRun r = lkmm(
      "C crypto\n{}\n"
      "P0(int *x, int *y) { int r1; r1 = 1; if (READ_ONCE(*x) == 0) r1 = 0; WRITE_ONCE(*y, r1); }\n"
      "P1(int *x, int *y) { int r2; r2 = READ_ONCE(*y); WRITE_ONCE(*x, r2); }\n"
      "exists (0:r1=1)\n");
  EXPECT_EQ(r.verdict(), "Sometimes");
}

// C-PPOCA: only once P1 has written z = &x can its read of z return &x and
// its read through it reach x: the pointer comes from the very path that
// offering only the numbers the program names would drop (herd7: Sometimes;
// ctrl ; rfi is not in ppo).
TEST(Lkmm, APointerAPathWroteIsAValueItsReadsMayReturn) {
  LitmusRun r = lkmm(
      "C ppoca\n{}\n"
      "P0(int *x, int *y) { WRITE_ONCE(*x, 1); smp_store_release(y, 1); }\n"
      "P1(int *x, int *y, int *z) { r1 = READ_ONCE(*y); if (r1) { WRITE_ONCE(*z, x); r2 = READ_ONCE(*z);\n"
      "  r3 = READ_ONCE(*r2); } }\n"
      "exists (1:r1=1 /\\ 1:r2=x /\\ 1:r3=0)\n");
  EXPECT_EQ(r.verdict(), "Sometimes");
}

// A ring of six CPUs through three SRCU domains (the corpus's SRCU-63-A,
// which the model checker's search does not finish): at most one
// candidate per choice of the six reads' values, every state but the
// cycle.
TEST(Lkmm, SrcuRingOfSixCpusIsSixtyFourCandidates) {
  std::string t = "C ring\n{}\n";
  for (int i = 0; i < 3; ++i) {
    int a = 2 * i, b = 2 * i + 1, c = (2 * i + 2) % 6;
    t += fmt::format(
        "P{0}(int *x{1}, int *x{0}, struct srcu_struct *s{2}) {{ int r0; int r1; r0 = srcu_read_lock(s{2});\n"
        "  r1 = READ_ONCE(*x{1}); WRITE_ONCE(*x{0}, 1); srcu_read_unlock(s{2}, r0); }}\n",
        a, b, i);
    t += fmt::format(
        "P{0}(int *x{0}, int *x{1}, struct srcu_struct *s{2}) {{ int r1; WRITE_ONCE(*x{0}, 1); synchronize_srcu(s{2});\n"
        "  r1 = READ_ONCE(*x{1}); }}\n",
        b, c, i);
  }
  t += "exists (0:r1=0 /\\ 1:r1=0 /\\ 2:r1=0 /\\ 3:r1=0 /\\ 4:r1=0 /\\ 5:r1=0)\n";
  LitmusRun r = lkmm(t);
  EXPECT_EQ(r.verdict(), "Never");
  EXPECT_LE(r.executions, 64u);
  EXPECT_EQ(r.states.size(), 63u);
}

TEST(Lkmm, LeavesWhatItDoesNotTakeToTheWeakModelNamingIt) {
  auto why = [](const std::string& text) -> std::string {
    try {
      lkmm(text);
    } catch (const LitmusUnsupported& e) {
      return e.what();
    }
    return "(taken)";
  };
  EXPECT_NE(why("C l\n{}\nP0(spinlock_t *l, int *x) { spin_lock(l); WRITE_ONCE(*x, 1); spin_unlock(l); }\n"
                "exists (x=1)\n")
                .find("spin locks"),
            std::string::npos);
  EXPECT_NE(why("C p\n{}\nP0(int *x) { *x = 1; }\nexists (x=1)\n").find("plain accesses"), std::string::npos);
  std::string many = "C many\n{}\nP0(int *x) {";
  for (int i = 0; i < 70; ++i) many += " WRITE_ONCE(*x, 1);";
  EXPECT_NE(why(many + " }\nexists (x=1)\n").find("64 events"), std::string::npos);
  // Twenty reads of a variable that may hold three values: 3^20 paths.
  std::string forks = "C forks\n{}\nP0(int *x) { int r;";
  for (int i = 0; i < 20; ++i) forks += " r = READ_ONCE(*x);";
  forks += " }\nP1(int *x) { WRITE_ONCE(*x, 1); WRITE_ONCE(*x, 2); }\nexists (x=1)\n";
  EXPECT_NE(why(forks).find("paths"), std::string::npos);
}

}  // namespace
}  // namespace faultline_check
