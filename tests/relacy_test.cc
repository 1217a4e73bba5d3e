// Cross-check: Relacy and faultline check agree on the no_new_maps barrier
// placements (relacy/no_new_maps_relacy.cc holds the Relacy side).
#include <gtest/gtest.h>

#include "check/check.h"

bool relacy_finds_bug(bool as_posted);

namespace faultline_check {
namespace {

// Stops at the first BUG; a PASSED claims only the executions it ran.
bool checker_finds_bug(const char* protocol, uint64_t executions) {
  CheckOptions o;
  o.strategy = "pct";
  o.executions = executions;
  return check_cell(protocol, "punch-vs-fault", "weak", o).verdict == "BUG";
}

TEST(Relacy, FullBarriersAreEnoughForBoth) {
  EXPECT_FALSE(relacy_finds_bug(false));
  EXPECT_FALSE(checker_finds_bug("no_new_maps+invalidate_lock", 5000));
}

TEST(Relacy, AsPostedBarriersBreakForBoth) {
  EXPECT_TRUE(relacy_finds_bug(true));
  EXPECT_TRUE(checker_finds_bug("no_new_maps_as_posted+invalidate_lock", 60000));
}

}  // namespace
}  // namespace faultline_check
