// G6 under store faults: replays over a FaultInjectingStore lose nothing
// they do not report, and the oracle that says so has teeth.
#include <gtest/gtest.h>

#include <cerrno>
#include <iostream>
#include <sstream>

#include "replay/generator.h"
#include "replay/inject.h"

namespace faultline::replay {
namespace {

constexpr const char* kSpec = "read=EIO@0.02,write=EIO@0.02,write=ENOSPC@0.01,write=short@0.01,sync=EIO@0.05";

Config small() {
  Config c;
  c.frames = 256;  // 1 MiB: reclaim writes back, and fails, under the ops
  return c;
}

// Replays `seeds` generated logs of `count` ops over a store failing as
// `spec_text` says, each with its own seed; every replay must agree.
InjectReport replay_seeds(const std::string& spec_text, uint64_t seeds, uint64_t count, bool every_op_kind) {
  InjectReport total;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    GenOptions g;
    g.seed = seed;
    g.count = count;
    g.max_file = 1 << 20;
    g.reflink = g.exchange = g.atomic = every_op_kind;
    InjectSpec spec = parse_inject_spec(spec_text);
    spec.seed = seed;
    std::ostringstream out;
    InjectReport r = replay_injected(generate_ops(g), small(), spec, out);
    EXPECT_TRUE(r.agreed) << "seed " << seed << ":\n" << out.str();
    total.ops += r.ops;
    total.executed += r.executed;
    total.skipped += r.skipped;
    total.injected += r.injected;
    total.failed_ops += r.failed_ops;
    total.fsync_errors += r.fsync_errors;
    total.durable_checks += r.durable_checks;
    total.resyncs += r.resyncs;
    total.bytes_compared += r.bytes_compared;
  }
  return total;
}

// Thousands of random ops (every kind the generator makes: writes, mapped
// writes, direct I/O, every killer, fsync, reclaim) with faults injected
// into reads, writebacks and syncs: every fault reported where it must be,
// every acknowledged byte in the store after each successful fsync.
TEST(Inject, ThousandsOfRandomOpsLoseNothingUnreported) {
  InjectReport total = replay_seeds(kSpec, 6, 2500, false);
  std::cout << summary_line(total) << "\n";
  EXPECT_GT(total.injected, 100u);
  EXPECT_GT(total.fsync_errors, 10u);
  EXPECT_GT(total.durable_checks, 50u);
}

// Out of memory inside the store, at every call the engine makes of it
// (std::bad_alloc, as a failed allocation there throws): each op unwinds
// with ENOMEM, no folio stays locked (a later op or the teardown would
// wait forever), and nothing acknowledged is lost. It found, besides: a
// punch or zeroing that failed in the store left zeroed edge folios clean;
// a failed truncate left stale blocks past EOF; a collapse past the
// store's size cut its data; a copy that failed half way hid what it wrote.
TEST(Inject, OutOfMemoryInTheStoreUnwindsAndLosesNothing) {
  const std::string spec_text =
      "read=ENOMEM@0.02,write=ENOMEM@0.03,truncate=ENOMEM@0.02,punch_hole=ENOMEM@0.05,zero_range=ENOMEM@0.05,"
      "collapse_range=ENOMEM@0.05,insert_range=ENOMEM@0.05,sync=ENOMEM@0.05,clone_range=ENOMEM@0.05,"
      "exchange_range=ENOMEM@0.05,write_atomic=ENOMEM@0.05";
  InjectReport total = replay_seeds(spec_text, 4, 2000, true);
  EXPECT_GT(total.injected, 100u);
  EXPECT_GT(total.failed_ops, 50u);
  EXPECT_GT(total.fsync_errors, 5u);
}

// The oracle has teeth against the bug G6 exists for: with Linux's own
// behaviour (a failed writeback cleans the folio and keeps only the error)
// this test fails at the first fsync after such a writeback, with "store
// after fsync differ" (checked by hand: see the closing note of issue 10).

// A store that acknowledges every seventh write and drops it: nothing
// fails, so only the check after fsync can see it, and it must.
class LyingStore final : public Store {
 public:
  uint64_t size() const override { return inner_.size(); }
  void read(uint64_t off, std::span<std::byte> buf) override { inner_.read(off, buf); }
  void write(uint64_t off, std::span<const std::byte> buf) override {
    if (++writes_ % 7 != 0) inner_.write(off, buf);
  }
  void truncate(uint64_t n) override { inner_.truncate(n); }
  void punch_hole(uint64_t off, uint64_t len) override { inner_.punch_hole(off, len); }
  void zero_range(uint64_t off, uint64_t len) override { inner_.zero_range(off, len); }
  void collapse_range(uint64_t off, uint64_t len) override { inner_.collapse_range(off, len); }
  void insert_range(uint64_t off, uint64_t len) override { inner_.insert_range(off, len); }
  void sync() override {}

 private:
  MemoryStore inner_;
  uint64_t writes_ = 0;
};

TEST(Inject, AStoreThatLosesWritesIsCaught) {
  GenOptions g;
  g.count = 2000;
  std::ostringstream out;
  InjectReport r = replay_injected(generate_ops(g), small(), InjectSpec{}, out, std::make_unique<LyingStore>());
  EXPECT_FALSE(r.agreed);
  EXPECT_NE(out.str().find("differ"), std::string::npos) << out.str();
}

TEST(Inject, SpecErrorsNameTheItem) {
  auto bad = [](const std::string& spec, const std::string& mentions) {
    try {
      parse_inject_spec(spec);
      ADD_FAILURE() << "parsed " << spec;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(mentions), std::string::npos) << e.what();
    }
  };
  bad("read=EIO@2", "'2'");
  bad("flush=EIO@0.1", "flush");
  bad("read=short@0.1", "short");
  bad("write=EIO", "CALL=ERR@PROBABILITY");
  bad("seed=x", "seed");
  InjectSpec s = parse_inject_spec("write=short@0.5,seed=9");
  ASSERT_EQ(s.rules.size(), 1u);
  EXPECT_TRUE(s.rules[0].short_write);
  EXPECT_EQ(s.rules[0].err, ENOSPC);
  EXPECT_EQ(s.seed, 9u);
}

}  // namespace
}  // namespace faultline::replay
