// Differential: 10,000 random ops (every kind, at page, folio and EOF
// boundaries) on the engine and on the kernel, side by side.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <unistd.h>

#include <cctype>
#include <fstream>
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
  bool xfs = false;  // with the reflink family and atomic writes, against a scratch XFS
};

void PrintTo(const Case& c, std::ostream* os) { *os << "seed " << c.seed << ", " << c.frames << " frames"; }

ReplayReport run(const Case& c, std::string* out_text) {
  GenOptions g;
  g.seed = c.seed;
  g.count = 10000;
  g.reflink = g.exchange = g.atomic = c.xfs;
  auto ops = generate_ops(g);
  ReplayOptions o;
  o.against = Against::both;
  o.config.frames = c.frames;
  o.engine_on_file = c.on_file;
  o.xfs = c.xfs;
  std::ostringstream out;
  ReplayReport r = replay_ops(ops, o, out);
  *out_text = out.str();
  return r;
}

// Every op kind appears in a generated log: all but the reflink family and
// write_atomic by default, every one with --reflink --exchange --atomic.
TEST(Differential, GeneratorCoversEveryOpKind) {
  GenOptions g;
  std::set<OpKind> kinds;
  for (auto& op : generate_ops(g)) kinds.insert(op.kind);
  EXPECT_EQ(kinds.size(), 18u);
  g.reflink = g.exchange = g.atomic = true;
  kinds.clear();
  for (auto& op : generate_ops(g)) kinds.insert(op.kind);
  EXPECT_EQ(kinds.size(), 22u);
}

// copy, clone, dedupe and exchange range, 10,000 ops a seed among all the
// others, on the engine against the model, with a 64-frame pool too (the
// seeds against a scratch XFS run them against the kernel).
TEST(Differential, TheReflinkFamilyAgreesWithTheModel) {
  for (uint64_t seed : {11, 12, 13}) {
    GenOptions g;
    g.seed = seed;
    g.reflink = g.exchange = true;
    ReplayOptions o;
    o.against = Against::engine;
    o.config.frames = seed == 11 ? 64 : 4096;
    std::ostringstream out;
    ReplayReport r = replay_ops(generate_ops(g), o, out);
    EXPECT_TRUE(r.agreed) << "seed " << seed << ":\n" << out.str();
  }
}

// The logs real fsx wrote on ext4, tmpfs and XFS replay as fsx wrote them,
// the engine against the kernel (the XFS one on a scratch XFS, the -Z one
// as O_DIRECT) and against the model.
class RealFsxLogs : public ::testing::TestWithParam<std::string> {};

TEST_P(RealFsxLogs, ReplayUnmodifiedAgainstKernelAndModel) {
  std::string path = std::string(FAULTLINE_FSX_LOGS) + "/" + GetParam() + ".fsxops";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  auto ops = parse_oplog(in);
  for (Against a : {Against::engine, Against::both}) {
    ReplayOptions o;
    o.against = a;
    o.xfs = a == Against::both && GetParam().rfind("xfs", 0) == 0;
    o.direct = GetParam().find("-Z") != std::string::npos;
    std::ostringstream out;
    if (o.xfs && ::geteuid() != 0) GTEST_SKIP() << "a scratch XFS needs root";
    ReplayReport r = replay_ops(ops, o, out);
    EXPECT_TRUE(r.agreed) << GetParam() << ":\n" << out.str();
    EXPECT_EQ(r.ops, ops.size());
    EXPECT_GT(r.executed, ops.size() / 2);
  }
}

INSTANTIATE_TEST_SUITE_P(Fsx, RealFsxLogs,
                         ::testing::Values("ext4-s7-n10000", "tmpfs-s7-n10000", "ext4-s11-n8000-copy",
                                           "ext4-s5-n5000-Z", "xfs-s7-n5000", "xfs-s3-n3000-Z"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string n = p.param;
                           for (char& ch : n)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

// fsx keeps its last 10,000 ops: a longer run's log begins at a non-empty
// file. Its second half stands for one: both sides start from a file of
// the first line's SIZE, say so, and agree; a wrong SIZE column is a
// difference naming the line.
TEST(Differential, ALogThatBeginsMidRunStartsFromItsSize) {
  std::ifstream in(std::string(FAULTLINE_FSX_LOGS) + "/ext4-s7-n10000.fsxops");
  auto all = parse_oplog(in);
  std::vector<Op> tail(all.begin() + 5000, all.end());
  ASSERT_GT(tail[0].size, 0u);
  ReplayOptions o;
  std::ostringstream out;
  ReplayReport r = replay_ops(tail, o, out);
  EXPECT_TRUE(r.agreed) << out.str();
  EXPECT_NE(out.str().find("the log begins with a file of"), std::string::npos) << out.str();
  tail[100].size += 1;
  std::ostringstream bad;
  r = replay_ops(tail, o, bad);
  EXPECT_FALSE(r.agreed);
  EXPECT_TRUE(r.size_column);
  EXPECT_NE(bad.str().find(fmt::format("line {}", tail[100].line)), std::string::npos) << bad.str();
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
                                           Case{4, 64, true}, Case{5, 64, false, true}, Case{6, 4096, true, true}),
                         [](const ::testing::TestParamInfo<Case>& p) {
                           return "seed" + std::to_string(p.param.seed) + "_frames" +
                                  std::to_string(p.param.frames) + (p.param.on_file ? "_file" : "_memory") +
                                  (p.param.xfs ? "_xfs" : "");
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
