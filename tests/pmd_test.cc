// PMD mappings (Config::pmd_mapping): a 2 MiB folio mapped by one entry,
// and every page killer, writeback, migration, reclaim and munmap dealing
// with it, splitting it into PTEs where only part of it goes.
#include <gtest/gtest.h>

#include <iostream>
#include <random>

#include "mm/internal.h"
#include "replay/model.h"
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
  EXPECT_EQ(fx.engine.stats().pmd_maps, 2u);
  EXPECT_TRUE(pmd_mapped(fx.mm, fx.base));
  EXPECT_TRUE(pmd_mapped(fx.mm, fx.base + kPmd + 7 * P));
  EXPECT_EQ(fx.engine.check_mappings(), "");
}

// A mapping placed after another one still lines up with its file
// offset modulo 2 MiB (thp_get_unmapped_area), so it takes PMD entries.
TEST(Pmd, AMappingIsPlacedWhereItsFileOffsetLinesUp) {
  PmdFixture fx;
  fx.mm.mmap(fx.file, 0, 3 * P, kProtRead, MapType::shared);  // something in the way
  uint64_t a = fx.mm.mmap(fx.file, 0, 2 * kPmd, kProtRead, MapType::shared);
  EXPECT_EQ(a % kPmd, 0u);
  uint64_t b = fx.mm.mmap(fx.file, kPmd, kPmd, kProtRead, MapType::shared);
  EXPECT_EQ(b % kPmd, 0u);
  load(fx.mm, a, kPmd);
  load(fx.mm, b, kPmd);
  EXPECT_TRUE(pmd_mapped(fx.mm, a));
  EXPECT_TRUE(pmd_mapped(fx.mm, b));
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

// A 2 MiB folio that a truncate left straddling EOF (its tail zeroed, the
// folio kept) is mapped by the page, never by a PMD entry reaching past
// EOF (G5), as do_set_pmd checks.
TEST(Pmd, NoPmdOverAFolioStraddlingEof) {
  PmdFixture fx;
  fx.file.truncate(kPmd + 100 * P);
  auto want = pattern(2 * kPmd, 3);
  EXPECT_EQ(load(fx.mm, fx.base + kPmd, 8), std::vector<std::byte>(want.begin() + kPmd, want.begin() + kPmd + 8));
  EXPECT_FALSE(pmd_mapped(fx.mm, fx.base + kPmd));
  EXPECT_EQ(fx.engine.check_mappings(), "");
  expect_error(Errc::bus_error, "past EOF", [&] { load(fx.mm, fx.base + kPmd + 101 * P, 1); });
}

// A hole punched in the middle of a PMD mapping reads as zeros through it.
TEST(Pmd, PunchInTheMiddleSplitsIt) {
  PmdFixture fx;
  load(fx.mm, fx.base, kPmd);
  ASSERT_TRUE(pmd_mapped(fx.mm, fx.base));
  fx.file.punch_hole(100 * P, 3 * P);
  EXPECT_FALSE(pmd_mapped(fx.mm, fx.base));
  EXPECT_EQ(fx.engine.stats().pmd_splits, 1u);
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

// A 2 MiB folio mapped by PTEs whose addresses do not line up with its
// file offset spans two page tables: the reverse-map walks, which take a
// table at a time, must reach its PTEs in both. Migration moves it and
// punching a hole in it unmaps every page (G1), data intact elsewhere.
TEST(Pmd, AFolioMappedAcrossTwoPageTablesIsReachedInBoth) {
  Config c = pmd_config();
  c.pmd_mapping = false;  // mappings are not lined up with file offsets
  Fixture fx(0, c);
  fx.file.write(0, pattern(2 * kPmd, 3));
  uint64_t base = fx.mm.mmap(fx.file, P, 2 * kPmd - P, kProtRead | kProtWrite, MapType::shared);
  uint64_t second = base + kPmd - P;  // where file page 512, the second folio's first, is mapped
  ASSERT_NE(second % kPmd, 0u) << "the second folio's PTEs must not start a table";
  EXPECT_EQ(load(fx.mm, base, 2 * kPmd - P), load(fx.mm, base, 2 * kPmd - P));  // every page mapped
  EXPECT_EQ(fx.file.migrate(kPmd, kPmd), 1u);
  EXPECT_EQ(fx.engine.check_mappings(), "");
  fx.mm.store(second + kPmd - P, bytes(4, 9));  // the folio's last page, in the next table
  EXPECT_TRUE(all_equal(read_file(fx.file, 2 * kPmd - P, 4), 9));
  fx.file.punch_hole(kPmd, kPmd);
  EXPECT_EQ(fx.engine.check_mappings(), "");
  EXPECT_TRUE(all_equal(load(fx.mm, second, 8), 0));
  EXPECT_TRUE(all_equal(load(fx.mm, second + kPmd - P, 4), 0));
  EXPECT_EQ(load(fx.mm, base, 8), read_file(fx.file, P, 8));
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

// Random killers, writes, migration, reclaim and remapping on an 8 MiB
// file that a shared mapping keeps PMD-mapped (2 MiB folios read ahead
// whole): after every op, every page read through the mapping and by
// read() is what the model of the file says, and no PTE or PMD maps what it
// must not (G1, G2, G4, G5).
TEST(Pmd, RandomKillersAgainstTheModel) {
  Config c = pmd_config();
  c.readahead_pages = 512;
  Fixture fx(0, c);
  constexpr uint64_t kMax = 8 << 20;
  uint64_t base = fx.mm.mmap(fx.file, 0, kMax, kProtRead | kProtWrite, MapType::shared);
  replay::Model model;
  std::mt19937_64 rng(7);
  auto below = [&](uint64_t n) { return n ? rng() % n : 0; };
  auto apply = [&](replay::OpKind kind, uint64_t off, uint64_t len) {
    replay::Op op;
    op.kind = kind;
    op.off = off;
    op.len = len;
    op.line = 2;
    auto data = replay::writes_data(kind) ? replay::op_data(op) : std::vector<std::byte>{};
    model.apply(op, data);
    switch (kind) {
      case replay::OpKind::write: fx.file.write(off, data); break;
      case replay::OpKind::truncate: fx.file.truncate(len); break;
      case replay::OpKind::punch_hole: fx.file.punch_hole(off, len); break;
      case replay::OpKind::zero_range: fx.file.zero_range(off, len, true); break;
      case replay::OpKind::collapse_range: fx.file.collapse_range(off, len); break;
      case replay::OpKind::insert_range: fx.file.insert_range(off, len); break;
      default: break;
    }
  };
  apply(replay::OpKind::write, 0, 6 << 20);
  for (int step = 0; step < 600; ++step) {
    uint64_t size = model.size();
    switch (below(10)) {
      case 0: apply(replay::OpKind::write, below(kMax - 65536), 1 + below(65536)); break;
      case 1: apply(replay::OpKind::truncate, 0, below(kMax)); break;
      case 2: apply(replay::OpKind::punch_hole, below(size + 1), 1 + below(3 * P)); break;
      case 3: apply(replay::OpKind::zero_range, below(size + 1), 1 + below(3 * P)); break;
      case 4:
        if (size > 2 * P) apply(replay::OpKind::collapse_range, below((size - P) / P) * P, P);
        break;
      case 5:
        if (size && size + P <= kMax) apply(replay::OpKind::insert_range, below(size / P) * P, P);
        break;
      case 6: fx.file.migrate(below(size + 1), kPmd); break;
      case 7: fx.engine.reclaim(below(1024)); break;
      case 8:  // mapped again: split ranges take PMD mappings anew
        fx.mm.munmap(base, kMax);
        base = fx.mm.mmap(fx.file, 0, kMax, kProtRead | kProtWrite, MapType::shared);
        break;
      default: fx.file.readahead(0, kMax); break;
    }
    ASSERT_EQ(fx.engine.check_mappings(), "") << "step " << step;
    uint64_t now = model.size();
    for (uint64_t off = 0; off + P <= now; off += 37 * P) {  // a page of each stretch, through the mapping
      ASSERT_EQ(load(fx.mm, base + off, P), model.read(off, P)) << "step " << step << " offset " << off;
    }
    ASSERT_EQ(read_file(fx.file, 0, now), model.read(0, now)) << "step " << step;
  }
  std::cout << fx.engine.stats().pmd_maps << " PMD mappings made, " << fx.engine.stats().pmd_splits << " split\n";
  EXPECT_GT(fx.engine.stats().pmd_maps, 20u);
  EXPECT_GT(fx.engine.stats().pmd_splits, 10u);
}

}  // namespace
}  // namespace faultline::test
