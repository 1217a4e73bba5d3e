// PMD mappings (Config::pmd_mapping): a 2 MiB folio mapped by one entry,
// and every page killer, writeback, migration, reclaim and munmap dealing
// with it, splitting it into PTEs where only part of it goes.
#include <gtest/gtest.h>

#include "mm/internal.h"
#include "test_util.h"

namespace faultline::test {
namespace {

constexpr uint64_t P = kPageSize;
constexpr uint64_t kPmd = 512 * P;

Config pmd_config() {
  Config c = Fixture::small_config();
  c.frames = 8192;
  c.max_folio_order = 9;
  c.pmd_mapping = true;
  return c;
}

// Whether `addr` is mapped by a PMD-level entry.
bool pmd_mapped(const Mm& mm, uint64_t addr) {
  auto* slot = mm.mm()->pmd_slot(addr);
  return slot && detail::pmd_huge(slot->load(sync::acquire));
}

// A 4 MiB file written whole (so cached as two 2 MiB folios), mapped shared.
struct PmdFixture : Fixture {
  explicit PmdFixture(unsigned prot = kProtRead) : Fixture(0, pmd_config()) {
    file.write(0, pattern(2 * kPmd, 3));
    base = mm.mmap(file, 0, 2 * kPmd, prot, MapType::shared);
  }
  uint64_t faults() const { return engine.stats().faults; }
  uint64_t base = 0;
};

TEST(Pmd, OneFaultMapsTwoMegabytes) {
  PmdFixture fx;
  uint64_t before = fx.faults();
  EXPECT_EQ(load(fx.mm, fx.base, 2 * kPmd), pattern(2 * kPmd, 3));
  EXPECT_EQ(fx.faults() - before, 2u) << "one fault per PMD";
  EXPECT_TRUE(pmd_mapped(fx.mm, fx.base));
  EXPECT_TRUE(pmd_mapped(fx.mm, fx.base + kPmd + 7 * P));
  EXPECT_EQ(fx.engine.check_mappings(), "");
}

// Off, the same file takes a fault per fault-around window.
TEST(Pmd, OffMapsByThePage) {
  Config c = pmd_config();
  c.pmd_mapping = false;
  c.map_whole_folio = false;
  Fixture fx(0, c);
  fx.file.write(0, pattern(kPmd, 3));
  uint64_t a = fx.mm.mmap(fx.file, 0, kPmd, kProtRead, MapType::shared);
  uint64_t before = fx.engine.stats().faults;
  load(fx.mm, a, kPmd);
  EXPECT_EQ(fx.engine.stats().faults - before, 512u / c.fault_around_pages);
  EXPECT_FALSE(pmd_mapped(fx.mm, a));
}

// Truncating into a PMD mapping splits it and zaps what lies past EOF
// (G5); the rest stays mapped and right.
TEST(Pmd, TruncateSplitsAndNothingMapsPastEof) {
  PmdFixture fx;
  load(fx.mm, fx.base, 2 * kPmd);
  fx.file.truncate(kPmd + 100 * P);
  EXPECT_TRUE(pmd_mapped(fx.mm, fx.base));
  EXPECT_FALSE(pmd_mapped(fx.mm, fx.base + kPmd));
  EXPECT_EQ(fx.engine.check_mappings(), "");
  auto want = pattern(2 * kPmd, 3);
  EXPECT_EQ(load(fx.mm, fx.base + kPmd, 100 * P),
            std::vector<std::byte>(want.begin() + kPmd, want.begin() + kPmd + 100 * P));
  expect_error(Errc::bus_error, "past EOF", [&] { load(fx.mm, fx.base + kPmd + 101 * P, 1); });
  EXPECT_EQ(load(fx.mm, fx.base, 8), std::vector<std::byte>(want.begin(), want.begin() + 8));
}

// A hole punched in the middle of a PMD mapping reads as zeros through it.
TEST(Pmd, PunchInTheMiddleSplitsIt) {
  PmdFixture fx;
  load(fx.mm, fx.base, kPmd);
  ASSERT_TRUE(pmd_mapped(fx.mm, fx.base));
  fx.file.punch_hole(100 * P, 3 * P);
  EXPECT_FALSE(pmd_mapped(fx.mm, fx.base));
  EXPECT_TRUE(all_equal(load(fx.mm, fx.base + 100 * P, 3 * P), 0));
  auto want = pattern(2 * kPmd, 3);
  EXPECT_EQ(load(fx.mm, fx.base + 99 * P, P), std::vector<std::byte>(want.begin() + 99 * P, want.begin() + 100 * P));
  EXPECT_EQ(load(fx.mm, fx.base + 103 * P, P),
            std::vector<std::byte>(want.begin() + 103 * P, want.begin() + 104 * P));
  EXPECT_EQ(fx.engine.check_mappings(), "");
}

// A store through a read-only PMD mapping makes it writable and dirties
// the folio; writeback write-protects it again, so the next store dirties
// it again and reaches the store with the next fsync (G6).
TEST(Pmd, WritebackWriteProtectsAndTheNextStoreRedirties) {
  PmdFixture fx(kProtRead | kProtWrite);
  load(fx.mm, fx.base, 8);  // a read fault: read-only PMD
  fx.mm.store(fx.base + 5 * P, bytes(8, 1));
  EXPECT_TRUE(pmd_mapped(fx.mm, fx.base));
  fx.file.fsync();
  fx.mm.store(fx.base + 5 * P, bytes(8, 2));
  fx.file.fsync();
  std::vector<std::byte> disk(8);
  fx.store_ptr->read(5 * P, disk);
  EXPECT_TRUE(all_equal(disk, 2));
}

// Migration splits the mapping (its entries are per PTE) and moves the
// folio; accesses go on to the new frames.
TEST(Pmd, MigrationSplitsAndMoves) {
  PmdFixture fx(kProtRead | kProtWrite);
  load(fx.mm, fx.base, 8);
  ASSERT_TRUE(pmd_mapped(fx.mm, fx.base));
  EXPECT_EQ(fx.file.migrate(0, kPmd), 1u);
  EXPECT_FALSE(pmd_mapped(fx.mm, fx.base));
  EXPECT_EQ(fx.engine.check_mappings(), "");
  fx.mm.store(fx.base + 7 * P, bytes(8, 9));
  EXPECT_TRUE(all_equal(read_file(fx.file, 7 * P, 8), 9));
}

// Unmapping part of a PMD mapping splits it; the rest stays mapped.
TEST(Pmd, MunmapOfPartSplits) {
  PmdFixture fx;
  load(fx.mm, fx.base, 2 * kPmd);
  fx.mm.munmap(fx.base, kPmd / 2);
  EXPECT_FALSE(pmd_mapped(fx.mm, fx.base + kPmd / 2));
  EXPECT_TRUE(pmd_mapped(fx.mm, fx.base + kPmd));
  expect_error(Errc::segv, "no mapping", [&] { load(fx.mm, fx.base, 1); });
  auto want = pattern(2 * kPmd, 3);
  EXPECT_EQ(load(fx.mm, fx.base + kPmd / 2, 8),
            std::vector<std::byte>(want.begin() + kPmd / 2, want.begin() + kPmd / 2 + 8));
  EXPECT_EQ(fx.engine.check_mappings(), "");
}

// Reclaim unmaps the whole mapping and drops the folio; the next access
// reads it in again.
TEST(Pmd, ReclaimTakesTheWholeMapping) {
  PmdFixture fx;
  load(fx.mm, fx.base, 2 * kPmd);
  EXPECT_GE(fx.engine.reclaim(1024), 1024u);
  EXPECT_FALSE(pmd_mapped(fx.mm, fx.base));
  EXPECT_EQ(fx.engine.check_mappings(), "");
  EXPECT_EQ(load(fx.mm, fx.base, 2 * kPmd), pattern(2 * kPmd, 3));
}

// munmap of a whole range frees its page tables: the range, mapped again,
// takes a PMD mapping where PTEs were before.
TEST(Pmd, AnUnmappedRangeCanBeMappedByPmdAgain) {
  Config c = pmd_config();
  Fixture fx(0, c);
  fx.file.write(0, pattern(kPmd, 3));
  fx.file.truncate(kPmd);
  uint64_t a = fx.mm.mmap(fx.file, 0, kPmd, kProtRead, MapType::private_cow);  // private: by the page
  load(fx.mm, a, kPmd);
  fx.mm.munmap(a, kPmd);
  uint64_t b = fx.mm.mmap(fx.file, 0, kPmd, kProtRead, MapType::shared);
  EXPECT_EQ(a, b) << "the freed range is used again";
  uint64_t before = fx.engine.stats().faults;
  load(fx.mm, b, kPmd);
  EXPECT_EQ(fx.engine.stats().faults - before, 1u);
  EXPECT_TRUE(pmd_mapped(fx.mm, b));
}

}  // namespace
}  // namespace faultline::test
