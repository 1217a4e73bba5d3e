// The memory models against the litmus tests of the Linux-kernel memory
// model (tools/memory-model/litmus-tests, named as there): for each test
// and each model, whether the exhaustive search reaches the outcome the
// test asks about. `sc` never does; `tso` is x86 (store buffering only);
// `weak` must reach everything LKMM allows that the checker's protocols
// depend on — store->load and store->store reordering, unordered
// non-value-returning RMWs, smp_mb__before_atomic() ordering only against
// an RMW — and nothing LKMM forbids. The last cases pin what the weak
// model knowingly cannot produce (docs/checker.md): load->load and
// load->store reordering.
#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <set>
#include <source_location>
#include <string>
#include <vector>

#include "model_util.h"
#include "sync/model/model.h"

namespace faultline::sync::model {
namespace {

constexpr uint64_t kMask = ~uint64_t{0};
constexpr int kRelaxed = 0, kAcquire = 2, kRelease = 3, kSeqCst = 5;

// Two shared words and each CPU's registers; `final` is memory at the end.
struct Mem {
  Word x, y;
  uint64_t r0 = 0, r1 = 0;
};
struct Result {
  uint64_t r0, r1, x, y;
  auto operator<=>(const Result&) const = default;
};
using Cpu = std::function<void(Mem&)>;

const std::source_location kLoc = std::source_location::current();
uint64_t ld(Word& w) { return load(&w, kMask, kRelaxed, kLoc); }
void st(Word& w, uint64_t v, int order = kRelaxed) { store(&w, kMask, v, order, kLoc); }
void mb(Fence f) { fence(f, kLoc); }

// Every outcome within generous bounds (these programs have a handful of
// steps), without the reduction: the models alone decide.
std::set<Result> outcomes(MemoryModel mm, const Cpu& p0, const Cpu& p1) {
  auto strategy = make_exhaustive_strategy(4, 4, false);
  std::set<Result> out;
  each_execution(*strategy, [&](unsigned) {
    Mem m;
    Outcome o = run({{"P0", [&] { p0(m); }}, {"P1", [&] { p1(m); }}}, *strategy, mm, 1000);
    EXPECT_TRUE(o.failure.empty() && !o.deadlock && !o.step_limit) << o.failure;
    out.insert({m.r0, m.r1, m.x.v, m.y.v});
  });
  return out;
}

struct Litmus {
  const char* name;
  Cpu p0, p1;
  std::function<bool(const Result&)> exists;  // the outcome the test asks about
  std::array<bool, 3> reached;                // under sc, tso, weak
};

void PrintTo(const Litmus& t, std::ostream* os) { *os << t.name; }

class LitmusTest : public ::testing::TestWithParam<Litmus> {};

TEST_P(LitmusTest, ReachesTheOutcomeExactlyWhereTheModelAllowsIt) {
  const Litmus& t = GetParam();
  const MemoryModel models[] = {MemoryModel::sc, MemoryModel::tso, MemoryModel::weak};
  for (size_t i = 0; i < 3; ++i) {
    std::set<Result> got = outcomes(models[i], t.p0, t.p1);
    bool reached = std::any_of(got.begin(), got.end(), t.exists);
    EXPECT_EQ(reached, t.reached[i]) << t.name << " under " << memory_model_name(models[i]) << ": "
                                     << got.size() << " outcomes";
  }
}

bool both_zero(const Result& r) { return r.r0 == 0 && r.r1 == 0; }
bool flag_without_data(const Result& r) { return r.r0 == 1 && r.r1 == 0; }
bool both_one(const Result& r) { return r.r0 == 1 && r.r1 == 1; }

// Store buffering: each CPU stores, then loads the other's word.
Cpu sb(Word Mem::*mine, Word Mem::*theirs, uint64_t Mem::*reg, std::function<void()> between) {
  return [=](Mem& m) {
    st(m.*mine, 1);
    between();
    m.*reg = ld(m.*theirs);
  };
}
// Message passing: P0 writes data x then flag y; P1 reads flag then data.
Cpu mp_writer(std::function<void()> between, int flag_order) {
  return [=](Mem& m) {
    st(m.x, 1);
    between();
    st(m.y, 1, flag_order);
  };
}
Cpu mp_reader(std::function<void()> between, int flag_order) {
  return [=](Mem& m) {
    m.r0 = load(&m.y, kMask, flag_order, kLoc);
    between();
    m.r1 = ld(m.x);
  };
}
// Message passing with set_bit() as the flag, with or without
// smp_mb__before_atomic() in front of it.
Cpu setbit_writer(bool before_atomic) {
  return [=](Mem& m) {
    st(m.x, 1);
    if (before_atomic) mb(Fence::before_atomic);
    rmw(&m.y, kMask, Rmw::or_, 1, kRelaxed, false, kLoc);
  };
}
void nothing() {}
// SB's second CPU with smp_mb() between its store to y and its load of x.
Cpu sb_mb() { return sb(&Mem::y, &Mem::x, &Mem::r1, [] { mb(Fence::full); }); }
// SB's first CPU with an RMW for its store: `op` on x (at `order`,
// returning a value or not), then `after`, then the load of y.
Cpu sb_rmw(Rmw op, int order, bool returns, std::function<void()> after) {
  return [=](Mem& m) {
    rmw(&m.x, kMask, op, 1, order, returns, kLoc);
    after();
    m.r0 = ld(m.y);
  };
}

const Litmus kTests[] = {
    {"SB+poonceonces", sb(&Mem::x, &Mem::y, &Mem::r0, nothing), sb(&Mem::y, &Mem::x, &Mem::r1, nothing), both_zero,
     {false, true, true}},
    {"SB+fencembonceonces", sb(&Mem::x, &Mem::y, &Mem::r0, [] { mb(Fence::full); }), sb_mb(), both_zero,
     {false, false, false}},
    {"MP+poonceonces", mp_writer(nothing, kRelaxed), mp_reader(nothing, kRelaxed), flag_without_data,
     {false, false, true}},
    {"MP+fencewmbonceonce+fencermbonceonce", mp_writer([] { mb(Fence::write); }, kRelaxed),
     mp_reader([] { mb(Fence::read); }, kRelaxed), flag_without_data, {false, false, false}},
    {"MP+pooncerelease+poacquireonce", mp_writer(nothing, kRelease), mp_reader(nothing, kAcquire),
     flag_without_data, {false, false, false}},
    // Two CPUs store to both words in opposite orders; both first stores
    // last: store->store reordering on both sides.
    {"2+2W+poonceonces",
     [](Mem& m) {
       st(m.x, 1);
       st(m.y, 2);
     },
     [](Mem& m) {
       st(m.y, 1);
       st(m.x, 2);
     },
     [](const Result& r) { return r.x == 1 && r.y == 1; }, {false, false, true}},
    // Coherence: two loads of one word never see it go back in time.
    {"CoRR+poonceonce+Once", [](Mem& m) { st(m.x, 1); },
     [](Mem& m) {
       m.r0 = ld(m.x);
       m.r1 = ld(m.x);
     },
     [](const Result& r) { return r.r0 == 1 && r.r1 == 0; }, {false, false, false}},
    // Documentation/atomic_t.txt: set_bit() returns no value and orders
    // nothing; smp_mb__before_atomic() orders what precedes it against the
    // RMW that follows, not the RMW against a later load. This is the
    // store-buffering shape of the seed's barriers as posted.
    {"SB+setbit+fencembbeforeatomic", sb_rmw(Rmw::or_, kRelaxed, false, [] { mb(Fence::before_atomic); }),
     sb_mb(), both_zero, {false, false, true}},
    {"SB+setbit+fencembafteratomic", sb_rmw(Rmw::or_, kRelaxed, false, [] { mb(Fence::after_atomic); }), sb_mb(),
     both_zero, {false, false, false}},
    // smp_mb__before_atomic() does order the store before it against the
    // RMW after it: set_bit() as the flag of a message.
    {"MP+fencembbeforeatomic-setbit+fencermbonceonce", setbit_writer(true),
     mp_reader([] { mb(Fence::read); }, kRelaxed), flag_without_data, {false, false, false}},
    {"MP+setbit+fencermbonceonce", setbit_writer(false), mp_reader([] { mb(Fence::read); }, kRelaxed),
     flag_without_data, {false, false, true}},
    // A value-returning RMW is fully ordered (xchg()); its _relaxed form
    // orders nothing, so the store-buffering outcome returns under weak.
    {"SB+xchg+fencemb", sb_rmw(Rmw::xchg, kSeqCst, true, nothing), sb_mb(), both_zero, {false, false, false}},
    {"SB+xchgrelaxed+fencemb", sb_rmw(Rmw::xchg, kRelaxed, true, nothing), sb_mb(), both_zero,
     {false, false, true}},
    // What the weak model cannot produce, though LKMM allows it: the
    // reader's loads out of order (MP with only the writer's smp_wmb()),
    // and load buffering.
    {"MP+fencewmbonceonce+poonceonces (LKMM: allowed; not modelled)", mp_writer([] { mb(Fence::write); }, kRelaxed),
     mp_reader(nothing, kRelaxed), flag_without_data, {false, false, false}},
    {"LB+poonceonces (LKMM: allowed; not modelled)",
     [](Mem& m) {
       m.r0 = ld(m.x);
       st(m.y, 1);
     },
     [](Mem& m) {
       m.r1 = ld(m.y);
       st(m.x, 1);
     },
     both_one, {false, false, false}},
};

INSTANTIATE_TEST_SUITE_P(Lkmm, LitmusTest, ::testing::ValuesIn(kTests), [](const ::testing::TestParamInfo<Litmus>& p) {
  std::string n;
  for (char c : std::string(p.param.name)) {
    if (c == ' ') break;
    n += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  }
  return n;
});

}  // namespace
}  // namespace faultline::sync::model
