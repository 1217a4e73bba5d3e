// Typed errors with messages naming the bad value.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "test_util.h"

namespace faultline::test {
namespace {

// A pool too large for this machine is an error naming its size, not a
// std::bad_alloc (or an AddressSanitizer abort) from the allocation.
TEST(Errors, FramePoolTooLargeForMemoryNamesItsSize) {
  Config c;
  c.frames = uint64_t{1} << 32;
  try {
    Engine e(c);
    FAIL() << "a pool of 2^32 frames was built";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::out_of_memory);
    EXPECT_NE(std::string(e.what()).find("4294967296 frames"), std::string::npos) << e.what();
  }
}

long resident_kib() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

// The frames are reserved, not committed: a pool of 4 GiB costs its
// bookkeeping (about 2%) until frames are used, not 4 GiB.
TEST(Errors, AFramePoolCostsNothingUntilUsed) {
  long before = resident_kib();
  Config c;
  c.frames = uint64_t{1} << 20;
  Engine e(c);
  long grew = resident_kib() - before;
  EXPECT_LT(grew, 256 * 1024) << "a 4 GiB pool made " << grew << " KiB resident";
  File f = e.open(std::make_unique<MemoryStore>());
  f.write(0, std::vector<std::byte>(1 << 20, std::byte{1}));
  EXPECT_GE(resident_kib() - before, grew + 1024 - 64) << "the frames written are resident";
}

TEST(Errors, UnalignedCollapseAndInsert) {
  Fixture fx(16 * kPageSize);
  expect_error(Errc::invalid_argument, "0x1001", [&] { fx.file.collapse_range(0x1001, kPageSize); });
  expect_error(Errc::invalid_argument, "0x7", [&] { fx.file.insert_range(0, 7); });
  EXPECT_EQ(Error(Errc::invalid_argument, "").posix_errno(), EINVAL);
}

TEST(Errors, CollapseToEofAndInsertPastEof) {
  Fixture fx(4 * kPageSize);
  expect_error(Errc::invalid_argument, "before EOF", [&] { fx.file.collapse_range(kPageSize, 3 * kPageSize); });
  expect_error(Errc::invalid_argument, "before EOF", [&] { fx.file.insert_range(4 * kPageSize, kPageSize); });
}

// Offsets are loff_t, as in the system calls: negative ones (and ends past
// INT64_MAX) are EINVAL; past the maximum file size, fallocate is EFBIG, a
// write is EFBIG where it starts there and cut short where it crosses it,
// and a read finds nothing.
TEST(Errors, OffsetsFollowLinuxLoffRules) {
  Fixture fx;
  expect_error(Errc::invalid_argument, "0xffffffffffffff00",
               [&] { fx.file.punch_hole(0xffffffffffffff00ull, 0x1000); });
  expect_error(Errc::invalid_argument, "negative", [&] { fx.file.fallocate(0, uint64_t{1} << 63, false); });
  expect_error(Errc::file_too_large, "maximum", [&] { fx.file.punch_hole(Engine::kMaxFileSize, 0x1000); });
  std::vector<std::byte> b(16, std::byte{7});
  expect_error(Errc::invalid_argument, "loff_t", [&] { fx.file.write(UINT64_MAX - 4, b); });
  expect_error(Errc::invalid_argument, "loff_t", [&] { fx.file.read(INT64_MAX - 4, b); });
  expect_error(Errc::file_too_large, "maximum", [&] { fx.file.write(Engine::kMaxFileSize, b); });
  EXPECT_EQ(fx.file.write(Engine::kMaxFileSize - 4, b), 4u);
  EXPECT_EQ(fx.file.size(), Engine::kMaxFileSize);
  EXPECT_EQ(fx.file.read(Engine::kMaxFileSize, b), 0u);
  EXPECT_EQ(fx.file.read(Engine::kMaxFileSize - 4, b), 4u);
  EXPECT_EQ(b[0], std::byte{7});
  EXPECT_EQ(fx.file.write(0, std::span<const std::byte>{}), 0u);
}

// A store's file: the system's errno, not EIO, and a mode that keeps an
// existing file's contents.
TEST(Errors, PosixStoreOpenNamesTheSystemsReason) {
  std::string dir = ::testing::TempDir();
  std::string missing = dir + "/faultline-no-such-file";
  ::unlink(missing.c_str());
  try {
    open_posix_store(missing);
    ADD_FAILURE() << "opened a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::not_found);
    EXPECT_EQ(e.posix_errno(), ENOENT);
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  try {
    open_posix_store(dir, OpenMode::create);
    ADD_FAILURE() << "opened a directory";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::is_directory);
    EXPECT_EQ(e.posix_errno(), EISDIR);
  }
  std::string path = dir + "/faultline-keeps-contents";
  {
    auto s = open_posix_store(path, OpenMode::truncate);
    s->write(0, bytes(100, 9));
  }
  EXPECT_EQ(open_posix_store(path, OpenMode::create)->size(), 100u);
  EXPECT_EQ(open_posix_store(path)->size(), 100u);
  EXPECT_EQ(open_posix_store(path, OpenMode::truncate)->size(), 0u);
  ::unlink(path.c_str());
}

TEST(Errors, AccessSpanThatWrapsIsSegv) {
  Fixture fx;
  std::vector<std::byte> b(64);
  expect_error(Errc::segv, "wraps", [&] { fx.mm.load(UINT64_MAX - 8, b); });
  expect_error(Errc::segv, "wraps", [&] { fx.mm.store(UINT64_MAX - 8, b); });
}

// A direct read at or past EOF returns 0 whatever its alignment, as
// iomap_dio_rw does; inside the file an unaligned one is EINVAL.
TEST(Errors, DirectReadAtEofIsZeroBeforeAlignment) {
  Fixture fx(0);
  std::vector<std::byte> b(1000);
  fx.file.write(0, std::vector<std::byte>(4096, std::byte{1}));
  EXPECT_EQ(fx.file.direct_read(4096 + 3, b), 0u);
  expect_error(Errc::invalid_argument, "512", [&] { fx.file.direct_read(3, b); });
}

TEST(Errors, SizePastTheMaximum) {
  Fixture fx;
  expect_error(Errc::file_too_large, "0x100000000000", [&] { fx.file.truncate(Engine::kMaxFileSize + 1); });
  expect_error(Errc::file_too_large, "maximum",
               [&] { fx.file.insert_range(0, Engine::kMaxFileSize); });
  EXPECT_EQ(Error(Errc::file_too_large, "").posix_errno(), EFBIG);
}

TEST(Errors, AccessOutsideEveryMapping) {
  Fixture fx;
  std::byte b{};
  expect_error(Errc::segv, "0xdead000", [&] { fx.mm.load(0xdead000, {&b, 1}); });
}

TEST(Errors, UnknownProtocolName) {
  Config c = Fixture::small_config();
  c.protocol = "page_lokc+invalidate_lock";
  expect_error(Errc::unknown_protocol, "page_lokc", [&] { Engine e(c); });
  c.protocol = "page_lock+invalidate_lokc";
  expect_error(Errc::unknown_protocol, "invalidate_lokc", [&] { Engine e(c); });
}

TEST(Errors, ProtocolNamesAreCanonical) {
  Config c = Fixture::small_config();
  c.protocol = "invalidate_lock";
  EXPECT_EQ(Engine(c).protocol_name(), "page_lock+invalidate_lock");
  c.protocol = "page_lock";
  EXPECT_EQ(Engine(c).protocol_name(), "page_lock");
  for (const char* name : {"page_lock_fair+invalidate_lock", "i_mmap_rwsem+invalidate_lock", "private_lock",
                           "no_new_maps+invalidate_lock", "no_new_maps_as_posted+invalidate_lock", "unlocked"}) {
    c.protocol = name;
    EXPECT_EQ(Engine(c).protocol_name(), name);
  }
  c.protocol = "i_mmap_rwsem+none";
  EXPECT_EQ(Engine(c).protocol_name(), "i_mmap_rwsem");
}

TEST(Errors, BadConfigAndMmapArguments) {
  Config c;
  c.max_folio_order = 12;
  expect_error(Errc::invalid_argument, "12", [&] { Engine e(c); });
  Fixture fx;
  expect_error(Errc::invalid_argument, "0x10", [&] { fx.mm.mmap(fx.file, 0x10, kPageSize, kProtRead, MapType::shared); });
  expect_error(Errc::invalid_argument, "length", [&] { fx.mm.mmap(fx.file, 0, 0, kProtRead, MapType::shared); });
}

TEST(Errors, ZeroLengthFallocate) {
  Fixture fx;
  expect_error(Errc::invalid_argument, "zero", [&] { fx.file.punch_hole(0, 0); });
}

TEST(Errors, PoolExhaustedByPinnedPagesIsOutOfMemory) {
  Config c;
  c.frames = 16;
  Fixture fx(0, c);
  fx.file.truncate(64 * kPageSize);
  uint64_t p = fx.mm.mmap(fx.file, 0, 64 * kPageSize, kProtRead | kProtWrite, MapType::private_cow);
  // Private copies cannot be reclaimed (no swap): the pool runs out.
  expect_error(Errc::out_of_memory, "frame pool exhausted", [&] {
    for (uint64_t i = 0; i < 64; ++i) fx.mm.store(p + i * kPageSize, bytes(1, 1));
  });
}

}  // namespace
}  // namespace faultline::test
