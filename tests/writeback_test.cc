// G6: dirty data reaches the store; writeback errors reach fsync.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "test_util.h"

namespace faultline::test {
namespace {

TEST(Writeback, FsyncReportsStoreErrorAndKeepsDataDirty) {
  Fixture fx(4 * kPageSize);
  fx.file.write(0, bytes(100, 0x11));
  fx.store_ptr->fail_next_writes(1);
  try {
    fx.file.fsync();
    FAIL() << "fsync did not report the writeback error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::io_error);
  }
  // The data stayed dirty: the next fsync writes it and succeeds.
  fx.file.fsync();
  std::vector<std::byte> st(100);
  fx.store_ptr->read(0, st);
  EXPECT_TRUE(all_equal(st, 0x11));
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
