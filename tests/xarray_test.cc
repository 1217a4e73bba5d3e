// The RCU radix tree behind i_pages.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "mm/xarray.h"
#include "sync/rcu.h"

namespace faultline::detail {
namespace {

Folio* fake(uintptr_t n) { return reinterpret_cast<Folio*>(n * 64); }

TEST(XArray, StoreLoadEraseAgainstAMap) {
  XArray xa;
  std::map<pgoff_t, Folio*> model;
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    pgoff_t idx = rng() % 3 == 0 ? rng() % (pgoff_t{1} << 32) : rng() % 300;
    sync::Guard<sync::SpinLock> g(xa.lock);
    if (rng() % 3 == 0) {
      xa.store(idx, nullptr);
      model.erase(idx);
    } else {
      xa.store(idx, fake(i + 1));
      model[idx] = fake(i + 1);
    }
  }
  sync::RcuReadGuard rcu;
  for (auto& [idx, f] : model) EXPECT_EQ(xa.load(idx), f);
  // find() walks in order and agrees with the map.
  pgoff_t i = 0;
  auto it = model.begin();
  while (Folio* f = xa.find(&i, UINT64_MAX >> 12)) {
    ASSERT_NE(it, model.end());
    EXPECT_EQ(i, it->first);
    EXPECT_EQ(f, it->second);
    ++it;
    ++i;
  }
  EXPECT_EQ(it, model.end());
}

TEST(XArray, FindRespectsMax) {
  XArray xa;
  {
    sync::Guard<sync::SpinLock> g(xa.lock);
    xa.store(10, fake(1));
    xa.store(100, fake(2));
  }
  sync::RcuReadGuard rcu;
  pgoff_t i = 11;
  EXPECT_EQ(xa.find(&i, 99), nullptr);
  i = 11;
  EXPECT_EQ(xa.find(&i, 100), fake(2));
  EXPECT_EQ(i, 100u);
}

TEST(XArray, EmptiesCompletely) {
  XArray xa;
  sync::Guard<sync::SpinLock> g(xa.lock);
  xa.store(1u << 20, fake(1));
  xa.store(5, fake(2));
  xa.store(1u << 20, nullptr);
  xa.store(5, nullptr);
  EXPECT_TRUE(xa.empty());
}

}  // namespace
}  // namespace faultline::detail
