// Multi-threaded stress: faulting and accessing threads, readers, writers,
// and one thread running every page killer in turn on one shared file,
// checked against a shadow model of what each access may observe.
//
// The file: region A (pages [0, 32)) belongs to two writer threads, which
// store stamps through a shared mapping or write() and read them back;
// region K (pages [32, 64)) belongs to the killer, which fills it with the
// stamp of its cycle, then kills it (punch, zero, truncate, collapse,
// insert, direct write, DONTNEED, migrate, reclaim; migrate and reclaim
// sweep region A too). Readers in two other address spaces access K
// through mappings and read(), and A through mappings. A copier maps K
// privately, one fresh mapping per check, and stores to it: each store is
// a COW fault that copies the file page as it is at that moment.
//
// The killer publishes a state word: BUSY while it changes K, then what K
// must look like. A reader that saw the same non-BUSY state before and
// after an access checks it strictly:
//   G1/G2  after a killer returned, no access sees the old contents (the
//          old page still mapped, or the old blocks read back in);
//   G5     past EOF is a bus error (mapping) or a short read; the EOF
//          page's tail reads zeros;
//   G3     no access ever sees freed memory (frames are poisoned with 0x6b
//          on free, and under ASan poisoned outright);
//   G4     the writers' stores are seen by read() and every mapping;
//   G6     at the end, after fsync, the store holds every writer's last
//          stamp, through all the migration and reclaim in between;
//   COW    a private copy holds the copier's store and, around it, the file
//          page as the state says it is (a copy of a stale page is G1/G2);
//          a store past EOF is a bus error (G5);
// and after every killer returns, check_mappings() finds no PTE that maps
// a folio no longer cached, the wrong index, or a page past EOF.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "sync/atomic.h"
#include "sync/rwsem.h"
#include "sync/spinlock.h"
#include "sync/thread.h"
#include "test_util.h"

#include <fmt/format.h>
#include <chrono>

namespace faultline::test {
namespace {

constexpr uint64_t P = kPageSize;
constexpr uint64_t kA = 32;        // writer pages [0, kA)
constexpr uint64_t kK0 = 32 * P;   // killer region start
constexpr uint64_t kL = 32 * P;    // killer region length
constexpr uint64_t kMapLen = 128 * P;

enum Phase : uint64_t { BUSY, FILLED, ZEROED, TRUNCATED, SHIFTED_DOWN, SHIFTED_UP };

uint64_t state_word(uint64_t cycle, Phase p, uint64_t stamp) { return (cycle << 40) | (uint64_t{p} << 32) | (stamp & 0xffffffff); }
Phase phase_of(uint64_t s) { return static_cast<Phase>((s >> 32) & 0xff); }
uint64_t stamp_of(uint64_t s) { return 0x5ca1ab1e00000000ull | (s & 0xffffffff); }
uint64_t writer_stamp(uint64_t page, uint64_t version) { return (0xAull << 60) | (page << 40) | version; }
uint64_t copier_stamp(uint64_t version) { return (0xCull << 60) | version; }

// What an 8-byte load at K offset `rel` must see in state `s`; "fault" is a
// bus error through a mapping and a short read through read().
struct Expect {
  enum { value, fault } kind;
  uint64_t v;
};
Expect expected(uint64_t s, uint64_t rel, bool via_read) {
  uint64_t stamp = stamp_of(s);
  switch (phase_of(s)) {
    case FILLED: return {Expect::value, stamp};
    case ZEROED: return {Expect::value, 0};
    case TRUNCATED:  // EOF at kK0 + 96: 12 words of the old stamp, a zero tail, then nothing
      if (rel >= P || (via_read && rel >= 96)) return {Expect::fault, 0};
      return {Expect::value, rel < 96 ? stamp : 0};
    case SHIFTED_DOWN:  // collapse(kK0, kL/2): the second half moved down, then EOF
      return rel < kL / 2 ? Expect{Expect::value, stamp} : Expect{Expect::fault, 0};
    case SHIFTED_UP:  // insert(kK0, kL/2): a hole, then the data
      return {Expect::value, rel < kL / 2 ? 0 : stamp};
    case BUSY: break;
  }
  return {Expect::value, 0};
}

class Stress {
 public:
  explicit Stress(const std::string& protocol) : engine_(config(protocol)), store_(new MemoryStore), file_(engine_.open(std::unique_ptr<Store>(store_))) {
    file_.truncate(kK0 + kL);
    for (int i = 0; i < 2; ++i) reader_mms_.push_back(engine_.create_mm());
    killer_mm_ = engine_.create_mm();
    for (auto& w : last_) w = 0;
  }

  static Config config(const std::string& protocol) {
    Config c;
    c.frames = 512;
    c.poison_freed_frames = true;
    c.protocol = protocol;
    return c;
  }

  void fail(const std::string& what) {
    sync::Guard<sync::Mutex> g(fail_lock_);
    if (failure_.empty()) failure_ = what;
    stop_.store(true, sync::seq_cst);
  }
  bool stopped() const { return stop_.load(sync::relaxed); }
  // Runs a thread's loop, starting it again when an operation finds the
  // frame pool exhausted: under a broken protocol stale mappings pin frames,
  // and memory pressure is no violation (the killer's own checks find the
  // stale mapping). Any other error is one.
  template <class Loop>
  void keep_running(Loop loop) {
    while (!stopped()) {
      try {
        loop();
        return;
      } catch (const Error& e) {
        if (e.code() != Errc::out_of_memory) return fail(std::string("unexpected error: ") + e.what());
      }
    }
  }

  // ---- readers --------------------------------------------------------
  void reader(int id) {
    Mm& mm = reader_mms_[id];
    uint64_t base = mm.mmap(file_, 0, kMapLen, kProtRead, MapType::shared);
    std::mt19937_64 rng(id + 100);
    while (!stopped()) {
      uint64_t r = rng();
      if (r % 16 == 0) check_region_a(mm, base, rng);
      else check_region_k(mm, base, rng, r % 4 == 1);
      if (r % 512 == 7) file_.readahead(kK0, kL);  // a creator racing the killer
      reads_.fetch_add(1, sync::relaxed);
    }
  }

  void check_region_k(Mm& mm, uint64_t base, std::mt19937_64& rng, bool via_read) {
    uint64_t rel = (rng() % (kL / 8)) * 8;
    uint64_t s1 = state_.load(sync::seq_cst);
    uint64_t v = 0;
    bool faulted = false;
    if (via_read) {
      faulted = file_.read(kK0 + rel, {reinterpret_cast<std::byte*>(&v), 8}) < 8;
    } else {
      try {
        mm.load(base + kK0 + rel, {reinterpret_cast<std::byte*>(&v), 8});
      } catch (const Error& e) {
        if (e.code() != Errc::bus_error) return fail(std::string("reader: unexpected ") + e.what());
        faulted = true;
      }
    }
    uint64_t s2 = state_.load(sync::seq_cst);
    if (!faulted && is_poison(v))
      return fail(fmt("G3: reader saw freed memory ({:#x}) at K+{:#x}", v, rel));
    if (s1 != s2 || phase_of(s1) == BUSY) return;
    Expect e = expected(s1, rel, via_read);
    bool ok = e.kind == Expect::fault ? faulted : (!faulted && v == e.v);
    if (!ok)
      fail(fmt("{}: K+{:#x} via {} in cycle {} phase {}: saw {} {:#x}, expected {} {:#x}",
               e.kind == Expect::fault ? "G5" : "G1/G2", rel, via_read ? "read()" : "mapping", s1 >> 40,
               int(phase_of(s1)), faulted ? "fault" : "value", v, e.kind == Expect::fault ? "fault" : "value", e.v));
  }

  void check_region_a(Mm& mm, uint64_t base, std::mt19937_64& rng) {
    uint64_t page = rng() % kA;
    uint64_t v = 0;
    mm.load(base + page * P, {reinterpret_cast<std::byte*>(&v), 8});
    if (v != 0 && (v >> 60 != 0xA || ((v >> 40) & 0xfffff) != page))
      fail(fmt("G3/G4: page {} of region A holds {:#x}, not a stamp of that page", page, v));
  }

  // ---- writers --------------------------------------------------------
  void writer(int id) {
    Mm mm = engine_.create_mm();
    uint64_t base = mm.mmap(file_, 0, kA * P, kProtRead | kProtWrite, MapType::shared);
    std::mt19937_64 rng(id + 200);
    for (uint64_t version = 1; !stopped(); ++version) {
      uint64_t page = id * (kA / 2) + rng() % (kA / 2);
      uint64_t v = writer_stamp(page, version);
      auto bytes = std::span<const std::byte>(reinterpret_cast<const std::byte*>(&v), 8);
      if (version % 2) mm.store(base + page * P, bytes);
      else file_.write(page * P, bytes);
      last_[page] = v;
      uint64_t back = 0;
      file_.read(page * P, {reinterpret_cast<std::byte*>(&back), 8});
      uint64_t mapped = 0;
      mm.load(base + page * P, {reinterpret_cast<std::byte*>(&mapped), 8});
      if (back != v || mapped != v)
        return fail(fmt("G4: writer stored {:#x} to page {}; read() saw {:#x}, the mapping {:#x}", v, page, back, mapped));
      writes_.fetch_add(1, sync::relaxed);
    }
  }

  // ---- the copier -----------------------------------------------------
  // One private mapping per check, so the page it copies has no earlier
  // private copy: the words around the store must be the file's.
  void copier() {
    Mm mm = engine_.create_mm();
    std::mt19937_64 rng(300);
    for (uint64_t version = 1; !stopped(); ++version) {
      uint64_t base = mm.mmap(file_, kK0, kL, kProtRead | kProtWrite, MapType::private_cow);
      copy_and_check(mm, base, copier_stamp(version), rng);
      mm.munmap(base, kL);
      copies_.fetch_add(1, sync::relaxed);
    }
  }

  void copy_and_check(Mm& mm, uint64_t base, uint64_t mine, std::mt19937_64& rng) {
    uint64_t rel = (rng() % (kL / 8)) * 8;
    uint64_t other = (rel & ~(P - 1)) | ((rel + 8 * (1 + rng() % (P / 8 - 1))) & (P - 1));  // same page, not rel
    uint64_t s1 = state_.load(sync::seq_cst);
    uint64_t back = 0, v = 0;
    bool faulted = false;
    try {
      mm.store(base + rel, {reinterpret_cast<const std::byte*>(&mine), 8});
      mm.load(base + rel, {reinterpret_cast<std::byte*>(&back), 8});
      mm.load(base + other, {reinterpret_cast<std::byte*>(&v), 8});
    } catch (const Error& e) {
      if (e.code() != Errc::bus_error) return fail(std::string("copier: unexpected ") + e.what());
      faulted = true;
    }
    uint64_t s2 = state_.load(sync::seq_cst);
    if (!faulted && is_poison(v)) return fail(fmt("G3: private copy of K+{:#x} holds freed memory", other));
    if (s1 != s2 || phase_of(s1) == BUSY) return;
    Expect e = expected(s1, other, false);
    if (e.kind == Expect::fault) {
      if (!faulted) fail(fmt("G5: COW store to K+{:#x} past EOF in cycle {} succeeded", rel, s1 >> 40));
      return;
    }
    if (faulted || back != mine || v != e.v)
      fail(fmt("G1/G2: private copy of K+{:#x} in cycle {} phase {}: {}, stored {:#x} read back {:#x}, "
               "K+{:#x} holds {:#x}, the file {:#x}",
               rel, s1 >> 40, int(phase_of(s1)), faulted ? "bus error" : "copied", mine, back, other, v, e.v));
  }

  // ---- the killer -----------------------------------------------------
  void publish(uint64_t cycle, Phase p, uint64_t stamp) { state_.store(state_word(cycle, p, stamp), sync::seq_cst); }

  void fill(uint64_t cycle) {
    publish(cycle, BUSY, 0);
    file_.truncate(kK0 + kL);
    uint64_t s = stamp_of(state_word(cycle, FILLED, cycle));
    std::vector<uint64_t> words(kL / 8, s);
    file_.write(kK0, {reinterpret_cast<const std::byte*>(words.data()), kL});
    publish(cycle, FILLED, cycle);
  }

  // Runs killer `which` on K and returns the state it leaves.
  uint64_t kill(uint64_t cycle, unsigned which) {
    publish(cycle, BUSY, 0);
    switch (which) {
      case 0: file_.punch_hole(kK0, kL); return state_word(cycle, ZEROED, 0);
      case 1: file_.zero_range(kK0, kL, true); return state_word(cycle, ZEROED, 0);
      case 2: file_.truncate(kK0 + 96); return state_word(cycle, TRUNCATED, cycle);
      case 3: file_.collapse_range(kK0, kL / 2); return state_word(cycle, SHIFTED_DOWN, cycle);
      case 4: file_.insert_range(kK0, kL / 2); return state_word(cycle, SHIFTED_UP, cycle);
      case 5: {
        uint64_t s = stamp_of(state_word(cycle, FILLED, cycle | 0x800000));
        std::vector<uint64_t> words(kL / 8, s);
        file_.direct_write(kK0, {reinterpret_cast<const std::byte*>(words.data()), kL});
        return state_word(cycle, FILLED, cycle | 0x800000);
      }
      case 6: file_.fadvise_dontneed(kK0, kL); break;
      case 7: file_.migrate(0, 0); break;
      default: engine_.reclaim(1u << 20); break;
    }
    return state_word(cycle, FILLED, cycle);
  }

  // The killer checks its own view right after each op returns.
  void verify(uint64_t s, uint64_t base) {
    if (std::string err = engine_.check_mappings(); !err.empty()) return fail("after killer: " + err);
    for (uint64_t rel = 0; rel < kL; rel += P / 2) {
      Expect e = expected(s, rel, false);
      uint64_t v = 0;
      bool faulted = false;
      try {
        killer_mm_.load(base + kK0 + rel, {reinterpret_cast<std::byte*>(&v), 8});
      } catch (const Error&) {
        faulted = true;
      }
      if (e.kind == Expect::fault ? !faulted : (faulted || v != e.v))
        return fail(fmt("{}: killer's own check: K+{:#x} phase {}: {} {:#x}, expected {:#x}",
                        e.kind == Expect::fault ? "G5" : "G1/G2", rel, int(phase_of(s)), faulted ? "fault" : "value",
                        v, e.v));
    }
  }

  void killer(double seconds) {
    uint64_t base = killer_mm_.mmap(file_, 0, kMapLen, kProtRead, MapType::shared);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    for (uint64_t cycle = 1; !stopped() && std::chrono::steady_clock::now() < deadline; ++cycle) {
      fill(cycle);
      verify(state_.load(sync::seq_cst), base);
      uint64_t s = kill(cycle, static_cast<unsigned>(cycle % 9));
      publish_word(s);
      verify(s, base);
      kills_.fetch_add(1, sync::relaxed);
    }
    stop_.store(true, sync::seq_cst);
  }
  void publish_word(uint64_t s) { state_.store(s, sync::seq_cst); }

  void final_check() {
    file_.fsync();
    for (uint64_t page = 0; page < kA; ++page) {
      uint64_t v = 0;
      store_->read(page * P, {reinterpret_cast<std::byte*>(&v), 8});
      if (v != last_[page]) return fail(fmt("G6: store page {} holds {:#x}, last write was {:#x}", page, v, last_[page]));
    }
  }

  static bool is_poison(uint64_t v) { return v == 0x6b6b6b6b6b6b6b6bull; }

  template <class... Args>
  static std::string fmt(const char* f, Args... args) {
    return ::fmt::format(::fmt::runtime(f), args...);
  }

  Engine engine_;
  MemoryStore* store_;
  File file_;
  std::vector<Mm> reader_mms_;
  Mm killer_mm_;
  sync::Atomic<uint64_t> state_{0};
  sync::Atomic<bool> stop_{false};
  sync::Atomic<uint64_t> reads_{0}, writes_{0}, copies_{0}, kills_{0};
  uint64_t last_[kA];  // each writer owns its half; read after join
  sync::Mutex fail_lock_;
  std::string failure_;
};

double stress_seconds() {
  const char* s = std::getenv("FAULTLINE_STRESS_SECONDS");
  return s ? std::atof(s) : 2.0;
}

// Runs the stress for `seconds` (or to the first violation); returns the
// violation, empty if none, and the number of killer cycles run.
std::string run_stress(const std::string& protocol, double seconds, uint64_t* cycles = nullptr) {
  Stress st(protocol);
  {
    std::vector<sync::Thread> threads;
    for (int i = 0; i < 2; ++i) threads.emplace_back([&st, i] { st.keep_running([&] { st.reader(i); }); });
    for (int i = 0; i < 2; ++i) threads.emplace_back([&st, i] { st.keep_running([&] { st.writer(i); }); });
    threads.emplace_back([&st] { st.keep_running([&] { st.copier(); }); });
    st.killer(seconds);
  }
  if (st.failure_.empty()) st.final_check();
  Stats s = st.engine_.stats();
  std::cout << ::fmt::format("stress {}: {} killer cycles, {} reader accesses, {} writer stores, {} private copies; "
                             "{} faults ({} retried), {} migrated, {} reclaimed, {} shootdowns\n",
                             protocol, st.kills_.load(sync::relaxed), st.reads_.load(sync::relaxed),
                             st.writes_.load(sync::relaxed), st.copies_.load(sync::relaxed), s.faults, s.fault_retries,
                             s.folios_migrated, s.folios_reclaimed, s.shootdowns);
  if (cycles) *cycles = st.kills_.load(sync::relaxed);
  return st.failure_;
}

// G2 for atomic writes on real threads: a writer writes generation after
// generation (a 32-bit word, repeated) over four pages with write_atomic;
// readers load the four pages through a mapping, and read() them, in
// order. In one reader's program order the generations it sees never go
// back: once it has seen a write's word, no old word of that write's
// range. Within a page read() sees one generation.
std::vector<std::byte> generation_bytes(uint64_t len, uint32_t gen) {
  std::vector<std::byte> v(len);
  for (uint64_t i = 0; i < len; i += 4) std::memcpy(v.data() + i, &gen, 4);
  return v;
}

std::string run_atomic_stress(const std::string& protocol, double seconds, uint64_t* writes) {
  Config c;
  c.frames = 1024;
  c.protocol = protocol;
  Engine engine(c);
  File file = engine.open(std::make_unique<MemoryStore>());
  constexpr uint64_t kLen = 4 * P;
  file.write_atomic(0, generation_bytes(kLen, 1));
  sync::Atomic<bool> stop{false};
  sync::Mutex lock;
  std::string failure;
  auto fail = [&](const std::string& why) {
    sync::Guard<sync::Mutex> g(lock);
    if (failure.empty()) failure = why;
    stop.store(true, sync::seq_cst);
  };
  // Generations seen at pages 0..3 in one pass, which must not decrease.
  auto check_pass = [&](const char* how, const uint32_t (&gens)[4]) {
    for (uint64_t p = 1; p < 4; ++p)
      if (gens[p] < gens[p - 1])
        fail(::fmt::format("G2: {} saw generation {} at page {} after {} at page {}", how, gens[p], p, gens[p - 1],
                           p - 1));
  };
  {
    std::vector<sync::Thread> threads;
    for (int r = 0; r < 2; ++r)
      threads.emplace_back([&, r] {
        Mm mm = engine.create_mm();
        uint64_t base = mm.mmap(file, 0, kLen, kProtRead, MapType::shared);
        std::vector<std::byte> buf(kLen);
        uint32_t gens[4];
        while (!stop.load(sync::relaxed)) {
          for (uint64_t p = 0; p < 4; ++p)
            mm.load(base + p * P + (r ? P - 4 : 0), {reinterpret_cast<std::byte*>(&gens[p]), 4});
          check_pass("a mapped reader", gens);
          file.read(0, buf);
          for (uint64_t p = 0; p < 4; ++p) {
            std::memcpy(&gens[p], buf.data() + p * P, 4);
            if (generation_bytes(P, gens[p]) != std::vector<std::byte>(buf.begin() + p * P, buf.begin() + (p + 1) * P))
              fail(::fmt::format("G2: read() saw two generations inside page {}", p));
          }
          check_pass("read()", gens);
        }
      });
    auto t0 = std::chrono::steady_clock::now();
    for (uint32_t gen = 2; !stop.load(sync::relaxed) &&
                           std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < seconds;
         ++gen) {
      file.write_atomic(0, generation_bytes(kLen, gen));
      ++*writes;
    }
    stop.store(true, sync::seq_cst);
  }
  return failure;
}

TEST(StressAtomic, ReadersSeeEachAtomicWriteWholeOrNotAtAll) {
  uint64_t writes = 0;
  EXPECT_EQ(run_atomic_stress("page_lock+invalidate_lock", stress_seconds(), &writes), "");
  std::cout << "atomic stress: " << writes << " atomic writes\n";
  EXPECT_GT(writes, 100u);
}

// It has teeth: without the creation guard a reader fills a page from the
// old blocks between the eviction and the store's write, and keeps it.
TEST(StressKnownBugs, NoCreationGuardTearsAnAtomicWrite) {
  uint64_t writes = 0;
  std::string err = run_atomic_stress("page_lock", 30, &writes);
  EXPECT_NE(err.find("G2"), std::string::npos) << "page_lock survived " << writes << " atomic writes";
  std::cout << "found: " << err << "\n";
}

// Faults racing munmap of their own VMA under per-VMA locks: each either
// completes before the unmap (munmap waits for it) or finds the VMA
// detached and gets SIGSEGV under mmap_lock; and munmap of part of a VMA
// leaves the rest faultable.
TEST(StressVma, FaultsRaceMunmapAndMmapOfOneAddressSpace) {
  Fixture fx(64 * kPageSize, per_vma_config());
  uint64_t keep = fx.mm.mmap(fx.file, 0, 64 * kPageSize, kProtRead, MapType::shared);
  sync::Atomic<bool> stop{false};
  sync::Atomic<uint64_t> bad{0}, loads{0};
  std::vector<sync::Thread> readers;
  for (int r = 0; r < 2; ++r)
    readers.emplace_back([&] {
      auto want = pattern(64 * kPageSize, 1);
      std::byte b{};
      while (!stop.load(sync::relaxed)) {
        for (uint64_t p = 0; p < 64; ++p) {
          fx.mm.load(keep + p * kPageSize, {&b, 1});
          if (b != want[p * kPageSize]) bad.fetch_add(1, sync::relaxed);
          loads.fetch_add(1, sync::relaxed);
        }
      }
    });
  const auto file = pattern(32 * kPageSize, 1);
  const std::vector<std::byte> page16(file.begin() + 16 * kPageSize, file.begin() + 16 * kPageSize + 8);
  for (int i = 0; i < 300; ++i) {
    uint64_t a = fx.mm.mmap(fx.file, 0, 32 * kPageSize, kProtRead, MapType::shared);
    EXPECT_EQ(load(fx.mm, a, 32 * kPageSize), file);
    fx.mm.munmap(a, 16 * kPageSize);
    EXPECT_EQ(load(fx.mm, a + 16 * kPageSize, 8), page16);
    expect_error(Errc::segv, "no mapping", [&] { load(fx.mm, a, 1); });
    fx.mm.munmap(a + 16 * kPageSize, 16 * kPageSize);
  }
  stop.store(true, sync::relaxed);
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(sync::relaxed), 0u);
  EXPECT_GT(loads.load(sync::relaxed), 0u);
  EXPECT_EQ(fx.engine.check_mappings(), "");
}

// Every protocol whose guarantees claim to hold on real threads (x86: the
// as-posted barriers are full barriers here; the checker tells them apart).
class StressProtocols : public ::testing::TestWithParam<std::string> {};

TEST_P(StressProtocols, KillersAgainstFaultsReadersAndWriters) {
  uint64_t cycles = 0;
  EXPECT_EQ(run_stress(GetParam(), stress_seconds(), &cycles), "");
  EXPECT_GE(cycles, 9u) << "every killer should have run at least once";
}

std::vector<std::string> protocols_under_stress() {
  if (const char* p = std::getenv("FAULTLINE_STRESS_PROTOCOL")) return {p};
  return {"page_lock+invalidate_lock",          "page_lock_fair+invalidate_lock",
          "page_lock_unfair+invalidate_lock",   "i_mmap_rwsem+invalidate_lock",
          "private_lock+invalidate_lock",       "no_new_maps+invalidate_lock",
          "no_new_maps_as_posted+invalidate_lock", "map_pages_lockless+invalidate_lock"};
}

INSTANTIATE_TEST_SUITE_P(Stress, StressProtocols, ::testing::ValuesIn(protocols_under_stress()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return test::param_name(p.param); });

// The stress test has teeth: the protocols known to be broken break it.
TEST(StressKnownBugs, UnlockedLeavesAStalePageMapped) {
  std::string err = run_stress("unlocked+invalidate_lock", 30);
  EXPECT_NE(err.find("G1"), std::string::npos) << "no violation found: " << err;
  std::cout << "found: " << err << "\n";
}

// Wilcox's sketch with the killers as they were (the seed, 2020-09-17):
// the fault's i_mmap_rwsem excludes neither the killer's unmap (which
// takes it shared) nor its removal (which does not take it).
TEST(StressKnownBugs, IMmapRwsemAsPostedLeavesAStalePageMapped) {
  std::string err = run_stress("i_mmap_rwsem_as_posted+invalidate_lock", 30);
  EXPECT_NE(err.find("G1"), std::string::npos) << "no violation found: " << err;
  std::cout << "found: " << err << "\n";
}

TEST(StressKnownBugs, NoCreationGuardReadsOldBlocksBack) {
  std::string err = run_stress("page_lock", 30);
  EXPECT_NE(err.find("G"), std::string::npos) << "page_lock without invalidate_lock survived 30 s: " << err;
  std::cout << "found: " << err << "\n";
}

}  // namespace
}  // namespace faultline::test
