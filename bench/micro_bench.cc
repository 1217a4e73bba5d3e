// bench/micro_bench.cc — micro-benchmarks of the fault path and the killers.
//
//   build/release/bench/micro_bench [--benchmark_filter=...]
//
// The hot paths: a fault on a page already in the cache (fault-around off,
// so every touched page is one fault), a load through a present PTE, and
// read() of a cached page. The killers: each one on a 64 MiB file that is
// cached and mapped in full, set up anew (untimed) before each run.
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "faultline/faultline.h"

using namespace faultline;

namespace {

constexpr uint64_t k64M = 64ull << 20;

Config bench_config(unsigned fault_around, const char* protocol) {
  Config c;
  c.frames = (k64M / kPageSize) * 2;
  c.fault_around_pages = fault_around;
  c.protocol = protocol;
  return c;
}

struct World {
  explicit World(uint64_t size, unsigned fault_around = 16, const char* protocol = "page_lock+invalidate_lock")
      : World(size, bench_config(fault_around, protocol)) {}
  World(uint64_t size, const Config& c)
      : engine(c),
        file(engine.open(std::make_unique<MemoryStore>())),
        mm(engine.create_mm()) {
    std::vector<std::byte> data(size, std::byte{1});
    file.write(0, data);
  }
  Engine engine;
  File file;
  Mm mm;
};

constexpr uint64_t kFaultPages = 1024;

// page_fault3-style: map, touch every page (one fault each), unmap.
void map_touch_unmap(benchmark::State& state, World& w) {
  std::byte b{};
  for (auto _ : state) {
    uint64_t a = w.mm.mmap(w.file, 0, kFaultPages * kPageSize, kProtRead, MapType::shared);
    for (uint64_t p = 0; p < kFaultPages; ++p) w.mm.load(a + p * kPageSize, {&b, 1});
    w.mm.munmap(a, kFaultPages * kPageSize);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kFaultPages));
}

// The fault path's history as rows: one page per fault; fault-around of
// 16 pages (Linux 3.15); whole large folios mapped by fault and
// fault-around (6.18), in folios of 16 pages and of 512; a 512-page folio
// mapped by one PMD entry (do_set_pmd).
struct FaultPath {
  const char* label;
  unsigned fault_around, max_folio_order;
  bool whole_folio, pmd;
};
const FaultPath kFaultPaths[] = {{"one page per fault", 1, 4, false, false},
                                 {"fault-around 16", 16, 4, false, false},
                                 {"whole folio (16 pages)", 16, 4, true, false},
                                 {"whole folio (512 pages)", 16, 9, true, false},
                                 {"PMD (512 pages)", 16, 9, true, true}};

void BM_FaultCachedPage(benchmark::State& state) {
  const uint64_t pages = kFaultPages;
  const FaultPath& path = kFaultPaths[state.range(0)];
  Config c = bench_config(path.fault_around, "page_lock+invalidate_lock");
  c.max_folio_order = path.max_folio_order;
  c.map_whole_folio = path.whole_folio;
  c.pmd_mapping = path.pmd;
  World w(pages * kPageSize, c);
  map_touch_unmap(state, w);
  state.SetLabel(path.label);
  state.counters["faults_per_page"] =
      static_cast<double>(w.engine.stats().faults) / static_cast<double>(state.iterations() * pages);
}
BENCHMARK(BM_FaultCachedPage)->DenseRange(0, 4);

// The same loop on the kernel: a cached 4 MiB file in $TMPDIR (unlinked),
// mapped shared, a load from every page, unmapped.
void BM_KernelMapTouchUnmap(benchmark::State& state) {
  const char* dir = std::getenv("TMPDIR");
  std::string path = std::string(dir ? dir : "/tmp") + "/faultline-bench-XXXXXX";
  int fd = ::mkstemp(path.data());
  if (fd < 0) {
    state.SkipWithError("mkstemp failed");
    return;
  }
  ::unlink(path.c_str());
  std::vector<char> data(kFaultPages * kPageSize, 1);
  if (::pwrite(fd, data.data(), data.size(), 0) != static_cast<ssize_t>(data.size())) state.SkipWithError("pwrite");
  for (auto _ : state) {
    auto* p = static_cast<volatile char*>(::mmap(nullptr, data.size(), PROT_READ, MAP_SHARED, fd, 0));
    for (uint64_t i = 0; i < kFaultPages; ++i) {
      char c = p[i * kPageSize];
      benchmark::DoNotOptimize(c);  // a copy: DoNotOptimize may store to what it is given
    }
    ::munmap(const_cast<char*>(p), data.size());
  }
  ::close(fd);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kFaultPages));
  state.SetLabel("kernel");
}
BENCHMARK(BM_KernelMapTouchUnmap);

// The same fault, one thread, under each map guard: what a protocol costs
// when nothing contends.
const char* const kProtocols[] = {"page_lock+invalidate_lock", "page_lock_fair+invalidate_lock",
                                  "i_mmap_rwsem+invalidate_lock", "private_lock+invalidate_lock",
                                  "no_new_maps+invalidate_lock", "no_new_maps_as_posted+invalidate_lock",
                                  "unlocked+invalidate_lock"};

void BM_FaultByProtocol(benchmark::State& state) {
  const char* protocol = kProtocols[state.range(0)];
  state.SetLabel(protocol);
  World w(kFaultPages * kPageSize, 1, protocol);
  map_touch_unmap(state, w);
}
BENCHMARK(BM_FaultByProtocol)->DenseRange(0, 6);

// Every thread faults on the same folio: its own address space maps one
// 16-page folio of a cached file, touches its first page (one fault:
// fault-around off) and unmaps it, so the faults meet on that folio's lock
// and counts. The Apache case in miniature, per map guard; compare the
// threads=1 and threads=N rows of one protocol.
World& shared_world(int protocol) {
  static std::vector<std::unique_ptr<World>> worlds = [] {
    std::vector<std::unique_ptr<World>> v;
    for (const char* p : kProtocols) v.push_back(std::make_unique<World>(16 * kPageSize, 1, p));
    return v;
  }();
  return *worlds[static_cast<size_t>(protocol)];
}

void BM_ContendedFaultOneFolio(benchmark::State& state) {
  const int protocol = static_cast<int>(state.range(0));
  state.SetLabel(kProtocols[protocol]);
  World& w = shared_world(protocol);
  Mm mm = w.engine.create_mm();
  std::byte b{};
  for (auto _ : state) {
    uint64_t a = mm.mmap(w.file, 0, 16 * kPageSize, kProtRead, MapType::shared);
    mm.load(a, {&b, 1});
    mm.munmap(a, 16 * kPageSize);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ContendedFaultOneFolio)->DenseRange(0, 6)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();

// 8-byte loads through a present mapping of a cached 1 MiB file, striding
// over its pages (a page and 8 bytes apart), with the software TLB (arg 1)
// and without (0, a page-table walk each); one World per run, each thread
// with its own address space. BM_RawLoad is the baseline: the same loads
// from plain memory. The ratio of the two is what an access costs.
constexpr uint64_t kLoadSpan = 1 << 20;
uint64_t load_offset(uint64_t i) { return (i * 4104) & (kLoadSpan - 8); }

void BM_LoadThroughMapping(benchmark::State& state) {
  static std::unique_ptr<World> w;
  if (state.thread_index() == 0) {
    Config c = bench_config(16, "page_lock+invalidate_lock");
    c.soft_tlb = state.range(0) != 0;
    w = std::make_unique<World>(kLoadSpan, c);
  }
  Mm mm = w->engine.create_mm();
  uint64_t a = mm.mmap(w->file, 0, kLoadSpan, kProtRead, MapType::shared);
  std::vector<std::byte> all(kLoadSpan);
  mm.load(a, all);
  uint64_t word = 0, i = 0;
  for (auto _ : state) {
    mm.load(a + load_offset(i++), {reinterpret_cast<std::byte*>(&word), 8});
    benchmark::DoNotOptimize(word);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetLabel(state.range(0) ? "tlb" : "walk");
}
BENCHMARK(BM_LoadThroughMapping)->Arg(1)->Arg(0)->Threads(1)->Threads(2)->UseRealTime();

void BM_RawLoad(benchmark::State& state) {
  std::vector<std::byte> mem(kLoadSpan, std::byte{1});
  uint64_t word = 0, i = 0;
  for (auto _ : state) {
    std::memcpy(&word, mem.data() + load_offset(i++), 8);
    benchmark::DoNotOptimize(word);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_RawLoad)->Threads(1)->Threads(2)->UseRealTime();

// Bulk access: 64 KiB loads through a mapping of a cached 4 MiB file, by
// PTEs (a translation per page) or by PMD entries (a translation per 2 MiB),
// beside memcpy of the same bytes from plain memory (BM_RawSpan).
constexpr uint64_t kSpanFile = 4 << 20, kSpan = 64 << 10;

void BM_LoadSpan(benchmark::State& state) {
  Config c = bench_config(16, "page_lock+invalidate_lock");
  c.max_folio_order = 9;
  c.pmd_mapping = state.range(0) != 0;
  World w(kSpanFile, c);
  uint64_t a = w.mm.mmap(w.file, 0, kSpanFile, kProtRead, MapType::shared);
  std::vector<std::byte> buf(kSpan);
  for (uint64_t off = 0; off < kSpanFile; off += kSpan) w.mm.load(a + off, buf);
  uint64_t i = 0;
  for (auto _ : state) {
    w.mm.load(a + (i++ * kSpan) % kSpanFile, buf);
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kSpan));
  state.SetLabel(state.range(0) ? "pmd" : "pte");
}
BENCHMARK(BM_LoadSpan)->Arg(0)->Arg(1);

void BM_RawSpan(benchmark::State& state) {
  std::vector<std::byte> mem(kSpanFile, std::byte{1}), buf(kSpan);
  uint64_t i = 0;
  for (auto _ : state) {
    std::memcpy(buf.data(), mem.data() + (i++ * kSpan) % kSpanFile, kSpan);
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kSpan));
}
BENCHMARK(BM_RawSpan);

void BM_ReadCachedPage(benchmark::State& state) {
  World w(1 << 20);
  std::vector<std::byte> buf(kPageSize);
  uint64_t i = 0;
  for (auto _ : state) {
    w.file.read((i++ % 256) * kPageSize, buf);
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kPageSize));
}
BENCHMARK(BM_ReadCachedPage);

enum Killer { kTruncate, kPunch, kZero, kCollapse, kInsert, kDirectWrite, kDontneed, kMigrate, kReclaim };

void run_killer(World& w, Killer k) {
  switch (k) {
    case kTruncate: w.file.truncate(0); break;
    case kPunch: w.file.punch_hole(0, k64M); break;
    case kZero: w.file.zero_range(0, k64M, true); break;
    case kCollapse: w.file.collapse_range(0, k64M / 2); break;
    case kInsert: w.file.insert_range(0, k64M / 2); break;
    case kDirectWrite: {
      static std::vector<std::byte> data(k64M, std::byte{2});
      w.file.direct_write(0, data);
      break;
    }
    case kDontneed: w.file.fadvise_dontneed(0, 0); break;
    case kMigrate: w.file.migrate(0, 0); break;
    case kReclaim: w.engine.reclaim(k64M / kPageSize); break;
  }
}

// Each killer on a cached, fully mapped 64 MiB file (DONTNEED and reclaim
// on an unmapped one: DONTNEED leaves mapped pages alone by design).
void BM_Killer(benchmark::State& state) {
  auto k = static_cast<Killer>(state.range(0));
  World w(k64M);
  std::vector<std::byte> data(k64M, std::byte{1});
  for (auto _ : state) {
    state.PauseTiming();
    w.file.truncate(0);
    w.file.write(0, data);
    uint64_t a = 0;
    if (k != kDontneed && k != kReclaim) {
      a = w.mm.mmap(w.file, 0, k64M, kProtRead, MapType::shared);
      w.mm.load(a, {data.data(), k64M});
    }
    w.file.fsync();
    state.ResumeTiming();
    run_killer(w, k);
    state.PauseTiming();
    if (a) w.mm.munmap(a, k64M);
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * k64M));
}
BENCHMARK(BM_Killer)
    ->ArgName("killer")
    ->DenseRange(kTruncate, kReclaim)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(5);

}  // namespace
