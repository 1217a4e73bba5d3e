// G6: dirty data reaches the store; writeback errors reach fsync.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "test_util.h"

namespace faultline::test {
namespace {

// A file over a FaultInjectingStore over a MemoryStore.
struct FaultyFixture {
  explicit FaultyFixture(uint64_t size = 4 * kPageSize)
      : engine(Fixture::small_config()), faulty(new FaultInjectingStore(std::make_unique<MemoryStore>())),
        file(engine.open(std::unique_ptr<Store>(faulty))) {
    file.truncate(size);
  }
  int fsync_errno(File& f) {
    try {
      f.fsync();
      return 0;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::io_error);
      return e.posix_errno();
    }
  }
  std::vector<std::byte> on_disk(uint64_t off, size_t n) {
    std::vector<std::byte> v(n);
    faulty->inner().read(off, v);
    return v;
  }
  Engine engine;
  FaultInjectingStore* faulty;
  File file;
};

TEST(Writeback, FsyncReportsStoreErrorAndKeepsDataDirty) {
  FaultyFixture fx;
  fx.file.write(0, bytes(100, 0x11));
  fx.faulty->add_rule({StoreCall::write, ENOSPC, 0, 1});
  EXPECT_EQ(fx.fsync_errno(fx.file), ENOSPC);  // the errno the store gave, not just EIO
  EXPECT_FALSE(all_equal(fx.on_disk(0, 100), 0x11));
  // The data stayed dirty: the next fsync writes it and succeeds.
  EXPECT_EQ(fx.fsync_errno(fx.file), 0);
  EXPECT_TRUE(all_equal(fx.on_disk(0, 100), 0x11));
}

// A store that runs out of memory (std::bad_alloc) in the writeback that
// reclaim starts, with the folio locked: the folio is unlocked and stays
// dirty, fsync reports ENOMEM, the data reaches the store once it can, and
// closing the file does not wait forever on a lock nobody holds.
TEST(Writeback, OutOfMemoryInReclaimsWritebackUnlocksAndKeepsTheData) {
  FaultyFixture fx;
  fx.file.write(0, bytes(3 * kPageSize, 0x22));
  fx.faulty->add_rule({StoreCall::write, ENOMEM, 0, 3});
  fx.engine.reclaim(64);
  EXPECT_EQ(fx.fsync_errno(fx.file), ENOMEM);
  EXPECT_TRUE(all_equal(read_file(fx.file, 0, 3 * kPageSize), 0x22));
  EXPECT_EQ(fx.fsync_errno(fx.file), 0);
  EXPECT_TRUE(all_equal(fx.on_disk(0, 3 * kPageSize), 0x22));
}

// A truncate down whose store call fails leaves the old blocks past the
// new EOF; growing the file again must not bring them back.
TEST(Writeback, AFailedTruncateLeavesNoStaleDataForTheFileToGrowOver) {
  FaultyFixture fx;
  fx.file.write(0, bytes(4 * kPageSize, 0x33));
  EXPECT_EQ(fx.fsync_errno(fx.file), 0);
  fx.faulty->add_rule({StoreCall::truncate, EIO, 0, 1});
  EXPECT_THROW(fx.file.truncate(kPageSize), Error);
  fx.file.truncate(4 * kPageSize);
  EXPECT_TRUE(all_equal(read_file(fx.file, kPageSize, 3 * kPageSize), 0));
  EXPECT_EQ(fx.fsync_errno(fx.file), 0);
  EXPECT_TRUE(all_equal(fx.on_disk(kPageSize, 3 * kPageSize), 0));
}

// A zeroing whose store call fails: the edge folios the cache zeroed must
// reach the store as the cache shows them, not stay clean over old bytes.
TEST(Writeback, AFailedZeroRangeKeepsCacheAndStoreAlike) {
  FaultyFixture fx;
  fx.file.write(0, bytes(4 * kPageSize, 0x44));
  EXPECT_EQ(fx.fsync_errno(fx.file), 0);
  fx.faulty->add_rule({StoreCall::zero_range, ENOSPC, 0, 1});
  EXPECT_THROW(fx.file.zero_range(kPageSize / 2, 2 * kPageSize, true), Error);
  auto cached = read_file(fx.file, 0, 4 * kPageSize);
  EXPECT_EQ(fx.fsync_errno(fx.file), 0);
  EXPECT_EQ(fx.on_disk(0, kPageSize), std::vector<std::byte>(cached.begin(), cached.begin() + kPageSize));
  EXPECT_EQ(fx.on_disk(2 * kPageSize, kPageSize),
            std::vector<std::byte>(cached.begin() + 2 * kPageSize, cached.begin() + 3 * kPageSize));
}

// errseq_t: each open file hears of a writeback error once, whoever's
// writeback hit it; one opened after the error (not yet reported by
// anyone) hears of it too; one opened after it was reported does not.
TEST(Writeback, EveryOpenFileHearsOfAWritebackErrorOnce) {
  FaultyFixture fx;
  File a = fx.file, b = fx.file.reopen();
  fx.file.write(0, bytes(100, 1));
  fx.faulty->add_rule({StoreCall::write, EIO, 0, 1});
  fx.engine.reclaim(64);  // the writeback that fails is reclaim's: nobody is told yet
  File c = fx.file.reopen();
  EXPECT_EQ(fx.fsync_errno(a), EIO);
  EXPECT_EQ(fx.fsync_errno(fx.file), 0) << "a copy of a handle is the same open file";
  EXPECT_EQ(fx.fsync_errno(b), EIO);
  EXPECT_EQ(fx.fsync_errno(b), 0);
  EXPECT_EQ(fx.fsync_errno(c), EIO);
  File d = fx.file.reopen();
  EXPECT_EQ(fx.fsync_errno(d), 0);
  // A second error after all have seen the first reaches all again.
  fx.file.write(0, bytes(100, 2));
  fx.faulty->add_rule({StoreCall::sync, EIO, 0, 1});
  EXPECT_EQ(fx.fsync_errno(d), EIO);
  EXPECT_EQ(fx.fsync_errno(a), EIO);
  EXPECT_EQ(fx.fsync_errno(a), 0);
  EXPECT_TRUE(all_equal(fx.on_disk(0, 100), 2));
}

// The data of a failed writeback is not lost to the killers that move
// blocks: collapse and insert range stop (EIO) when the writeback they
// need fails, and the file is as it was.
TEST(Writeback, ShiftingKillersStopWhenTheirWritebackFails) {
  FaultyFixture fx(0);
  fx.file.write(0, bytes(8 * kPageSize, 3));
  fx.file.write(6 * kPageSize, bytes(kPageSize, 4));
  fx.faulty->add_rule({StoreCall::write, EIO, 0, 1});
  expect_error(Errc::io_error, "writeback", [&] { fx.file.collapse_range(kPageSize, kPageSize); });
  EXPECT_EQ(fx.file.size(), 8 * kPageSize);
  std::vector<std::byte> got(kPageSize);
  fx.file.read(6 * kPageSize, got);
  EXPECT_TRUE(all_equal(got, 4));
  fx.file.collapse_range(kPageSize, kPageSize);  // the fault was one-shot
  fx.file.read(5 * kPageSize, got);
  EXPECT_TRUE(all_equal(got, 4));
}

// A short write of the store (half, then ENOSPC) leaves the folio dirty:
// the next writeback writes all of it.
TEST(Writeback, AShortStoreWriteIsWrittenAgainWhole) {
  FaultyFixture fx;
  fx.file.write(0, bytes(4 * kPageSize, 5));
  FaultRule r{StoreCall::write, ENOSPC, 0, 1};
  r.short_write = true;
  fx.faulty->add_rule(r);
  EXPECT_EQ(fx.fsync_errno(fx.file), ENOSPC);
  EXPECT_EQ(fx.fsync_errno(fx.file), 0);
  EXPECT_TRUE(all_equal(fx.on_disk(0, 4 * kPageSize), 5));
}

// A direct write past EOF that fails part way leaves no blocks there (as
// ext4_truncate_failed_write): when the file grows over the range later,
// it reads as the hole it is. Found by the fault-injecting replay.
TEST(Writeback, AFailedDirectWritePastEofLeavesNothingThere) {
  FaultyFixture fx(0);
  fx.file.write(0, bytes(kPageSize, 1));
  FaultRule r{StoreCall::write, ENOSPC, 0, 1};
  r.short_write = true;
  fx.faulty->add_rule(r);
  expect_error(Errc::io_error, "injected", [&] { fx.file.direct_write(16 * kPageSize, bytes(2 * kPageSize, 7)); });
  EXPECT_EQ(fx.file.size(), kPageSize);
  fx.file.truncate(32 * kPageSize);
  std::vector<std::byte> got(2 * kPageSize);
  EXPECT_EQ(fx.file.read(16 * kPageSize, got), got.size());
  EXPECT_TRUE(all_equal(got, 0));
}

// A read whose read-in fails reports EIO and caches no data; once the
// store reads again, so does the file.
TEST(Writeback, AFailedReadInReportsEioAndCachesNothing) {
  FaultyFixture fx(0);
  fx.file.write(0, bytes(2 * kPageSize, 6));
  fx.file.fsync();
  fx.file.fadvise_dontneed(0, 0);
  fx.faulty->add_rule({StoreCall::read, EIO, 1.0});
  std::vector<std::byte> got(kPageSize);
  try {
    fx.file.read(0, got);
    ADD_FAILURE() << "read succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.posix_errno(), EIO);
  }
  // Through a mapping the same failure is a bus error (VM_FAULT_SIGBUS).
  Mm mm = fx.engine.create_mm();
  uint64_t a = mm.mmap(fx.file, 0, 2 * kPageSize, kProtRead, MapType::shared);
  expect_error(Errc::bus_error, "could not be read in", [&] { mm.load(a, got); });
  fx.faulty->clear_rules();
  EXPECT_EQ(fx.file.read(0, got), kPageSize);
  EXPECT_TRUE(all_equal(got, 6));
  mm.load(a + kPageSize, got);
  EXPECT_TRUE(all_equal(got, 6));
}

TEST(Writeback, StoreAfterWritebackRedirtiesThePage) {
  Fixture fx(2 * kPageSize);
  uint64_t a = fx.mm.mmap(fx.file, 0, 2 * kPageSize, kProtRead | kProtWrite, MapType::shared);
  fx.mm.store(a, bytes(4, 1));
  fx.mm.msync(a, 2 * kPageSize);
  fx.mm.store(a, bytes(4, 2));  // PTE was write-protected: faults, dirties
  fx.mm.msync(a, 2 * kPageSize);
  std::vector<std::byte> st(4);
  fx.store_ptr->read(0, st);
  EXPECT_TRUE(all_equal(st, 2));
}

TEST(Writeback, PosixStoreRoundTrip) {
  char tmpl[] = "/tmp/faultline-wbXXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ::close(fd);
  {
    Engine engine(Fixture::small_config());
    File f = engine.open(open_posix_store(tmpl, OpenMode::truncate));
    f.write(0, pattern(3 * kPageSize, 4));
    f.punch_hole(kPageSize, kPageSize);
    f.fsync();
  }
  Engine engine(Fixture::small_config());
  File f = engine.open(open_posix_store(tmpl));
  auto want = pattern(3 * kPageSize, 4);
  std::fill(want.begin() + kPageSize, want.begin() + 2 * kPageSize, std::byte{0});
  EXPECT_EQ(read_file(f, 0, 3 * kPageSize), want);
  ::unlink(tmpl);
}

// The file's size runs ahead of the store's while pages past the store's
// EOF are dirty: an exchange with such a range must move data, not zeros.
TEST(Writeback, ExchangeWithARangePastTheStoresSizeKeepsTheData) {
  MemoryStore store;
  auto data = pattern(kPageSize, 7);
  store.write(0, data);
  store.exchange_range(8 * kPageSize, 0, kPageSize);
  EXPECT_EQ(store.size(), 9 * kPageSize);
  std::vector<std::byte> got(kPageSize);
  store.read(8 * kPageSize, got);
  EXPECT_EQ(got, data);
  store.read(0, got);
  EXPECT_TRUE(all_equal(got, 0));
}

// A store whose size lags the file's (a truncate up whose store call
// failed): a collapse or insert past the store's size moves a hole, and
// leaves the store's data and size below the range alone.
TEST(Writeback, CollapseAndInsertPastTheStoresSizeKeepItsData) {
  MemoryStore store;
  auto data = pattern(3 * kPageSize, 9);
  store.write(0, data);
  store.collapse_range(5 * kPageSize, kPageSize);
  store.insert_range(4 * kPageSize, kPageSize);
  EXPECT_EQ(store.size(), 3 * kPageSize);
  std::vector<std::byte> got(3 * kPageSize);
  store.read(0, got);
  EXPECT_EQ(got, data);
  store.collapse_range(2 * kPageSize, 4 * kPageSize);  // from inside the data to past its end
  EXPECT_EQ(store.size(), 2 * kPageSize);
}

}  // namespace
}  // namespace faultline::test

namespace faultline::test {
namespace {

TEST(Writeback, FilesAndMmsOutliveTheEngineObject) {
  auto* store = new MemoryStore;
  File f;
  Mm mm;
  {
    Engine engine(Fixture::small_config());
    f = engine.open(std::unique_ptr<Store>(store));
    mm = engine.create_mm();
  }
  f.write(0, bytes(100, 0x3C));  // the store below lands inside EOF
  uint64_t a = mm.mmap(f, 0, kPageSize, kProtRead | kProtWrite, MapType::shared);
  mm.store(a + 64, bytes(8, 0x3D));
  f.fsync();
  std::vector<std::byte> st(72);
  store->read(0, st);
  EXPECT_TRUE(all_equal(std::vector<std::byte>(st.begin(), st.begin() + 64), 0x3C));
  EXPECT_TRUE(all_equal(std::vector<std::byte>(st.begin() + 64, st.end()), 0x3D));
}

TEST(Writeback, DroppedFileKeepsItsData) {
  Engine engine(Fixture::small_config());
  std::string path = ::testing::TempDir() + "/faultline-close-test";
  {
    File f = engine.open(open_posix_store(path, OpenMode::truncate));
    f.write(0, bytes(100, 0x5E));
  }  // no fsync: the last handle writes back
  File g = engine.open(open_posix_store(path));
  EXPECT_TRUE(all_equal(read_file(g, 0, 100), 0x5E));
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace faultline::test
