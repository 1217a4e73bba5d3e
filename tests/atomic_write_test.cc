// write_atomic (RWF_ATOMIC): the kernel's rules for what it takes, a page
// killer for its range, and whole or nothing (G2) when it fails. The
// rules against a real XFS are in differential_test.cc; readers on real
// threads in stress_test.cc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>

#include "test_util.h"

namespace faultline::test {
namespace {

constexpr uint64_t P = kPageSize;

// The errno File::write_atomic throws, 0 if it wrote all of `len`.
int atomic_errno(File& f, uint64_t off, uint64_t len) {
  try {
    EXPECT_EQ(f.write_atomic(off, bytes(len, 9)), len);
    return 0;
  } catch (const Error& e) {
    return e.posix_errno();
  }
}

// As XFS on Linux 6.18 answers pwritev2(RWF_ATOMIC) on O_DIRECT (measured
// on a loop-mounted XFS with a unit of [4 KiB, 1 MiB]): a length inside the
// unit, a power of two, naturally aligned; a zero length writes nothing.
TEST(AtomicWrite, FollowsTheRulesOfRwfAtomic) {
  Engine engine(Fixture::small_config());
  File f = engine.open(std::make_unique<MemoryStore>(AtomicWriteUnit{P, 16 * P}));
  EXPECT_EQ(f.atomic_write_unit().min, P);
  EXPECT_EQ(f.atomic_write_unit().max, 16 * P);
  EXPECT_EQ(f.write_atomic(0, {}), 0u);
  EXPECT_EQ(f.size(), 0u);
  EXPECT_EQ(atomic_errno(f, 0, 512), EINVAL);          // below the unit
  EXPECT_EQ(atomic_errno(f, 0, 32 * P), EINVAL);       // above it
  EXPECT_EQ(atomic_errno(f, 0, 3 * P), EINVAL);        // not a power of two
  EXPECT_EQ(atomic_errno(f, P, 2 * P), EINVAL);        // not naturally aligned
  EXPECT_EQ(atomic_errno(f, UINT64_MAX - P + 1, P), EINVAL);  // a negative loff_t
  EXPECT_EQ(atomic_errno(f, Engine::kMaxFileSize, P), EFBIG);
  EXPECT_EQ(f.size(), 0u);
  EXPECT_EQ(atomic_errno(f, 8 * P, 8 * P), 0);  // past EOF: the file grows
  EXPECT_EQ(f.size(), 16 * P);
  expect_error(Errc::invalid_argument, "0x3000", [&] { f.write_atomic(0, bytes(3 * P, 1)); });
}

// A store that cannot (tmpfs has no atomic writes) is EOPNOTSUPP, before
// the length is looked at, as kiocb_set_rw_flags refuses it.
TEST(AtomicWrite, AStoreWithoutAtomicWritesRefusesEveryLength) {
  std::string path = "/dev/shm/faultline-atomic-" + std::to_string(::getpid());
  auto store = open_posix_store(path, OpenMode::truncate);
  ::unlink(path.c_str());
  ASSERT_FALSE(store->atomic_write_unit().supported()) << "tmpfs gained atomic writes: pick another store";
  Engine engine(Fixture::small_config());
  File f = engine.open(std::move(store));
  EXPECT_EQ(atomic_errno(f, 0, P), EOPNOTSUPP);
  EXPECT_EQ(atomic_errno(f, 0, 3 * P), EOPNOTSUPP);
  expect_error(Errc::not_supported, "no atomic writes", [&] { f.write_atomic(0, bytes(P, 1)); });
}

// A page killer for its range: cached and mapped pages of it show the new
// bytes at once, while a large folio that reaches beyond the range keeps
// what lies outside it (it goes whole, written back first, and is read in
// again), dirty data included.
TEST(AtomicWrite, ReplacesCachedAndMappedPagesOfItsRange) {
  Config c = Fixture::small_config();
  c.max_folio_order = 2;  // folios of 4 pages
  Fixture fx(8 * P, c);
  uint64_t base = fx.mm.mmap(fx.file, 0, 8 * P, kProtRead | kProtWrite, MapType::shared);
  fx.file.readahead(0, 8 * P);
  EXPECT_EQ(load(fx.mm, base, 8 * P), pattern(8 * P, 1));
  fx.mm.store(base + 3 * P, bytes(P, 4));  // dirty, in the folio of the range, outside the range
  EXPECT_EQ(fx.file.write_atomic(0, bytes(2 * P, 7)), 2 * P);
  EXPECT_TRUE(all_equal(load(fx.mm, base, 2 * P), 7));
  EXPECT_TRUE(all_equal(read_file(fx.file, 0, 2 * P), 7));
  auto old = pattern(8 * P, 1);
  EXPECT_EQ(load(fx.mm, base + 2 * P, P), std::vector<std::byte>(old.begin() + 2 * P, old.begin() + 3 * P));
  EXPECT_TRUE(all_equal(load(fx.mm, base + 3 * P, P), 4));
  EXPECT_EQ(load(fx.mm, base + 4 * P, 4 * P), std::vector<std::byte>(old.begin() + 4 * P, old.end()));
}

// A failure leaves the range as it was: no byte of it, no new size, and
// the old pages still readable and mappable.
TEST(AtomicWrite, AFailedWriteChangesNothing) {
  Engine engine(Fixture::small_config());
  auto* faulty = new FaultInjectingStore(std::make_unique<MemoryStore>());
  File f = engine.open(std::unique_ptr<Store>(faulty));
  f.write(0, bytes(4 * P, 3));
  Mm mm = engine.create_mm();
  uint64_t base = mm.mmap(f, 0, 8 * P, kProtRead, MapType::shared);
  EXPECT_TRUE(all_equal(load(mm, base, 4 * P), 3));
  faulty->add_rule(FaultRule{StoreCall::write_atomic, EIO, 0, 2});
  expect_error(Errc::io_error, "injected", [&] { f.write_atomic(2 * P, bytes(2 * P, 8)); });
  expect_error(Errc::io_error, "injected", [&] { f.write_atomic(4 * P, bytes(4 * P, 8)); });
  EXPECT_EQ(f.size(), 4 * P);
  EXPECT_TRUE(all_equal(load(mm, base, 4 * P), 3));
  EXPECT_TRUE(all_equal(read_file(f, 0, 8 * P), 3));
  EXPECT_EQ(faulty->injected(StoreCall::write_atomic), 2u);
}

}  // namespace
}  // namespace faultline::test
