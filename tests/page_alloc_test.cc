// The buddy frame pool.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <thread>
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

// Single frames a CPU frees wait on its own list (pcp) and come back to it
// first; another CPU takes its frames from the buddy lists meanwhile.
TEST(PageAlloc, AFreedFrameWaitsOnItsCpusList) {
  FramePool pool(64, 4, false);
  Folio* mine = pool.alloc(0);
  ASSERT_NE(mine, nullptr);
  const uint32_t pfn = mine->pfn;
  folio_put(mine);
  EXPECT_EQ(pool.nr_free(), 64u);
  std::set<uint32_t> theirs;
  std::thread([&] {
    for (int i = 0; i < 8; ++i) theirs.insert(pool.alloc(0)->pfn);
  }).join();
  EXPECT_EQ(theirs.count(pfn), 0u) << "another CPU got the frame this one freed";
  Folio* again = pool.alloc(0);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->pfn, pfn);
}

// Frames on per-CPU lists do not merge with their buddies, so an
// allocation of a large order drains every list before it gives up.
TEST(PageAlloc, ALargeAllocationDrainsEveryCpusList) {
  FramePool pool(64, 4, false);
  std::vector<Folio*> fs;
  for (int i = 0; i < 64; ++i) fs.push_back(pool.alloc(0));
  ASSERT_EQ(std::count(fs.begin(), fs.end(), nullptr), 0);
  EXPECT_EQ(pool.alloc(0), nullptr);
  std::thread([&] {
    for (int i = 0; i < 32; ++i) folio_put(fs[i]);
  }).join();
  for (int i = 32; i < 64; ++i) folio_put(fs[i]);
  EXPECT_EQ(pool.nr_free(), 64u);
  for (int i = 0; i < 4; ++i) EXPECT_NE(pool.alloc(4), nullptr) << "order-4 block " << i;
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

// A pool's frames start zero-filled, also when the next pool of the same
// size reuses the last one's mapping (the model checker builds a world per
// execution); a poisoning pool's start poisoned.
bool all_bytes(const FramePool& pool, std::byte v) {
  const std::byte* p = pool.frame_address(0);
  return std::all_of(p, p + 16 * PAGE_SIZE, [v](std::byte b) { return b == v; });
}

TEST(PageAlloc, AReusedMappingStartsZeroFilled) {
  const std::byte* first = nullptr;
  {
    FramePool pool(16, 0, false);
    first = pool.frame_address(0);
    std::memset(pool.frame_address(0), 0x5a, 16 * PAGE_SIZE);
  }
  {
    FramePool again(16, 0, false);
    ASSERT_EQ(again.frame_address(0), first) << "the mapping was not reused";
    EXPECT_TRUE(all_bytes(again, std::byte{0}));
  }
  FramePool poisoned(16, 0, true);
  ASSERT_EQ(poisoned.frame_address(0), first) << "the mapping was not reused";
  for (int i = 0; i < 16; ++i) ASSERT_NE(poisoned.alloc(0), nullptr);  // each its own frame, readable
  EXPECT_TRUE(all_bytes(poisoned, std::byte{0x6b}));
}

}  // namespace
}  // namespace faultline::detail
