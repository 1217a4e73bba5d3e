// Differential: 10,000 random ops (every kind, at page, folio and EOF
// boundaries) on the engine and on the kernel, side by side.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "replay/generator.h"
#include "replay/replayer.h"

namespace faultline::replay {
namespace {

ReplayReport run(uint64_t seed, uint64_t frames, std::string* out_text) {
  GenOptions g;
  g.seed = seed;
  g.count = 10000;
  auto ops = generate_ops(g);
  ReplayOptions o;
  o.against = Against::both;
  o.config.frames = frames;
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

class DifferentialSeeds : public ::testing::TestWithParam<std::pair<uint64_t, uint64_t>> {};

TEST_P(DifferentialSeeds, EngineAgreesWithKernel) {
  auto [seed, frames] = GetParam();
  std::string text;
  ReplayReport r;
  try {
    r = run(seed, frames, &text);
  } catch (const std::runtime_error& e) {
    GTEST_SKIP() << e.what();  // no collapse/insert support in $TMPDIR
  }
  EXPECT_TRUE(r.agreed) << text;
  EXPECT_EQ(r.ops, 10000u);
  EXPECT_GT(r.executed, 9000u);
  std::cout << summary_line(r, Against::both) << "\n";
}

// Plenty of memory, and a pool of 64 frames where reclaim runs constantly.
INSTANTIATE_TEST_SUITE_P(Seeds, DifferentialSeeds,
                         ::testing::Values(std::pair<uint64_t, uint64_t>{1, 4096}, std::pair<uint64_t, uint64_t>{2, 64},
                                           std::pair<uint64_t, uint64_t>{3, 4096}));

}  // namespace
}  // namespace faultline::replay
