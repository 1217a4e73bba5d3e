// Each page killer, single-threaded: contents, mappings, blocks.
#include <gtest/gtest.h>

#include "test_util.h"

namespace faultline::test {
namespace {

struct Mapped : Fixture {
  explicit Mapped(uint64_t size = 16 * kPageSize) : Fixture(size) {
    addr = mm.mmap(file, 0, 32 * kPageSize, kProtRead | kProtWrite, MapType::shared);
    load(mm, addr, size);  // everything mapped
  }
  Errc access_error(uint64_t off) {
    std::byte b{};
    try {
      mm.load(addr + off, {&b, 1});
    } catch (const Error& e) {
      return e.code();
    }
    return Errc::invalid_argument;  // "no error"
  }
  uint64_t addr;
};

TEST(Killers, TruncateDownUnmapsAndBusErrors) {
  Mapped fx;
  fx.file.truncate(3 * kPageSize + 10);
  EXPECT_EQ(fx.engine.check_mappings(), "");
  EXPECT_EQ(fx.access_error(5 * kPageSize), Errc::bus_error);
  EXPECT_TRUE(all_equal(load(fx.mm, fx.addr + 3 * kPageSize + 10, kPageSize - 10), 0));
  EXPECT_EQ(fx.store_ptr->size(), 3 * kPageSize + 10);
  fx.file.truncate(0);
  EXPECT_EQ(fx.file.cached_pages(), 0u);
  EXPECT_EQ(fx.access_error(0), Errc::bus_error);
}

TEST(Killers, TruncateUpReadsZeros) {
  Mapped fx(kPageSize + 10);
  fx.file.truncate(4 * kPageSize);
  EXPECT_TRUE(all_equal(load(fx.mm, fx.addr + kPageSize + 10, 3 * kPageSize - 10), 0));
}

TEST(Killers, PunchHoleZeroesThroughMappingsAndFreesBlocks) {
  Mapped fx;
  uint64_t before = fx.store_ptr->allocated_blocks();
  fx.file.punch_hole(kPageSize + 100, 4 * kPageSize);
  EXPECT_EQ(fx.engine.check_mappings(), "");
  EXPECT_TRUE(all_equal(load(fx.mm, fx.addr + kPageSize + 100, 4 * kPageSize), 0));
  EXPECT_TRUE(all_equal(read_file(fx.file, kPageSize + 100, 4 * kPageSize), 0));
  EXPECT_EQ(load(fx.mm, fx.addr + kPageSize + 99, 1)[0], pattern(kPageSize + 100, 1)[kPageSize + 99]);
  EXPECT_EQ(fx.store_ptr->allocated_blocks(), before - 3);
  EXPECT_EQ(fx.file.size(), 16 * kPageSize);
}

TEST(Killers, ZeroRangeExtendsUnlessKeepSize) {
  Mapped fx(4 * kPageSize);
  fx.file.zero_range(3 * kPageSize, 2 * kPageSize, true);
  EXPECT_EQ(fx.file.size(), 4 * kPageSize);
  fx.file.zero_range(3 * kPageSize, 2 * kPageSize, false);
  EXPECT_EQ(fx.file.size(), 5 * kPageSize);
  EXPECT_TRUE(all_equal(read_file(fx.file, 3 * kPageSize, 2 * kPageSize), 0));
}

TEST(Killers, CollapseShiftsDataDown) {
  Mapped fx;
  auto orig = pattern(16 * kPageSize, 1);
  fx.file.collapse_range(2 * kPageSize, 3 * kPageSize);
  EXPECT_EQ(fx.file.size(), 13 * kPageSize);
  std::vector<std::byte> want(orig.begin(), orig.begin() + 2 * kPageSize);
  want.insert(want.end(), orig.begin() + 5 * kPageSize, orig.end());
  EXPECT_EQ(load(fx.mm, fx.addr, 13 * kPageSize), want);
  EXPECT_EQ(read_file(fx.file, 0, 13 * kPageSize), want);
  EXPECT_EQ(fx.access_error(13 * kPageSize), Errc::bus_error);
}

TEST(Killers, CollapseKeepsDirtyDataItShifts) {
  Mapped fx;
  fx.mm.store(fx.addr + 10 * kPageSize, bytes(8, 0x42));  // dirty, beyond the hole
  fx.file.collapse_range(2 * kPageSize, 3 * kPageSize);
  EXPECT_TRUE(all_equal(read_file(fx.file, 7 * kPageSize, 8), 0x42));
}

TEST(Killers, InsertShiftsDataUpAndLeavesHole) {
  Mapped fx(8 * kPageSize);
  auto orig = pattern(8 * kPageSize, 1);
  fx.file.insert_range(2 * kPageSize, 2 * kPageSize);
  EXPECT_EQ(fx.file.size(), 10 * kPageSize);
  std::vector<std::byte> want(orig.begin(), orig.begin() + 2 * kPageSize);
  want.resize(4 * kPageSize);
  want.insert(want.end(), orig.begin() + 2 * kPageSize, orig.end());
  EXPECT_EQ(load(fx.mm, fx.addr, 10 * kPageSize), want);
}

TEST(Killers, DirectWriteInvalidatesMappedPages) {
  Mapped fx;
  fx.file.direct_write(kPageSize, bytes(kPageSize, 0x31));
  EXPECT_EQ(fx.engine.check_mappings(), "");
  EXPECT_TRUE(all_equal(load(fx.mm, fx.addr + kPageSize, kPageSize), 0x31));
  std::vector<std::byte> d(kPageSize);
  EXPECT_EQ(fx.file.direct_read(kPageSize, d), kPageSize);
  EXPECT_TRUE(all_equal(d, 0x31));
}

TEST(Killers, DirectReadSeesDirtyCache) {
  Mapped fx;
  fx.mm.store(fx.addr + 3 * kPageSize, bytes(512, 0x12));
  std::vector<std::byte> d(512);
  fx.file.direct_read(3 * kPageSize, d);
  EXPECT_TRUE(all_equal(d, 0x12));
}

TEST(Killers, DontneedKeepsMappedPages) {
  Mapped fx;
  uint64_t cached = fx.file.cached_pages();
  fx.file.fadvise_dontneed(0, 0);
  EXPECT_EQ(fx.file.cached_pages(), cached);
  fx.mm.munmap(fx.addr, 32 * kPageSize);
  fx.file.fadvise_dontneed(0, 0);
  EXPECT_EQ(fx.file.cached_pages(), 0u);
}

TEST(Killers, MigrationMovesMappedDirtyFolios) {
  Mapped fx;
  fx.mm.store(fx.addr + 5, bytes(3, 0x66));
  uint64_t moved = fx.file.migrate(0, 0);
  EXPECT_GT(moved, 0u);
  EXPECT_EQ(fx.engine.stats().folios_migrated, moved);
  EXPECT_EQ(fx.engine.check_mappings(), "");
  EXPECT_TRUE(all_equal(load(fx.mm, fx.addr + 5, 3), 0x66));
  fx.file.fsync();  // dirtiness moved with the contents
  std::vector<std::byte> st(3);
  fx.store_ptr->read(5, st);
  EXPECT_TRUE(all_equal(st, 0x66));
}

TEST(Killers, ReclaimUnmapsWritesBackAndFrees) {
  Mapped fx;
  fx.mm.store(fx.addr + 2 * kPageSize, bytes(10, 0x24));
  uint64_t freed = fx.engine.reclaim(1000);
  EXPECT_GE(freed, 16u);
  EXPECT_EQ(fx.file.cached_pages(), 0u);
  EXPECT_EQ(fx.engine.check_mappings(), "");
  std::vector<std::byte> st(10);
  fx.store_ptr->read(2 * kPageSize, st);
  EXPECT_TRUE(all_equal(st, 0x24));
  EXPECT_TRUE(all_equal(load(fx.mm, fx.addr + 2 * kPageSize, 10), 0x24));
}

TEST(Killers, TruncateZapsPrivateCopiesPastEof) {
  Fixture fx(4 * kPageSize);
  uint64_t p = fx.mm.mmap(fx.file, 0, 4 * kPageSize, kProtRead | kProtWrite, MapType::private_cow);
  fx.mm.store(p + 3 * kPageSize, bytes(4, 0xCC));
  fx.file.truncate(2 * kPageSize);
  std::byte b{};
  EXPECT_THROW(fx.mm.load(p + 3 * kPageSize, {&b, 1}), Error);
  EXPECT_EQ(fx.engine.check_mappings(), "");
}

TEST(Killers, PunchKeepsPrivateCopies) {
  Fixture fx(4 * kPageSize);
  uint64_t p = fx.mm.mmap(fx.file, 0, 4 * kPageSize, kProtRead | kProtWrite, MapType::private_cow);
  fx.mm.store(p + kPageSize, bytes(4, 0xCC));
  fx.file.punch_hole(0, 4 * kPageSize);
  EXPECT_TRUE(all_equal(load(fx.mm, p + kPageSize, 4), 0xCC));
  EXPECT_TRUE(all_equal(load(fx.mm, p + 2 * kPageSize, 4), 0));
}

TEST(Killers, LargeFolioStraddlingEofIsZeroedPastIt) {
  Fixture fx(0);
  fx.file.write(0, pattern(16 * kPageSize, 2));  // one 16-page folio
  uint64_t a = fx.mm.mmap(fx.file, 0, 16 * kPageSize, kProtRead, MapType::shared);
  load(fx.mm, a, 16 * kPageSize);
  fx.file.truncate(5 * kPageSize + 3);
  EXPECT_EQ(fx.engine.check_mappings(), "");
  EXPECT_TRUE(all_equal(load(fx.mm, a + 5 * kPageSize + 3, kPageSize - 3), 0));
  std::byte b{};
  EXPECT_THROW(fx.mm.load(a + 6 * kPageSize, {&b, 1}), Error);
  fx.file.truncate(16 * kPageSize);
  EXPECT_TRUE(all_equal(load(fx.mm, a + 5 * kPageSize + 3, 11 * kPageSize - 3), 0));
}

}  // namespace
}  // namespace faultline::test
