// Splitting large page-cache folios (huge_memory.cc): truncate and hole
// punching split a folio they cut through and drop its pages past the cut;
// File::split_huge_pages splits without changing the file. Contents,
// mappings and reference counts come through intact, and a split that
// someone else's reference forbids changes nothing.
#include <gtest/gtest.h>

#include "mm/internal.h"
#include "sync/rcu.h"
#include "test_util.h"

namespace faultline::test {
namespace {

constexpr uint64_t P = kPageSize;

// A file of 16 pages cached as one 16-page folio.
struct OneLargeFolio : Fixture {
  OneLargeFolio() : Fixture(16 * P) {
    file.write(0, pattern(16 * P, 7));
    file.fsync();
  }
  uint64_t folio_pages(uint64_t page) {
    sync::RcuReadGuard rcu;  // i_pages lookups are RCU reads
    detail::Folio* f = file.inode()->i_mapping.i_pages.load(page);
    return f ? f->nr_pages() : 0;
  }
  void expect_consistent() {
    EXPECT_EQ(engine.check_mappings(), "");
    EXPECT_EQ(detail::check_refcounts(&engine.kernel()), "");
  }
};

TEST(Split, TruncateSplitsTheFolioEofCutsThroughAndDropsThePagesPastIt) {
  OneLargeFolio fx;
  ASSERT_EQ(fx.folio_pages(0), 16u);
  uint64_t free_before = fx.engine.stats().free_frames;
  fx.file.truncate(8 * P + 100);
  EXPECT_EQ(fx.engine.stats().folios_split, 1u);
  EXPECT_EQ(fx.file.cached_pages(), 9u) << "pages 9-15 lie wholly past EOF";
  EXPECT_EQ(fx.folio_pages(0), 1u);
  EXPECT_EQ(fx.folio_pages(8), 1u);
  EXPECT_EQ(fx.folio_pages(9), 0u);
  EXPECT_EQ(fx.engine.stats().free_frames, free_before + 7);
  auto data = pattern(16 * P, 7);
  EXPECT_EQ(read_file(fx.file, 0, 8 * P + 100), std::vector<std::byte>(data.begin(), data.begin() + 8 * P + 100));
  fx.file.truncate(9 * P);  // the tail of page 8 reads back as zeros
  EXPECT_TRUE(all_equal(read_file(fx.file, 8 * P + 100, P - 100), 0));
  fx.expect_consistent();
}

TEST(Split, AMappedFolioIsUnmappedFirstAndItsPagesFaultBackIn) {
  OneLargeFolio fx;
  uint64_t base = fx.mm.mmap(fx.file, 0, 16 * P, kProtRead, MapType::shared);
  std::byte b{};
  for (uint64_t p = 0; p < 16; ++p) fx.mm.load(base + p * P, {&b, 1});
  fx.file.punch_hole(4 * P + 10, 4 * P);  // cuts through pages 4 and 8
  EXPECT_EQ(fx.engine.stats().folios_split, 1u);
  EXPECT_EQ(fx.file.cached_pages(), 13u) << "pages 5-7 punched out";
  auto data = pattern(16 * P, 7);
  std::fill(data.begin() + 4 * P + 10, data.begin() + 8 * P + 10, std::byte{0});
  std::vector<std::byte> got(16 * P);
  fx.mm.load(base, got);
  EXPECT_EQ(got, data);
  fx.expect_consistent();
}

TEST(Split, SplitHugePagesKeepsTheFileAndItsMappings) {
  OneLargeFolio fx;
  uint64_t base = fx.mm.mmap(fx.file, 0, 16 * P, kProtRead | kProtWrite, MapType::shared);
  fx.mm.store(base + 3 * P, bytes(8, 0x5A));  // dirty: the split keeps it dirty
  EXPECT_EQ(fx.file.split_huge_pages(0, 0), 1u);
  EXPECT_EQ(fx.file.split_huge_pages(0, 0), 0u) << "nothing large is left";
  EXPECT_EQ(fx.folio_pages(15), 1u);
  EXPECT_EQ(fx.file.cached_pages(), 16u);
  fx.file.fsync();
  std::vector<std::byte> st(8);
  fx.store_ptr->read(3 * P, st);
  EXPECT_EQ(st, bytes(8, 0x5A)) << "the dirty page was written back after the split (G6)";
  fx.expect_consistent();
}

TEST(Split, AReferenceSomeoneElseHoldsLeavesTheFolioWhole) {
  OneLargeFolio fx;
  detail::Folio* f = detail::filemap_get_folio(&fx.file.inode()->i_mapping, 0);  // a lookup's reference
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(fx.file.split_huge_pages(0, 0), 0u);
  fx.file.truncate(8 * P + 100);  // falls back to zeroing the tail
  EXPECT_EQ(fx.engine.stats().folios_split, 0u);
  EXPECT_EQ(fx.folio_pages(0), 16u);
  detail::folio_put(f);
  fx.file.truncate(9 * P);  // the zeroed tail reads back as zeros
  EXPECT_TRUE(all_equal(read_file(fx.file, 8 * P + 100, P - 100), 0));
  fx.expect_consistent();
}

}  // namespace
}  // namespace faultline::test
