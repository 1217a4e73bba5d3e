// Running out of memory inside the engine unwinds (G6): no lock stays held,
// no reference leaks into a hang, nothing aborts, and what the file holds
// afterwards is one file — its cache, its mappings and its store agree.
//
// A workload runs once per allocation it makes, each run in a child
// process; in run N the N-th allocation of the test's thread throws
// std::bad_alloc (tests/replaced_new.h). Each op must end in success or
// an exception with the mappings consistent (check_mappings: G1, G5);
// after the last, with memory back, a read through a new mapping must
// equal read(), and after fsync and dropping the cache the store must give
// the same bytes. A run that hangs (SIGALRM) or aborts names its allocation.
//
// The store boundary is tested elsewhere (inject_test: a store throwing
// bad_alloc); this is every allocation the engine itself makes. A binary
// of its own: its forks must not inherit liburcu's callback thread from
// an earlier test in the same process (a fork has none, so its call_rcu
// callbacks would never run).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "replaced_new.h"
#include "test_util.h"

namespace {
// Allocations of this thread left before one fails; negative: none fails.
thread_local long countdown = -1;
// The run's engine, whose mappings are checked after each op, and the first
// inconsistency seen there (a violation the later ops could mend).
thread_local faultline::Engine* engine = nullptr;
thread_local std::string between_ops;
}  // namespace

void on_allocation() {
  if (countdown == 0) {
    countdown = -1;
    throw std::bad_alloc();
  }
  if (countdown > 0) --countdown;
}

namespace faultline::test {
namespace {

constexpr long kNever = 1L << 40;

// An op that may fail: an Error (the engine's ENOMEM among them) or the
// allocation's own bad_alloc are both a clean unwind; either way, the
// mappings must be right when it returns (G1, G5), checked with no
// allocation failing. (A template: a std::function would allocate in the
// test's own code.)
template <class Fn>
void attempt(Fn fn) {
  try {
    fn();
  } catch (const Error&) {
  } catch (const std::bad_alloc&) {
  }
  long left = std::exchange(countdown, -1);
  if (std::string bad = engine->check_mappings(); !bad.empty() && between_ops.empty()) between_ops = bad;
  countdown = left;
}

struct Workload {
  Config config;
  std::function<void(Engine&, File&, Mm&)> ops;
};

// With memory back: one file, seen alike through read(), a new mapping and
// the store. Returns what differs, or "".
std::string check_one_file(Engine& e, File& f, Mm& mm) {
  std::string bad = e.check_mappings();
  if (!bad.empty()) return "mappings: " + bad;
  uint64_t size = f.size();
  if (size == 0) return "";
  std::vector<std::byte> via_read(size);
  via_read.resize(f.read(0, via_read));
  constexpr uint64_t kWindow = 16 * kPageSize;  // mapped pages stay: a window at a time
  for (uint64_t off = 0; off < via_read.size(); off += kWindow) {
    uint64_t n = std::min<uint64_t>(kWindow, via_read.size() - off);
    uint64_t a = mm.mmap(f, off, n, kProtRead, MapType::shared);
    bool same = load(mm, a, n) == std::vector<std::byte>(via_read.begin() + off, via_read.begin() + off + n);
    mm.munmap(a, n);
    if (!same) return "a mapping differs from read() at " + std::to_string(off);
  }
  try {
    f.fsync();
  } catch (const Error&) {  // an ENOMEM of the ops' writeback, reported once (errseq)
    f.fsync();
  }
  f.fadvise_dontneed(0, size);
  if (read_file(f, 0, size) != via_read) return "the store differs from the cache it was written from";
  return "";
}

// Runs `w` with the `fail_at`-th allocation failing (kNever: none); the
// allocations its ops made, or -1 if the file was not one file after.
// Called in a child, which must not return into the test: anything thrown
// is the child's exit status 4.
long run(const Workload& w, long fail_at) noexcept try {
  Engine e(w.config);
  File f = e.open(std::make_unique<MemoryStore>());
  Mm mm = e.create_mm();
  engine = &e;
  countdown = fail_at;
  w.ops(e, f, mm);
  long used = fail_at - countdown;
  countdown = -1;
  std::string bad = between_ops.empty() ? check_one_file(e, f, mm) : "after an op: " + between_ops;
  if (!bad.empty()) {
    std::fprintf(stderr, "allocation %ld: %s\n", fail_at, bad.c_str());
    return -1;
  }
  return used;
} catch (const std::exception& e) {
  std::fprintf(stderr, "allocation %ld: %s escaped\n", fail_at, e.what());
  _exit(4);
}

// How many allocations the ops make, counted in a child like every run.
long count_allocations(const Workload& w) {
  int fds[2];
  if (pipe(fds) != 0) return 0;
  pid_t child = fork();
  if (child == 0) {
    long n = run(w, kNever);
    _exit(write(fds[1], &n, sizeof n) == sizeof n ? 0 : 1);
  }
  close(fds[1]);  // a child that dies before writing ends the read
  long n = 0;
  ssize_t r = read(fds[0], &n, sizeof n);
  int status = 0;
  waitpid(child, &status, 0);
  close(fds[0]);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the run with no allocation failing, status " << status;
  return r == sizeof n ? n : 0;
}

// The allocation points where the workload does not unwind, described.
// FAULTLINE_OOM_AT=N runs point N alone in this process, for a debugger.
std::vector<std::string> failing_points(const Workload& w) {
  if (const char* at = std::getenv("FAULTLINE_OOM_AT")) {
    if (run(w, std::atol(at)) < 0) return {std::string("allocation ") + at + ": leaves the file inconsistent"};
    return {};
  }
  long total = count_allocations(w);
  EXPECT_GT(total, 50) << "the workload allocates; counting failed";
  std::vector<std::string> failed;
  for (long n = 0; n < total; ++n) {
    pid_t child = fork();
    if (child == 0) {
      alarm(10);
      _exit(run(w, n) < 0 ? 3 : 0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
    const char* how = WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? "hangs"
                      : WIFEXITED(status) && WEXITSTATUS(status) == 3 ? "leaves the file inconsistent"
                      : WIFEXITED(status) && WEXITSTATUS(status) == 4 ? "lets an exception escape"
                                                                       : "aborts or crashes";
    failed.push_back("allocation " + std::to_string(n) + " of " + std::to_string(total) + ": " + how);
  }
  return failed;
}

TEST(OutOfMemory, EveryAllocationOfSmallFolioOpsUnwinds) {
  Workload w;
  w.config.frames = 64;  // reclaim runs inside the ops too
  w.config.readahead_pages = 8;
  w.ops = [buf = pattern(64 * kPageSize, 1), r = std::vector<std::byte>(8 * kPageSize)](Engine& e, File& f, Mm& mm) mutable {
    attempt([&] { f.write(0, buf); });
    attempt([&] {
      uint64_t a = mm.mmap(f, 0, 64 * kPageSize, kProtRead | kProtWrite, MapType::shared);
      std::byte b[16];
      mm.load(a + 3 * kPageSize, b);
      mm.store(a + 9 * kPageSize, b);
    });
    attempt([&] { f.truncate(40 * kPageSize + 5); });
    attempt([&] { f.punch_hole(kPageSize, 3 * kPageSize); });
    attempt([&] { f.write(100 * kPageSize, buf); });
    attempt([&] { e.reclaim(64); });
    attempt([&] { f.fsync(); });
    attempt([&] { f.collapse_range(0, 4 * kPageSize); });
    attempt([&] { f.insert_range(8 * kPageSize, 2 * kPageSize); });
    attempt([&] { f.zero_range(5 * kPageSize + 7, 3 * kPageSize, false); });
    attempt([&] { f.direct_write(12 * kPageSize, std::span(buf).first(2 * kPageSize)); });
    attempt([&] { f.migrate(0, 16 * kPageSize); });
    attempt([&] { f.clone_range(0, 4 * kPageSize, 200 * kPageSize); });
    attempt([&] { f.exchange_range(0, 2 * kPageSize, 20 * kPageSize); });
    attempt([&] { f.read(0, r); });
  };
  auto failed = failing_points(w);
  EXPECT_TRUE(failed.empty()) << ::testing::PrintToString(failed);
}

TEST(OutOfMemory, EveryAllocationOfMappingAndCopyOpsUnwinds) {
  Workload w;
  w.config.frames = 96;
  w.config.per_vma_lock = true;  // the VMA lookup under RCU, and its lock
  w.config.readahead_pages = 4;
  w.ops = [buf = pattern(24 * kPageSize, 3), r = std::vector<std::byte>(6 * kPageSize)](Engine& e, File& f,
                                                                                      Mm& mm) mutable {
    attempt([&] { f.write(0, buf); });
    attempt([&] { f.fallocate(24 * kPageSize, 8 * kPageSize, false); });
    attempt([&] {
      uint64_t shared = mm.mmap(f, 0, 32 * kPageSize, kProtRead | kProtWrite, MapType::shared);
      uint64_t priv = mm.mmap(f, 4 * kPageSize, 8 * kPageSize, kProtRead | kProtWrite, MapType::private_cow);
      std::byte b[32];
      mm.load(shared + 2 * kPageSize, b);
      mm.store(shared + 5 * kPageSize + 100, b);
      mm.store(priv + kPageSize, b);  // a copy on write
      mm.load(priv + 3 * kPageSize, b);
      mm.msync(shared, 8 * kPageSize);
      mm.munmap(shared + 8 * kPageSize, 4 * kPageSize);  // splits the VMA
      mm.store(shared + 12 * kPageSize, b);
    });
    attempt([&] { f.copy_range(0, 3 * kPageSize, 40 * kPageSize); });
    attempt([&] { f.dedupe_range(0, 2 * kPageSize, 40 * kPageSize); });
    attempt([&] { f.direct_read(kPageSize, r); });
    attempt([&] { f.fadvise_dontneed(0, 16 * kPageSize); });
    attempt([&] { f.readahead(0, 16 * kPageSize); });
    attempt([&] { e.reclaim(96); });
    attempt([&] { f.zero_range(3 * kPageSize, 2 * kPageSize, false); });
    attempt([&] { f.truncate(10 * kPageSize + 1); });
  };
  auto failed = failing_points(w);
  EXPECT_TRUE(failed.empty()) << ::testing::PrintToString(failed);
}

TEST(OutOfMemory, EveryAllocationOfHugeFolioOpsUnwinds) {
  Workload w;
  w.config.frames = 2048;
  w.config.max_folio_order = 9;
  w.config.pmd_mapping = true;
  w.config.per_vma_lock = true;
  w.config.readahead_pages = 512;
  constexpr uint64_t kHuge = 512 * kPageSize;
  // One 2 MiB folio and a few small ones: each op that handles a large
  // folio (a PMD mapping, migration, a split, a collapse from small folios,
  // a punch and a truncate through one) meets it once.
  w.ops = [buf = pattern(kHuge + 32 * kPageSize, 2)](Engine& e, File& f, Mm& mm) {
    attempt([&] { f.write(0, buf); });
    attempt([&] {
      uint64_t a = mm.mmap(f, 0, buf.size(), kProtRead | kProtWrite, MapType::shared);
      std::byte b[16];
      mm.load(a + 3 * kPageSize, b);  // a PMD mapping of the folio the write made
      mm.store(a + kHuge + 9 * kPageSize, b);
    });
    attempt([&] { f.truncate(kHuge - 3 * kPageSize + 5); });  // into the PMD mapping: a split after i_size is set
    attempt([&] { f.fsync(); });
    attempt([&] { e.reclaim(2048); });
    attempt([&] { f.migrate(0, kHuge); });
    attempt([&] { f.split_huge_pages(0, kHuge); });
    attempt([&] { f.fsync(); });
    attempt([&] { f.khugepaged_collapse(0); });  // the small folios the split made, clean
    attempt([&] { f.zero_range(kHuge / 2, 4 * kPageSize + 3, true); });
    attempt([&] { f.punch_hole(kHuge / 4, 2 * kPageSize); });
    attempt([&] { f.truncate(kHuge / 2 + 5); });
  };
  auto failed = failing_points(w);
  EXPECT_TRUE(failed.empty()) << ::testing::PrintToString(failed);
}

}  // namespace
}  // namespace faultline::test
