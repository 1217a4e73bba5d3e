// Cross-check: Relacy and faultline check agree on the no_new_maps barrier
// placements (relacy/no_new_maps_relacy.cc holds the Relacy side).
#include <gtest/gtest.h>

#include <string>

#include "check/check.h"

bool relacy_finds_bug(bool as_posted);

namespace faultline_check {
namespace {

// Every execution with at most one preemption and one store held back,
// under the weak model.
std::string checker_verdict(const char* protocol) {
  CheckOptions o;
  o.strategy = "exhaustive";
  o.bound = 1;
  o.executions = 10'000'000;
  return check_cell(protocol, "punch-vs-fault", "weak", o).verdict;
}

TEST(Relacy, FullBarriersAreEnoughForBoth) {
  EXPECT_FALSE(relacy_finds_bug(false));
  EXPECT_EQ(checker_verdict("no_new_maps+invalidate_lock"), "VERIFIED");
}

TEST(Relacy, AsPostedBarriersBreakForBoth) {
  EXPECT_TRUE(relacy_finds_bug(true));
  EXPECT_EQ(checker_verdict("no_new_maps_as_posted+invalidate_lock"), "BUG");
}

}  // namespace
}  // namespace faultline_check
