// Differential: 10,000 random ops (every kind, at page, folio and EOF
// boundaries) on the engine and on the kernel, side by side.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "protocol/protocol.h"
#include "test_util.h"
#include "replay/generator.h"
#include "replay/replayer.h"

namespace faultline::replay {
namespace {

struct Case {
  uint64_t seed, frames;
  bool on_file;
};

void PrintTo(const Case& c, std::ostream* os) { *os << "seed " << c.seed << ", " << c.frames << " frames"; }

ReplayReport run(const Case& c, std::string* out_text) {
  GenOptions g;
  g.seed = c.seed;
  g.count = 10000;
  auto ops = generate_ops(g);
  ReplayOptions o;
  o.against = Against::both;
  o.config.frames = c.frames;
  o.engine_on_file = c.on_file;
  std::ostringstream out;
  ReplayReport r = replay_ops(ops, o, out);
  *out_text = out.str();
  return r;
}

// Every op kind appears in a generated log.
TEST(Differential, GeneratorCoversEveryOpKind) {
  GenOptions g;
  auto ops = generate_ops(g);
  std::set<OpKind> kinds;
  for (auto& op : ops) kinds.insert(op.kind);
  EXPECT_EQ(kinds.size(), 17u);
}

class DifferentialSeeds : public ::testing::TestWithParam<Case> {};

TEST_P(DifferentialSeeds, EngineAgreesWithKernel) {
  std::string text;
  ReplayReport r;
  try {
    r = run(GetParam(), &text);
  } catch (const std::runtime_error& e) {
    GTEST_SKIP() << e.what();  // no collapse/insert support in $TMPDIR
  }
  EXPECT_TRUE(r.agreed) << text;
  EXPECT_EQ(r.ops, 10000u);
  EXPECT_GT(r.executed, 9000u);
  std::cout << summary_line(r, Against::both) << "\n";
}

// Plenty of memory; a pool of 64 frames where reclaim runs constantly; and
// the engine over a real file (PosixStore) instead of the memory store.
INSTANTIATE_TEST_SUITE_P(Seeds, DifferentialSeeds,
                         ::testing::Values(Case{1, 4096, false}, Case{2, 64, false}, Case{3, 4096, true},
                                           Case{4, 64, true}),
                         [](const ::testing::TestParamInfo<Case>& p) {
                           return "seed" + std::to_string(p.param.seed) + "_frames" +
                                  std::to_string(p.param.frames) + (p.param.on_file ? "_file" : "_memory");
                         });

}  // namespace
}  // namespace faultline::replay

namespace faultline::replay {
namespace {

// Every protocol combination replays a log exactly like the kernel: the
// protocols differ in synchronization, never in semantics.
class DifferentialProtocols : public ::testing::TestWithParam<std::string> {};

TEST_P(DifferentialProtocols, EngineAgreesWithKernel) {
  GenOptions g;
  g.seed = 11;
  auto ops = generate_ops(g);
  ReplayOptions o;
  o.against = Against::both;
  o.config.protocol = GetParam();
  o.config.frames = 256;
  std::ostringstream out;
  ReplayReport r;
  try {
    r = replay_ops(ops, o, out);
  } catch (const std::runtime_error& e) {
    GTEST_SKIP() << e.what();
  }
  EXPECT_TRUE(r.agreed) << out.str();
}

std::vector<std::string> all_protocols() {
  std::vector<std::string> v;
  for (const auto& m : detail::map_guard_names())
    for (const auto& c : detail::creation_guard_names()) v.push_back(c == "none" ? m : m + "+" + c);
  return v;
}

INSTANTIATE_TEST_SUITE_P(All, DifferentialProtocols, ::testing::ValuesIn(all_protocols()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return test::param_name(p.param); });

}  // namespace
}  // namespace faultline::replay
