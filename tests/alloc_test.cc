// The hot paths allocate nothing on a cache hit: a fault on a cached page,
// a load through a present PTE, read() of a cached page. Counted by
// replacing the global operator new for this test binary.
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>

#include "replaced_new.h"
#include "test_util.h"

namespace {
thread_local bool counting = false;
thread_local uint64_t allocations = 0;
}  // namespace

void on_allocation() {
  if (counting) ++allocations;
}

namespace faultline::test {
namespace {

template <class Fn>
uint64_t count_allocations(Fn fn) {
  allocations = 0;
  counting = true;
  fn();
  counting = false;
  return allocations;
}

TEST(Alloc, NoAllocationOnCacheHits) {
  Config c = Fixture::small_config();
  c.fault_around_pages = 1;  // one fault per page, so the second page faults
  c.map_whole_folio = false;
  Fixture fx(8 * kPageSize, c);
  fx.file.readahead(0, 8 * kPageSize);
  uint64_t a = fx.mm.mmap(fx.file, 0, 8 * kPageSize, kProtRead, MapType::shared);
  std::byte b{};
  fx.mm.load(a, {&b, 1});  // allocates the page-table pages
  uint64_t faults = fx.engine.stats().faults;
  EXPECT_EQ(count_allocations([&] { fx.mm.load(a + 3 * kPageSize, {&b, 1}); }), 0u) << "fault on a cached page";
  EXPECT_EQ(fx.engine.stats().faults, faults + 1);
  EXPECT_EQ(count_allocations([&] { fx.mm.load(a + 3 * kPageSize + 8, {&b, 1}); }), 0u) << "load through a PTE";
  std::vector<std::byte> buf(kPageSize);
  EXPECT_EQ(count_allocations([&] { fx.file.read(5 * kPageSize, buf); }), 0u) << "read() of a cached page";
}

}  // namespace
}  // namespace faultline::test
