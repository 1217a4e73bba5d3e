// Faults and accesses through mappings.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "mm/internal.h"
#include "sync/atomic.h"
#include "sync/rcu.h"
#include "test_util.h"

namespace faultline::test {
namespace {

TEST(Fault, LoadThroughSharedMappingSeesFile) {
  Fixture fx(8 * kPageSize);
  uint64_t a = fx.mm.mmap(fx.file, 0, 8 * kPageSize, kProtRead, MapType::shared);
  EXPECT_EQ(load(fx.mm, a, 8 * kPageSize), pattern(8 * kPageSize, 1));
  EXPECT_GT(fx.engine.stats().faults, 0u);
}

TEST(Fault, FaultAroundMapsNeighbours) {
  Fixture fx(16 * kPageSize);
  fx.file.readahead(0, 16 * kPageSize);
  uint64_t a = fx.mm.mmap(fx.file, 0, 16 * kPageSize, kProtRead, MapType::shared);
  load(fx.mm, a, 1);
  uint64_t faults = fx.engine.stats().faults;
  load(fx.mm, a, 16 * kPageSize);
  EXPECT_EQ(fx.engine.stats().faults, faults) << "fault-around should have mapped all 16 pages";
  EXPECT_GT(fx.engine.stats().fault_around_maps, 0u);
}

TEST(Fault, StoreThroughSharedMappingReachesFileAndStore) {
  Fixture fx(4 * kPageSize);
  uint64_t a = fx.mm.mmap(fx.file, 0, 4 * kPageSize, kProtRead | kProtWrite, MapType::shared);
  fx.mm.store(a + 100, bytes(5000, 0x5A));
  EXPECT_TRUE(all_equal(read_file(fx.file, 100, 5000), 0x5A));
  fx.mm.msync(a, 4 * kPageSize);
  std::vector<std::byte> st(5000);
  fx.store_ptr->read(100, st);
  EXPECT_TRUE(all_equal(st, 0x5A));
}

TEST(Fault, TwoAddressSpacesShareOnePage) {
  Fixture fx(2 * kPageSize);
  Mm other = fx.engine.create_mm();
  uint64_t a = fx.mm.mmap(fx.file, 0, 2 * kPageSize, kProtRead | kProtWrite, MapType::shared);
  uint64_t b = other.mmap(fx.file, 0, 2 * kPageSize, kProtRead, MapType::shared);
  load(other, b, 2 * kPageSize);
  fx.mm.store(a + 10, bytes(1, 0x77));
  EXPECT_TRUE(all_equal(load(other, b + 10, 1), 0x77));
  EXPECT_EQ(fx.engine.check_mappings(), "");
}

TEST(Fault, PrivateMappingCopiesOnWrite) {
  Fixture fx(2 * kPageSize);
  Mm other = fx.engine.create_mm();
  uint64_t p = fx.mm.mmap(fx.file, 0, 2 * kPageSize, kProtRead | kProtWrite, MapType::private_cow);
  uint64_t s = other.mmap(fx.file, 0, 2 * kPageSize, kProtRead, MapType::shared);
  load(fx.mm, p, 1);  // map the cache page read-only first
  fx.mm.store(p, bytes(4, 0xEE));
  EXPECT_TRUE(all_equal(load(fx.mm, p, 4), 0xEE));
  EXPECT_EQ(load(other, s, 4), std::vector<std::byte>(pattern(4, 1)));
  EXPECT_EQ(read_file(fx.file, 0, 4), pattern(4, 1));
  // Write fault with no PTE at all copies as well.
  fx.mm.store(p + kPageSize, bytes(4, 0xDD));
  EXPECT_EQ(read_file(fx.file, kPageSize, 1)[0], pattern(kPageSize + 1, 1)[kPageSize]);
}

// The software TLB (Config::soft_tlb) never serves a translation that is
// gone: each change below leaves a TLB entry behind on this thread or
// another, and the next access must see the change.
TEST(Tlb, AnEntryDiesWithItsTranslation) {
  Fixture fx(4 * kPageSize);
  uint64_t a = fx.mm.mmap(fx.file, 0, 4 * kPageSize, kProtRead | kProtWrite, MapType::shared);
  EXPECT_EQ(load(fx.mm, a, 8), pattern(8, 1));  // fills the entry
  fx.file.punch_hole(0, kPageSize);              // zaps the PTE
  EXPECT_TRUE(all_equal(load(fx.mm, a, 8), 0));
  fx.file.truncate(kPageSize);
  expect_error(Errc::bus_error, "past EOF", [&] { load(fx.mm, a + kPageSize, 1); });
  fx.mm.munmap(a, 4 * kPageSize);
  expect_error(Errc::segv, "no mapping", [&] { load(fx.mm, a, 1); });
}

// Writeback write-protects the PTE (folio_mkclean): a writable entry left
// in the TLB would let the next store land without dirtying the folio, and
// the next fsync would not write it (G6).
TEST(Tlb, WritebackWriteProtectsCachedEntries) {
  Fixture fx(kPageSize);
  uint64_t a = fx.mm.mmap(fx.file, 0, kPageSize, kProtRead | kProtWrite, MapType::shared);
  fx.mm.store(a, bytes(8, 1));  // a writable entry
  fx.file.fsync();
  fx.mm.store(a, bytes(8, 2));
  fx.file.fsync();
  std::vector<std::byte> disk(8);
  fx.store_ptr->read(0, disk);
  EXPECT_TRUE(all_equal(disk, 2));
}

// A copy-on-write fault in one thread replaces the PTE another thread of
// the same address space has in its TLB: that thread must see the copy.
TEST(Tlb, CopyOnWriteReachesEveryThreadOfTheAddressSpace) {
  Fixture fx(kPageSize);
  uint64_t p = fx.mm.mmap(fx.file, 0, kPageSize, kProtRead | kProtWrite, MapType::private_cow);
  EXPECT_EQ(load(fx.mm, p, 8), pattern(8, 1));  // this thread: a read-only entry for the file page
  std::thread([&] { fx.mm.store(p, bytes(8, 0xEE)); }).join();
  EXPECT_TRUE(all_equal(load(fx.mm, p, 8), 0xEE));
}

// Migration moves the page to a new frame: the old frame's entry must not
// be used, and a store must reach the new one.
TEST(Tlb, MigrationKillsTheEntryOfTheOldFrame) {
  Fixture fx(kPageSize);
  uint64_t a = fx.mm.mmap(fx.file, 0, kPageSize, kProtRead | kProtWrite, MapType::shared);
  fx.mm.store(a, bytes(8, 3));
  EXPECT_EQ(fx.file.migrate(0, kPageSize), 1u);
  fx.mm.store(a, bytes(8, 4));
  EXPECT_TRUE(all_equal(read_file(fx.file, 0, 8), 4));
  EXPECT_EQ(fx.engine.check_mappings(), "");
}

// Per-VMA locks (Config::per_vma_lock): a fault needs no mmap_lock, so
// one that runs while another thread holds it for writing (an mmap or
// munmap elsewhere in the address space) completes.
TEST(VmaLock, AFaultDoesNotWaitForMmapLock) {
  Fixture fx(4 * kPageSize, per_vma_config());
  uint64_t a = fx.mm.mmap(fx.file, 0, 4 * kPageSize, kProtRead, MapType::shared);
  sync::Atomic<bool> done{false};
  fx.mm.mm()->mmap_lock.down_write();
  std::thread t([&] {
    load(fx.mm, a, 4 * kPageSize);
    done.store(true, sync::release);
  });
  for (int i = 0; i < 1000 && !done.load(sync::acquire); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  bool finished = done.load(sync::acquire);
  fx.mm.mm()->mmap_lock.up_write();
  t.join();
  EXPECT_TRUE(finished) << "the fault waited for mmap_lock";
}

TEST(Fault, BusErrorPastEofAndZeroTail) {
  Fixture fx(kPageSize + 100);
  uint64_t a = fx.mm.mmap(fx.file, 0, 4 * kPageSize, kProtRead, MapType::shared);
  auto tail = load(fx.mm, a + kPageSize + 100, kPageSize - 100);
  EXPECT_TRUE(all_equal(tail, 0));
  try {
    load(fx.mm, a + 2 * kPageSize, 1);
    FAIL() << "no bus error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::bus_error);
  }
}

TEST(Fault, StoresIntoEofTailNeverReachTheFile) {
  Fixture fx(kPageSize + 100);
  uint64_t a = fx.mm.mmap(fx.file, 0, 2 * kPageSize, kProtRead | kProtWrite, MapType::shared);
  fx.mm.store(a + kPageSize + 200, bytes(10, 0x99));
  fx.file.fsync();
  EXPECT_EQ(fx.store_ptr->size(), kPageSize + 100);
  // Growing the file zeroes the old tail (pagecache_isize_extended).
  fx.file.truncate(2 * kPageSize);
  EXPECT_TRUE(all_equal(read_file(fx.file, kPageSize + 100, kPageSize - 100), 0));
}

TEST(Fault, SegvOutsideMappingsAndOnReadOnlyStore) {
  Fixture fx(kPageSize);
  uint64_t a = fx.mm.mmap(fx.file, 0, kPageSize, kProtRead, MapType::shared);
  std::byte b{};
  try {
    fx.mm.store(a, {&b, 1});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::segv);
  }
  try {
    fx.mm.load(a + 10 * kPageSize, {&b, 1});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::segv);
  }
}

TEST(Fault, MunmapRemovesMappingAndPartialUnmapKeepsTheRest) {
  Fixture fx(4 * kPageSize);
  uint64_t a = fx.mm.mmap(fx.file, 0, 4 * kPageSize, kProtRead, MapType::shared);
  load(fx.mm, a, 4 * kPageSize);
  fx.mm.munmap(a + kPageSize, kPageSize);
  auto data = pattern(3 * kPageSize, 1);
  EXPECT_EQ(load(fx.mm, a + 2 * kPageSize, 8),
            std::vector<std::byte>(data.begin() + 2 * kPageSize, data.begin() + 2 * kPageSize + 8));
  std::byte b{};
  EXPECT_THROW(fx.mm.load(a + kPageSize, {&b, 1}), Error);
  fx.mm.munmap(a, 4 * kPageSize);
  EXPECT_THROW(fx.mm.load(a, {&b, 1}), Error);
}

// G3 across munmap: munmap does not wait for a grace period, so an access
// that walked a PTE before munmap cleared it may still be copying from the
// frame. Its reference must outlive that access even when a killer then
// drops the page cache's: the frame goes back to the pool only after the
// grace period. The second thread's read-side section stands for such an
// access (the MMU holds one across each page it copies).
TEST(Fault, MunmapKeepsFramesUntilAccessesInFlightEnd) {
  Fixture fx(16 * kPageSize);
  uint64_t a = fx.mm.mmap(fx.file, 0, 16 * kPageSize, kProtRead, MapType::shared);
  load(fx.mm, a, 16 * kPageSize);
  const uint64_t cached = fx.file.cached_pages();
  ASSERT_GT(cached, 0u);
  sync::Atomic<int> phase{0};  // 1: inside the section; 2: may leave it
  bool left_on_time = true;
  std::thread access([&] {
    sync::RcuReadGuard in_flight;
    phase.store(1, sync::release);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (phase.load(sync::acquire) != 2)
      if (std::chrono::steady_clock::now() > deadline) {
        left_on_time = false;  // munmap or truncate waited for us: nothing shown
        break;
      }
  });
  while (phase.load(sync::acquire) != 1) std::this_thread::yield();
  const uint64_t free_before = fx.engine.stats().free_frames;
  fx.mm.munmap(a, 16 * kPageSize);
  fx.file.truncate(0);
  EXPECT_EQ(fx.file.cached_pages(), 0u);
  EXPECT_EQ(fx.engine.stats().free_frames, free_before) << "a frame was freed under an access in flight";
  phase.store(2, sync::release);
  access.join();
  ASSERT_TRUE(left_on_time) << "munmap or truncate waited a grace period: the test shows nothing";
  sync::rcu_barrier();
  EXPECT_EQ(fx.engine.stats().free_frames, free_before + cached);
}

}  // namespace
}  // namespace faultline::test
