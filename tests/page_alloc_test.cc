// The buddy frame pool.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "mm/page_alloc.h"

namespace faultline::detail {
namespace {

TEST(PageAlloc, AllocatesAlignedBlocksAndMergesOnFree) {
  FramePool pool(64, 4, false);
  EXPECT_EQ(pool.nr_free(), 64u);
  std::vector<Folio*> fs;
  for (int i = 0; i < 4; ++i) {
    Folio* f = pool.alloc(4);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->pfn % 16, 0u);
    EXPECT_EQ(f->refcount.load(sync::relaxed), 1);
    fs.push_back(f);
  }
  EXPECT_EQ(pool.alloc(0), nullptr);
  for (Folio* f : fs) folio_put(f);
  EXPECT_EQ(pool.nr_free(), 64u);
  // Everything merged back: four order-4 blocks again.
  for (int i = 0; i < 4; ++i) EXPECT_NE(pool.alloc(4), nullptr);
}

TEST(PageAlloc, SplitsLargeBlocksForSmallOrders) {
  FramePool pool(16, 4, false);
  std::set<uint32_t> pfns;
  for (int i = 0; i < 16; ++i) {
    Folio* f = pool.alloc(0);
    ASSERT_NE(f, nullptr);
    pfns.insert(f->pfn);
  }
  EXPECT_EQ(pfns.size(), 16u);
  EXPECT_EQ(pool.nr_free(), 0u);
}

TEST(PageAlloc, PoisonFillsFreedFrames) {
  FramePool pool(16, 0, true);
  Folio* f = pool.alloc(0);
  f->address()[0] = std::byte{1};
  folio_put(f);
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_EQ(pool.address(f)[0], std::byte{0x6b});
#endif
}

}  // namespace
}  // namespace faultline::detail
