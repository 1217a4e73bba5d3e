// Page cache through read()/write(): coherence, EOF, large folios.
#include <gtest/gtest.h>

#include "test_util.h"

namespace faultline::test {
namespace {

TEST(Filemap, ReadReturnsStoreContents) {
  Fixture fx(5 * kPageSize + 100);
  auto got = read_file(fx.file, 0, 5 * kPageSize + 100);
  EXPECT_EQ(got, pattern(5 * kPageSize + 100, 1));
  EXPECT_GT(fx.file.cached_pages(), 0u);
}

TEST(Filemap, ReadStopsAtEof) {
  Fixture fx(kPageSize + 10);
  EXPECT_EQ(read_file(fx.file, kPageSize, 100).size(), 10u);
  EXPECT_EQ(read_file(fx.file, 2 * kPageSize, 100).size(), 0u);
}

TEST(Filemap, WriteIsSeenByReadAndExtendsSize) {
  Fixture fx(kPageSize);
  auto data = pattern(3 * kPageSize + 7, 9);
  fx.file.write(kPageSize / 2, data);
  EXPECT_EQ(fx.file.size(), kPageSize / 2 + data.size());
  EXPECT_EQ(read_file(fx.file, kPageSize / 2, data.size()), data);
  // Nothing reached the store before fsync; everything after.
  fx.file.fsync();
  std::vector<std::byte> st(data.size());
  fx.store_ptr->read(kPageSize / 2, st);
  EXPECT_EQ(st, data);
  EXPECT_EQ(fx.store_ptr->size(), fx.file.size());
}

TEST(Filemap, WritePastEofLeavesZeroGap) {
  Fixture fx(100);
  fx.file.write(3 * kPageSize, bytes(10, 0xAA));
  auto gap = read_file(fx.file, 100, 3 * kPageSize - 100);
  EXPECT_TRUE(all_equal(gap, 0));
}

TEST(Filemap, LargeFoliosAreUsedForBigWrites) {
  Fixture fx(0);
  fx.file.write(0, pattern(64 * kPageSize, 3));
  // 64 pages in folios of up to 16 pages: all cached, contents intact.
  EXPECT_EQ(fx.file.cached_pages(), 64u);
  EXPECT_EQ(read_file(fx.file, 0, 64 * kPageSize), pattern(64 * kPageSize, 3));
}

TEST(Filemap, FileLargerThanThePoolIsReadThroughReclaim) {
  Config c;
  c.frames = 64;
  Fixture fx(0, c);
  auto data = pattern(512 * kPageSize, 5);
  fx.store_ptr->write(0, data);
  fx.file.truncate(data.size());
  for (uint64_t off = 0; off < data.size(); off += 7 * kPageSize) {
    auto got = read_file(fx.file, off, kPageSize);
    ASSERT_EQ(got, std::vector<std::byte>(data.begin() + off, data.begin() + off + kPageSize)) << off;
  }
  EXPECT_GT(fx.engine.stats().folios_reclaimed, 0u);
}

TEST(Filemap, DirtyDataSurvivesReclaim) {
  Config c;
  c.frames = 64;
  Fixture fx(0, c);
  auto data = pattern(256 * kPageSize, 6);
  fx.file.write(0, data);  // 4x the pool: reclaim must write back
  EXPECT_EQ(read_file(fx.file, 0, data.size()), data);
}

TEST(Filemap, ReadaheadPopulatesTheCache) {
  Fixture fx(32 * kPageSize);
  fx.file.readahead(0, 32 * kPageSize);
  EXPECT_EQ(fx.file.cached_pages(), 32u);
}

TEST(Filemap, DontneedDropsCleanUnmappedPages) {
  Fixture fx(8 * kPageSize);
  read_file(fx.file, 0, 8 * kPageSize);
  ASSERT_EQ(fx.file.cached_pages(), 8u);
  fx.file.write(0, bytes(10, 1));  // dirty: written back, then dropped too
  fx.file.fadvise_dontneed(0, 0);
  EXPECT_EQ(fx.file.cached_pages(), 0u);
  EXPECT_TRUE(all_equal(read_file(fx.file, 0, 10), 1));
}

}  // namespace
}  // namespace faultline::test
