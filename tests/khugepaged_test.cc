// khugepaged's collapse_file (File::khugepaged_collapse): 512 small
// cached folios become one PMD-sized folio, the data unchanged, mappings of
// the small ones gone; and every reason a collapse backs off, with nothing
// changed.
#include <gtest/gtest.h>

#include "mm/internal.h"
#include "sync/rcu.h"
#include "test_util.h"

namespace faultline::test {
namespace {

constexpr uint64_t P = kPageSize;
constexpr uint64_t kPmd = 512 * P;

// A file of 2 MiB and a page, its first 2 MiB cached as 512 one-page
// folios (read in a page at a time), clean.
struct SmallFolios : Fixture {
  explicit SmallFolios(bool pmd = true) : Fixture(kPmd + P, config(pmd)) {
    for (uint64_t p = 0; p < 512; ++p) file.readahead(p * P, P);
  }
  static Config config(bool pmd) {
    Config c = small_config();
    c.frames = 4096;
    c.max_folio_order = 9;
    c.pmd_mapping = pmd;
    return c;
  }
  detail::Folio* folio_at(uint64_t page) {
    sync::RcuReadGuard rcu;  // i_pages lookups are RCU reads
    return file.inode()->i_mapping.i_pages.load(page);
  }
};

TEST(Khugepaged, CollapsesSmallFoliosIntoOnePmdSizedFolio) {
  SmallFolios fx;
  ASSERT_EQ(fx.folio_at(0)->nr_pages(), 1u);
  uint64_t free_before = fx.engine.stats().free_frames;
  ASSERT_TRUE(fx.file.khugepaged_collapse(0));
  detail::Folio* huge = fx.folio_at(0);
  EXPECT_EQ(huge->nr_pages(), 512u);
  EXPECT_EQ(fx.folio_at(511), huge);
  EXPECT_EQ(fx.engine.stats().collapses, 1u);
  EXPECT_EQ(fx.engine.stats().free_frames, free_before) << "512 small frames freed for 512 new ones";
  std::vector<std::byte> got(kPmd + P);
  EXPECT_EQ(fx.file.read(0, got), kPmd + P);
  EXPECT_EQ(got, pattern(kPmd + P, 1));
  // The next fault maps it with one PMD entry.
  uint64_t a = fx.mm.mmap(fx.file, 0, kPmd, kProtRead, MapType::shared);
  EXPECT_EQ(load(fx.mm, a, kPmd), std::vector<std::byte>(got.begin(), got.begin() + kPmd));
  EXPECT_EQ(fx.engine.stats().pmd_maps, 1u);
  EXPECT_EQ(fx.engine.check_mappings(), "");
  EXPECT_EQ(detail::check_refcounts(&fx.engine.kernel()), "");
}

// Mapped small folios are unmapped first; the mapping faults the new
// folio back in and reads the same bytes.
TEST(Khugepaged, UnmapsTheSmallFoliosFirst) {
  SmallFolios fx(false);
  uint64_t a = fx.mm.mmap(fx.file, 0, kPmd, kProtRead, MapType::shared);
  auto want = pattern(kPmd + P, 1);
  EXPECT_EQ(load(fx.mm, a, kPmd), std::vector<std::byte>(want.begin(), want.begin() + kPmd));
  detail::Folio* old = fx.folio_at(7);
  ASSERT_TRUE(fx.file.khugepaged_collapse(0));
  EXPECT_NE(fx.folio_at(7), old);
  EXPECT_EQ(fx.engine.check_mappings(), "") << "no PTE may still map a small folio";
  EXPECT_EQ(load(fx.mm, a + 7 * P, P), std::vector<std::byte>(want.begin() + 7 * P, want.begin() + 8 * P));
  EXPECT_EQ(fx.engine.stats().collapse_mapped_races, 0u);
  EXPECT_EQ(detail::check_refcounts(&fx.engine.kernel()), "");
}

// Each reason to back off leaves the small folios in place, unlocked.
TEST(Khugepaged, BacksOffAndChangesNothing) {
  {
    SmallFolios fx;
    std::byte b{9};
    fx.file.write(100 * P, {&b, 1});  // dirty
    detail::Folio* f = fx.folio_at(3);
    EXPECT_FALSE(fx.file.khugepaged_collapse(0));
    EXPECT_EQ(fx.folio_at(3), f);
    EXPECT_FALSE(f->test(detail::PG_locked));
    fx.file.fsync();
    EXPECT_TRUE(fx.file.khugepaged_collapse(0)) << "clean again";
  }
  {
    SmallFolios fx;
    fx.file.fadvise_dontneed(200 * P, P);  // a hole in the cache
    EXPECT_FALSE(fx.file.khugepaged_collapse(0));
    EXPECT_EQ(fx.folio_at(0)->nr_pages(), 1u);
  }
  {
    SmallFolios fx;
    fx.file.truncate(kPmd - P);  // not wholly below EOF
    EXPECT_FALSE(fx.file.khugepaged_collapse(0));
  }
  {
    SmallFolios fx;
    detail::Folio* f = fx.folio_at(5);
    detail::folio_get(f);  // someone else's reference: the freeze fails
    EXPECT_FALSE(fx.file.khugepaged_collapse(0));
    EXPECT_EQ(fx.folio_at(5), f);
    detail::folio_put(f);
  }
}

TEST(Khugepaged, RejectsAnUnalignedOffsetAndSmallFolioConfigs) {
  SmallFolios fx;
  expect_error(Errc::invalid_argument, "0x1000", [&] { fx.file.khugepaged_collapse(P); });
  Fixture small(kPmd);
  expect_error(Errc::not_supported, "max_folio_order is 4", [&] { small.file.khugepaged_collapse(0); });
}

}  // namespace
}  // namespace faultline::test
