// tests/bench_test.cc — the benchmark's instruments and its matrix: the
// latency histogram's quantiles, lock_stat's contention timing, the
// per-thread fault count, and a small bench run whose rows must add up.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include "bench/bench.h"
#include "bench/document.h"
#include "bench/histogram.h"
#include "faultline/faultline.h"
#include "sync/lock_stat.h"
#include "sync/rwsem.h"

using namespace faultline;
using namespace faultline::bench;

TEST(Histogram, QuantilesAreWithinOneBucketOfTheExactOnes) {
  Histogram h;
  std::vector<uint64_t> v;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 100000; ++i) {
    uint64_t x = 1 + rng() % (uint64_t{1} << (rng() % 30));
    v.push_back(x);
    h.record(x);
  }
  std::sort(v.begin(), v.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    double exact = static_cast<double>(v[static_cast<size_t>(q * (v.size() - 1))]);
    double got = static_cast<double>(h.quantile(q));
    EXPECT_GE(got, exact) << q;                          // the bucket's upper edge
    EXPECT_LE(got, exact * (1 + 1.0 / 16) + 1) << q;     // at most one bucket above
  }
  EXPECT_EQ(h.count(), 100000u);
}

TEST(Histogram, EdgesTileTheLine) {
  for (unsigned i = 0; i + 1 < Histogram::kBuckets; ++i) {
    ASSERT_EQ(Histogram::upper_edge(i), Histogram::lower_edge(i + 1));
    ASSERT_EQ(Histogram::bucket_of(Histogram::lower_edge(i)), i);
    ASSERT_EQ(Histogram::bucket_of(Histogram::upper_edge(i) - 1), i);
  }
  EXPECT_EQ(Histogram::bucket_of(UINT64_MAX), Histogram::kBuckets - 1);
}

TEST(LockStat, TimesContendedAcquisitionsOnlyAndPerClass) {
  sync::RwSem sem(sync::LockClass::mmap_lock);
  const unsigned i = static_cast<unsigned>(sync::LockClass::mmap_lock);
  sync::LockStat before = sync::this_thread_lock_stat();
  sem.down_read();  // uncontended: not counted
  sem.up_read();
  EXPECT_EQ(sync::this_thread_lock_stat().contentions[i], before.contentions[i]);

  // The holder releases its read lock only 30 ms after it has seen this
  // thread queued as a writer (a queued writer makes down_read_trylock fail),
  // so the wait is at least that long however the machine schedules us.
  std::thread holder([&] {
    sem.down_read();
    while (sem.down_read_trylock()) sem.up_read();
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    sem.up_read();
  });
  while (!sem.is_locked()) std::this_thread::yield();
  sem.down_write();
  sem.up_write();
  holder.join();
  sync::LockStat after = sync::this_thread_lock_stat();
  EXPECT_EQ(after.contentions[i], before.contentions[i] + 1);
  EXPECT_GE(after.wait_ns[i] - before.wait_ns[i], 25'000'000u);
  const unsigned folio = static_cast<unsigned>(sync::LockClass::folio_lock);
  EXPECT_EQ(after.wait_ns[folio], before.wait_ns[folio]);  // another class saw nothing
}

TEST(ThreadStats, CountsThisThreadsFaultsOnly) {
  Config c;
  c.fault_around_pages = 1;  // one fault per page
  c.map_whole_folio = false;
  Engine e(c);
  File f = e.open(std::make_unique<MemoryStore>());
  f.truncate(16 * kPageSize);
  Mm mm = e.create_mm();
  uint64_t a = mm.mmap(f, 0, 16 * kPageSize, kProtRead, MapType::shared);
  std::byte b[8];
  uint64_t before = this_thread_faults();
  std::thread other([&] {
    for (int p = 8; p < 16; ++p) mm.load(a + p * kPageSize, b);
  });
  other.join();
  for (int p = 0; p < 3; ++p) mm.load(a + p * kPageSize, b);
  mm.load(a, b);  // mapped now: no fault
  EXPECT_EQ(this_thread_faults() - before, 3u);
  EXPECT_EQ(this_thread_stats().faults, this_thread_faults());
  EXPECT_STREQ(ThreadStats::lock_class_name(1), "folio_lock");
}

TEST(Bench, RejectsBadOptionsNamingTheValue) {
  BenchOptions o;
  o.workloads = {"page_fault4"};
  try {
    validate(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("page_fault4"), std::string::npos);
  }
  o.workloads = {};
  o.configs = {"page_lok"};
  EXPECT_THROW(validate(o), Error);
  o.configs = {};
  o.threads = {0};
  EXPECT_THROW(validate(o), Error);
  o.threads = {1};
  o.seconds = 0;
  EXPECT_THROW(validate(o), Error);
}

// A small matrix, engine and kernel: every row measured something, the
// ratios are relative to the right rows, the killers ran.
TEST(Bench, SmallMatrixRowsAddUp) {
  BenchOptions o;
  o.workloads = {"hot_file", "giant_db"};
  o.configs = {"ideal", "page_lock+invalidate_lock", "kernel"};
  o.threads = {1, 2};
  o.seconds = 0.05;
  o.rounds = 2;
  o.giant_db_frames = 1024;
  unsigned progress = 0;
  o.progress = [&](unsigned done, unsigned total, const std::string&) {
    EXPECT_EQ(done, ++progress);
    EXPECT_EQ(total, 24u);
  };
  auto rows = run_bench(o);
  ASSERT_EQ(rows.size(), 12u);
  EXPECT_EQ(progress, 24u);
  for (const Row& r : rows) {
    SCOPED_TRACE(r.workload + " " + r.config + " " + std::to_string(r.threads));
    EXPECT_EQ(r.runs.size(), 2u);
    EXPECT_GT(r.pages_per_sec_per_thread.median, 0);
    EXPECT_LE(r.pages_per_sec_per_thread.min, r.pages_per_sec_per_thread.median);
    EXPECT_GE(r.pages_per_sec_per_thread.max, r.pages_per_sec_per_thread.median);
    EXPECT_GT(r.access_all.count(), 0u);
    EXPECT_GT(r.faults_per_sec.median, 0);
    EXPECT_GE(r.access_all.quantile(0.999), r.access_all.quantile(0.5));
    if (r.config == "ideal") {
      EXPECT_DOUBLE_EQ(r.ratio_to_ideal, 1.0);
    }
    if (r.config == "kernel") {
      EXPECT_DOUBLE_EQ(r.ratio_to_kernel, 1.0);
    }
    // The engine tells faults apart; from outside the kernel, nobody can.
    EXPECT_EQ(r.fault_all.count() > 0, !r.kernel);
    EXPECT_EQ(r.killer_ops_per_sec.median > 0, r.workload == "giant_db");
    EXPECT_EQ(r.unsafe, r.config == "ideal" && r.workload == "giant_db");
  }
}

TEST(Document, RendersTheSameContentTwice) {
  Document d;
  d.heading(2, "Prices");
  d.table({"protocol", "pages/s"}, {{"`page_lock`", "1 < 2"}});
  d.bullets({"met & done"});
  std::string md = d.markdown(), html = d.html("/nonexistent", "t");
  EXPECT_NE(md.find("| `page_lock` | 1 < 2 |"), std::string::npos);
  EXPECT_NE(html.find("<td><code>page_lock</code></td><td>1 &lt; 2</td>"), std::string::npos);
  EXPECT_NE(html.find("<li>met &amp; done</li>"), std::string::npos);
}
