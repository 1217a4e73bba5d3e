// src/check/checker.cc — scenarios, the oracle and the verdict table of
// `faultline check`, built against the model backend (FAULTLINE_SYNC_MODEL,
// with the engine's namespace renamed faultline_model, so that the command
// links both engines).
//
// A scenario is a small world — one file of three pages, one address space
// mapping it; or, for PMD mappings and khugepaged, a file of 2 MiB and two
// pages — and two simulated CPUs: an accessor (a faulting thread,
// fault-around, readahead, a read() reader, a writer) and a killer
// (truncate, punch, zero, collapse, insert, direct-I/O or atomic write,
// the reflink family, DONTNEED, migration, reclaim, munmap, khugepaged).
// The oracle runs, with the world stopped, right after the killer returns
// and again at the end: no PTE may map a folio that left the cache, the
// wrong index or a page past EOF (G1, G4, G5), and every clean cached page
// must hold what the file now holds (G2: no old block read back in); and
// an access that began after the killer returned must see the file as it
// is now.
#include <fmt/format.h>

#include <fnmatch.h>
#include <malloc.h>

#include <chrono>
#include <fstream>
#include <map>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "check/check.h"
#include "check/table.h"
#include "faultline/faultline.h"
#include "mm/internal.h"
#include "mm/seeded_bug.h"
#include "protocol/protocol.h"
#include "replay/model.h"
#include "sync/model/model.h"

namespace faultline_check {
namespace {

namespace fl = faultline;
namespace model = faultline::sync::model;
using faultline::replay::Model;
using faultline::replay::Op;
using faultline::replay::OpKind;

constexpr uint64_t P = fl::kPageSize;
constexpr uint64_t kFileSize = 3 * P;

struct KillerKind {
  const char* name;
  OpKind op;
  uint64_t off, len;
  bool straddle = false;  // pages 0-1 cached as one folio (which truncate splits, or leaves straddling EOF)
  uint64_t dest = 0;      // the second range of clone and exchange
  // Killers that are not a file op (`op` unused): munmap of the accessor's
  // pages 0-1 under per-VMA locks; khugepaged's collapse of the first 2 MiB.
  enum class Extra : uint8_t { none, munmap, khugepaged, split } extra = Extra::none;
};
const KillerKind kKillers[] = {
    {"truncate", OpKind::truncate, 0, P / 2},  {"truncate-folio", OpKind::truncate, 0, P / 2, true},
    {"punch", OpKind::punch_hole, 0, 2 * P},
    {"zero", OpKind::zero_range, 0, 2 * P},    {"collapse", OpKind::collapse_range, 0, P},
    {"insert", OpKind::insert_range, 0, P},    {"dio", OpKind::dwrite, 0, 2 * P},
    {"dontneed", OpKind::dontneed, 0, 0},      {"migrate", OpKind::migrate, 0, 0},
    {"reclaim", OpKind::reclaim, 0, 64 * P},
    // The reflink family: page 2's blocks shared into page 0, whose folio
    // is the one killed; pages 0 and 2 swapped, both killed.
    {"clone", OpKind::clone_range, 2 * P, P}, {"exchange", OpKind::exchange_range, 0, P, false, 2 * P},
    // RWF_ATOMIC over pages 0-1: seen whole or not at all.
    {"atomic", OpKind::write_atomic, 0, 2 * P},
    // munmap of pages 0-1 of the accessor's mapping, with faults taking
    // the VMA's lock instead of mmap_lock (Config::per_vma_lock): no fault
    // may map into the range once munmap has zapped it, and no access
    // after munmap returned may succeed. The file does not change.
    {"munmap", OpKind::read, 0, 2 * P, false, 0, KillerKind::Extra::munmap},
    // khugepaged's collapse_file over a file whose first 2 MiB are cached
    // as 512 one-page folios (the small-folio world): lock each, unmap it
    // if mapped, check it is unmapped, copy, swap in one PMD-sized folio.
    // The file does not change. Hugh Dickins' VM_BUG_ON (2020) is the
    // check after the unmap.
    {"khugepaged", OpKind::read, 0, 0, false, 0, KillerKind::Extra::khugepaged},
    // The folio of pages 0-1 split into two, as reclaim splits a large
    // folio under memory pressure (File::split_huge_pages). The file does
    // not change. A lookup that loaded the folio before the split and took
    // its reference after must not come back with page 0's folio for page
    // 1 (early 2026: VM_BUG_ON_FOLIO(!folio_contains) in filemap_fault).
    {"split", OpKind::read, 0, 2 * P, true, 0, KillerKind::Extra::split},
};
// What the direct and atomic writes write: no page holds it before.
constexpr std::byte kWritten{0xBB};
// "2faults": two CPUs faulting in two address spaces (three CPUs in all).
// "cow": write faults on a private mapping (do_cow_fault), which map a
// private copy of the file page. "sharedwrite": a load, then a store, to
// each page of a shared writable mapping (the read fault maps it
// read-only; the store's write-protect fault makes it writable and dirty:
// do_shared_fault, page_mkwrite). "write": write() of one byte to page 1,
// then page 2, which are not cached: write() creates their folios (under
// the creation guard, as a fault does) and reads the rest of each page in.
// "pmd": loads of pages 0 and 1 of a file whose first 2 MiB are one
// PMD-sized folio, cached, in a shared mapping that may map it with one
// PMD entry (Config::pmd_mapping): the killer splits or zaps that entry.
const char* kAccessors[] = {"fault", "faultaround", "readahead", "read", "cow", "2faults", "sharedwrite", "write", "pmd"};
// Two killers at once, as the kernel lets them race: page 0 is mapped
// before they start, so both have a mapping to take down.
const char* kKillerPairs[] = {"punch-vs-dontneed", "truncate-vs-migrate", "reclaim-vs-punch", "zero-vs-reclaim"};

struct World {
  World(const std::string& protocol, const std::string& accessor, const KillerKind& killer, bool whole_folio)
      : engine(config(protocol, accessor, killer, whole_folio)) {
    bool straddle = killer.straddle;
    auto store = std::make_unique<fl::MemoryStore>();
    // Pages 0 and 1 hold 0xAA, page 2 0xCC: what clone and exchange move
    // into page 0 must differ from what was there. The PMD world's file
    // goes on two pages past its 2 MiB folio, so that EOF does not stop
    // the PMD mapping; so does the small-folio world's, for khugepaged.
    bool pmd = accessor == "pmd", small = !pmd && killer.extra == KillerKind::Extra::khugepaged;
    uint64_t size = pmd || small ? fl::detail::PMD_SIZE + 2 * P : kFileSize;
    std::vector<std::byte> data(size, std::byte{0xAA});
    std::fill(data.begin() + 2 * P, data.begin() + 3 * P, std::byte{0xCC});
    store->write(0, data);
    store_ = store.get();  // the engine holds it behind its own wrapper (nomem_store)
    file = engine.open(std::move(store));
    mm = engine.create_mm();
    bool cow = accessor == "cow";
    writes = accessor == "sharedwrite" || accessor == "write";
    base = mm.mmap(file, 0, size + P, cow || writes ? fl::kProtRead | fl::kProtWrite : fl::kProtRead,
                   cow ? fl::MapType::private_cow : fl::MapType::shared);
    mm2 = engine.create_mm();
    base2 = mm2.mmap(file, 0, 4 * P, fl::kProtRead, fl::MapType::shared);
    // Page 0 cached (not mapped): its fault races the killer's unmap and
    // removal (the map guard); pages 1 and 2 are not cached: their faults
    // race its eviction and block freeing (the creation guard). With
    // `straddle`, pages 0-1 are one folio that a truncate to half a page
    // leaves straddling EOF: a fault on page 1 must see the new size.
    // The PMD world's 2 MiB come in by one write() (readahead reads at most
    // 1 MiB at a time), written back so that the folio is clean.
    // The small-folio world's come in a page at a time.
    if (pmd) {
      file.write(0, {data.data(), fl::detail::PMD_SIZE});
      file.fsync();
    } else if (small) {
      for (uint64_t off = 0; off < fl::detail::PMD_SIZE; off += P) file.readahead(off, P);
    } else {
      file.readahead(0, straddle ? 2 * P : P);
    }
    expected.assign(data.begin(), data.end());
  }
  // The file as the store holds it now (with the world stopped and every
  // CPU done: a store op in flight holds the store's lock).
  std::vector<std::byte> stored() {
    std::vector<std::byte> v(store_->size());
    store_->read(0, v);
    return v;
  }

  // Names for the words a race diagram talks about; only for a BUG's trace
  // (formatting them costs as much as a short execution).
  void name_words() {
    model::clear_names();
    fl::detail::Kernel& k = engine.kernel();
    for (uint64_t pfn = 0; pfn < k.pool.nr_frames(); ++pfn) {
      fl::detail::Folio* f = k.pool.pfn_to_folio(pfn);
      model::name_word(&f->flags, fmt::format("pfn {} flags", pfn));
      model::name_word(&f->refcount, fmt::format("pfn {} refcount", pfn));
      model::name_word(&f->mapcount, fmt::format("pfn {} mapcount", pfn));
      model::name_word(&f->mapping, fmt::format("pfn {} mapping", pfn));
      model::name_word(&f->index, fmt::format("pfn {} index", pfn));
      model::name_word(&f->order, fmt::format("pfn {} order", pfn));
      model::name_word(&f->lock_tickets, fmt::format("pfn {} lock tickets", pfn));
      model::name_object(f, fmt::format("folio of pfn {}", pfn));
    }
    model::name_object(&file.inode()->i_mapping, "i_mapping");
    fl::detail::Inode* inode = file.inode();
    model::name_word(&inode->i_size, "i_size");
    model::name_word(&inode->i_rwsem, "i_rwsem");
    model::name_word(&inode->i_mapping.invalidate_lock, "invalidate_lock");
    model::name_word(&inode->i_mapping.i_mmap_rwsem, "i_mmap_rwsem");
    model::name_word(&inode->i_mapping.private_lock, "private_lock");
    model::name_word(&inode->i_mapping.i_pages.lock, "i_pages lock");
    model::name_word(&inode->i_mapping.nrpages, "nrpages");
    model::name_word(&mm.mm()->mmap_lock, "mmap_lock (mm 1)");
    model::name_word(&mm2.mm()->mmap_lock, "mmap_lock (mm 2)");
    name_guard_words(inode->i_mapping.map_guard_state.get());
    name_guard_words(inode->i_mapping.creation_guard_state.get());
    name_allocated_words();
  }
  // The words a protocol's own state declares (GuardState::name_words).
  static void name_guard_words(const fl::detail::GuardState* state) {
    if (state) state->name_words([](const void* word, std::string name) { model::name_word(word, std::move(name)); });
  }
  // The words the world allocated as it ran: the page-cache slots and the
  // PTEs of the mapped pages (words freed before the end keep their
  // addresses).
  void name_allocated_words() {
    fl::detail::XArray& pages = file.inode()->i_mapping.i_pages;
    for (uint64_t index = 0; index < 4; ++index) {
      auto [words, nodes] = pages.path(index);
      model::name_word(words[0], "i_pages root");
      for (size_t i = 1; i < words.size(); ++i)
        model::name_word(words[i], fmt::format("i_pages slot of page {}{}", index, i + 1 < words.size() ? " (node)" : ""));
      for (size_t i = 0; i < nodes.size(); ++i)
        model::name_object(nodes[i], i + 1 < nodes.size() ? fmt::format("i_pages node {} above page {}", i, index)
                                                          : fmt::format("i_pages leaf node of page {}", index));
    }
    name_ptes(mm, base, 1);
    name_ptes(mm2, base2, 2);
    name_page_tables(mm, 1);
    name_page_tables(mm2, 2);
  }
  // The page tables of `m` as they are now: the directory entries in use,
  // the tables they point to (named where a pointer to one is shown), each
  // leaf table's PTL, and the mm's page_table_lock.
  static void name_page_tables(fl::Mm& m, int id) {
    model::name_word(&m.mm()->page_table_lock, fmt::format("page_table_lock (mm {})", id));
    name_directory(&m.mm()->pgd, 0, id);
  }
  static void name_directory(const fl::detail::PtDir* d, unsigned level, int id) {
    static const char* kLevel[] = {"PGD", "PUD", "PMD", "PTE"};
    for (unsigned i = 0; i < fl::detail::kPtrsPerTable; ++i) {
      void* e = d->entry[i].load(fl::sync::relaxed);
      if (!e) continue;
      model::name_word(&d->entry[i], fmt::format("{} entry {} (mm {})", kLevel[level], i, id));
      if (level < 2) {
        model::name_object(e, fmt::format("{} table (mm {})", kLevel[level + 1], id));
        name_directory(static_cast<const fl::detail::PtDir*>(e), level + 1, id);
      } else if (!(reinterpret_cast<uintptr_t>(e) & fl::detail::PMD_HUGE)) {
        auto* t = static_cast<fl::detail::PteTable*>(e);
        model::name_object(t, fmt::format("PTE table (mm {})", id));
        model::name_word(&t->ptl, fmt::format("PTL (mm {})", id));
      }
    }
  }
  static void name_ptes(fl::Mm& m, uint64_t start, int id) {
    for (uint64_t page = 0; page < 4; ++page) {
      uint64_t addr = start + page * P;
      if (auto* t = m.mm()->pte_table(addr))
        model::name_word(&t->pte[fl::detail::pte_index(addr)], fmt::format("PTE of page {} (mm {})", page, id));
    }
  }
  static fl::Config config(const std::string& protocol, const std::string& accessor, const KillerKind& killer,
                           bool whole_folio) {
    fl::Config c;
    c.frames = 64;
    c.max_folio_order = 1;
    c.protocol = protocol;
    c.fault_around_pages = accessor == "faultaround" ? 4 : 1;
    c.readahead_pages = 1;
    c.map_whole_folio = whole_folio;
    c.per_vma_lock = killer.extra == KillerKind::Extra::munmap;
    if (accessor == "pmd" || killer.extra == KillerKind::Extra::khugepaged) {
      c.frames = 2048;  // a 2 MiB folio and its migration target, or 512 small ones and their collapse
      c.max_folio_order = 9;
      c.pmd_mapping = true;
      // A truncate or punch through the 2 MiB folio zeroes its cut part
      // and keeps it whole, as when the kernel's split fails: splitting it
      // makes 512 folios, every execution thousands of steps longer (a
      // bound-1 cell: 60 s instead of 0.3). The small world's truncate-folio
      // and split cells check the split.
      c.split_on_truncate = false;
    }
    return c;
  }

  fl::Engine engine;
  fl::File file;
  fl::Mm mm, mm2;  // two address spaces (the second for "2faults")
  uint64_t base = 0, base2 = 0;
  std::vector<std::byte> expected;  // the file after the killer (replay's model)
  bool writes = false;               // the accessor writes: the store, not the model, says what the file holds
  bool pair = false;                 // two killers
  // A property the protocol does not claim failed (protocol.h's Claim):
  // said beside the verdict, not a BUG of the protocol.
  std::string unclaimed;
  // Set as the killer returns, read as an access begins: an access that
  // sees it set (with the killer's release) began after the killer
  // returned, on every memory model, and must see the file as it is now.
  fl::sync::Atomic<bool> killer_returned{false};
  bool unmaps = false;               // the killer munmaps pages 0-1 of `mm`: accesses there may fault (SIGSEGV)
  bool atomic = false;               // the killer is an atomic write: its range is seen whole
  fl::MemoryStore* store_ = nullptr;
};

// What a scenario name may be, for the error that names a bad one.
[[noreturn]] void unknown_scenario(const std::string& scenario) {
  std::string killers, accessors, pairs;
  for (const auto& k : kKillers) killers += std::string(killers.empty() ? "" : ", ") + k.name;
  for (const char* a : kAccessors) accessors += std::string(accessors.empty() ? "" : ", ") + a;
  for (const char* p : kKillerPairs) pairs += std::string(pairs.empty() ? "" : ", ") + p;
  throw std::invalid_argument(fmt::format(
      "unknown scenario '{}' (KILLER-vs-ACCESSOR with KILLER one of {} and ACCESSOR one of {}; or a pair of killers: {})",
      scenario, killers, accessors, pairs));
}

const KillerKind& killer_of(const std::string& scenario) {
  for (const auto& k : kKillers)
    if (scenario.rfind(std::string(k.name) + "-vs-", 0) == 0) return k;
  unknown_scenario(scenario);
}

bool is_killer_pair(const std::string& scenario) {
  return std::find(std::begin(kKillerPairs), std::end(kKillerPairs), scenario) != std::end(kKillerPairs);
}

// The accessor, or the second killer of a pair.
std::string accessor_of(const std::string& scenario) {
  std::string a = scenario.substr(scenario.find("-vs-") + 4);
  if (is_killer_pair(scenario)) return a;
  for (const char* k : kAccessors)
    if (a == k) return a;
  unknown_scenario(scenario);
}

const KillerKind& killer_named(const std::string& name) {
  for (const auto& k : kKillers)
    if (name == k.name) return k;
  throw std::invalid_argument("unknown killer '" + name + "'");
}

// The guarantees the world breaks now (empty: none), with it stopped.
// While a writing accessor or a second killer may be mid-way, only the
// mappings are checked; at the end the cache too, against the store when
// the accessor wrote (its writes land in either order with the killer's).
std::string violations(World& w, bool at_end) {
  model::Atomically stop;
  // Where the kernel of early 2026 stopped with a BUG, the engine looks
  // again: the count says the kernel's check would have fired.
  if (uint64_t n = w.engine.stats().split_lookup_races)
    return fmt::format("VM_BUG_ON_FOLIO(!folio_contains(folio, index)): {} fault(s) got back from the page cache a "
                       "folio that does not contain the faulting index (split, or freed and reused, between the "
                       "lookup's load and its reference)",
                       n);
  std::string err = fl::detail::check_mappings(&w.engine.kernel(), false);
  if (!err.empty() || (!at_end && (w.writes || w.pair))) return err;
  err = fl::detail::check_cache(w.file.inode(), w.writes ? w.stored() : w.expected);
  return err.empty() && at_end ? fl::detail::check_refcounts(&w.engine.kernel()) : err;
}

// The oracle inside an execution: a broken guarantee ends it.
void oracle(World& w, const char* when) {
  if (std::string err = violations(w, false); !err.empty()) model::fail(fmt::format("{} ({})", err, when));
}

// munmap, khugepaged and split: the file does not change.
void run_extra_killer(World& w, const KillerKind& k) {
  if (k.extra == KillerKind::Extra::munmap) {
    w.mm.munmap(w.base, k.len);
  } else if (k.extra == KillerKind::Extra::split) {
    w.file.split_huge_pages(k.off, k.len);
  } else {
    w.file.khugepaged_collapse(0);
    if (uint64_t n = w.engine.stats().collapse_mapped_races) {
      std::string bug = fmt::format("VM_BUG_ON_PAGE(page_mapped(page)): collapse_file found {} small folio(s) mapped "
                                    "after it had locked and unmapped them",
                                    n);
      if (w.engine.kernel().protocol.map->claims() & fl::detail::claim_locked_folios_stay_unmapped) model::fail(bug);
      w.unclaimed = bug + " (not claimed: the map guard maps folios without their lock; the collapse backs off, "
                          "as Linux's has since 2022)";
    }
  }
  w.killer_returned.store(true, fl::sync::release);
  model::note(fmt::format("{}() returns", k.name));
  oracle(w, fmt::format("after {}() returned", k.name).c_str());
}

void run_killer(World& w, const KillerKind& k) {
  Op op;
  op.kind = k.op;
  op.off = k.off;
  op.len = k.len;
  op.keep_size = true;
  op.dest = k.dest;
  bool writes = k.op == OpKind::dwrite || k.op == OpKind::write_atomic;
  std::vector<std::byte> data(writes ? k.len : 0, kWritten);
  model::note(fmt::format("{}() begins", k.name));
  if (k.extra != KillerKind::Extra::none) {
    run_extra_killer(w, k);
    return;
  }
  switch (k.op) {
    case OpKind::truncate: w.file.truncate(k.len); break;
    case OpKind::punch_hole: w.file.punch_hole(k.off, k.len); break;
    case OpKind::zero_range: w.file.zero_range(k.off, k.len, true); break;
    case OpKind::collapse_range: w.file.collapse_range(k.off, k.len); break;
    case OpKind::insert_range: w.file.insert_range(k.off, k.len); break;
    case OpKind::dwrite: w.file.direct_write(k.off, data); break;
    case OpKind::write_atomic: w.file.write_atomic(k.off, data); break;
    case OpKind::clone_range: w.file.clone_range(k.off, k.len, k.dest); break;
    case OpKind::exchange_range: w.file.exchange_range(k.off, k.len, k.dest); break;
    case OpKind::dontneed: w.file.fadvise_dontneed(0, 0); break;
    case OpKind::migrate: w.file.migrate(0, 0); break;
    default: w.engine.reclaim(64); break;
  }
  Model m;  // the file as it was, then this killer's op (after the other killer's, in a pair)
  m.apply({0, false, OpKind::write, 0, w.expected.size(), 0}, w.expected);
  m.apply(op, data);
  w.expected = m.read(0, m.size());
  w.killer_returned.store(true, fl::sync::release);
  model::note(fmt::format("{}() returns", k.name));
  oracle(w, fmt::format("after {}() returned", k.name).c_str());
}

// A read() that began after the killer returned returns what the file
// holds now: no old data (G2), nothing past EOF (G5).
void check_read(World& w, std::span<const std::byte> got) {
  const auto& want = w.expected;
  size_t n = std::min<size_t>(want.size(), 3 * P);
  if (got.size() != n)
    model::fail(fmt::format("G5: read() after the killer returned {} bytes, the file has {} from offset 0", got.size(), n));
  for (size_t i = 0; i < n; ++i)
    if (got[i] != want[i])
      model::fail(fmt::format("G2: read() after the killer returned {:#04x} at offset {:#x}, the file holds {:#04x}",
                              std::to_integer<unsigned>(got[i]), i, std::to_integer<unsigned>(want[i])));
}

// A load that began after the killer returned sees what the file holds
// now (G2): not a page the killer took away, through a mapping or a TLB
// entry it left behind (G1 would be the cause).
void check_load(World& w, uint64_t page, std::byte got) {
  if (page * P >= w.expected.size())
    model::fail(fmt::format("G5: a load of file page {} after the killer returned succeeded; EOF is at {:#x}", page,
                            w.expected.size()));
  std::byte want = w.expected.at(page * P);
  if (got != want)
    model::fail(fmt::format("G2: a load of file page {} after the killer returned saw {:#04x}, the file holds {:#04x}",
                            page, std::to_integer<unsigned>(got), std::to_integer<unsigned>(want)));
}

// G2 for an atomic write over pages 0-1, in one CPU's program order: once
// it has seen a byte the write wrote, it sees no old byte of the range.
// (Across CPUs the order of two sightings is not that of their checks, so
// each CPU keeps its own.)
class AtomicSightings {
 public:
  explicit AtomicSightings(const World& w) : on_(w.atomic) {}
  void saw(uint64_t page, std::byte b) {
    if (!on_ || page >= 2) return;
    if (b == kWritten) seen_ = true;
    else if (seen_)
      model::fail(fmt::format("G2: saw {:#04x} in file page {} after the atomic write's {:#04x} in its range",
                              std::to_integer<unsigned>(b), page, std::to_integer<unsigned>(kWritten)));
  }

 private:
  bool on_, seen_ = false;
};

void run_accessor(World& w, const std::string& a, fl::Mm& mm, uint64_t base) {
  std::byte buf[3 * P];
  const bool unmapped = w.unmaps && &mm == &w.mm;  // munmap takes pages 0-1 of this mapping
  AtomicSightings sightings(w);
  try {
    if (a == "read") {
      model::note("read() of the file");
      bool after = w.killer_returned.load(fl::sync::acquire);
      size_t n = w.file.read(0, {buf, sizeof buf});
      if (after) check_read(w, {buf, n});
      for (uint64_t page = 0; page * P < n; ++page) sightings.saw(page, buf[page * P]);
      return;
    }
    if (a == "write") {
      buf[0] = std::byte{0xCC};
      for (uint64_t page = 1; page < 3; ++page) {
        model::note(fmt::format("write() to file page {}", page));
        w.file.write(page * P, {buf, 1});
      }
      return;
    }
    if (a == "readahead") {
      model::note("readahead() of the file");
      w.file.readahead(0, kFileSize);
    }
    buf[0] = std::byte{0xCC};
    for (uint64_t page = 0; page < 2; ++page) {
      if (a == "cow") {
        model::note(fmt::format("store to file page {} (private)", page));
        mm.store(base + page * P, {buf, 1});
      } else if (a == "sharedwrite") {
        model::note(fmt::format("load, then store to file page {} (shared)", page));
        mm.load(base + page * P, {buf + 1, 1});
        mm.store(base + page * P, {buf, 1});
      } else {
        model::note(fmt::format("load from file page {}", page));
        bool after = w.killer_returned.load(fl::sync::acquire);
        mm.load(base + page * P, {buf, 1});
        if (after && unmapped)
          model::fail(fmt::format("G1: a load of file page {} succeeded after munmap() of it returned", page));
        if (after) check_load(w, page, buf[0]);
        sightings.saw(page, buf[0]);
      }
    }
  } catch (const fl::Error& e) {
    if (e.code() == fl::Errc::segv && unmapped) {
      model::note("segmentation fault");
      return;
    }
    if (e.code() != fl::Errc::bus_error) throw;
    model::note("bus error");
  }
}

model::MemoryModel parse_mm(const std::string& s) {
  if (s == "sc") return model::MemoryModel::sc;
  if (s == "tso") return model::MemoryModel::tso;
  if (s == "weak") return model::MemoryModel::weak;
  throw std::invalid_argument("unknown memory model '" + s + "' (sc, tso, weak)");
}

std::string guarantee_of(const std::string& failure) {
  if (failure.rfind("G", 0) == 0 && failure.size() > 1) return failure.substr(0, 2);
  if (failure.rfind("crash:", 0) == 0) return "crash";
  if (failure.rfind("livelock:", 0) == 0) return "livelock";
  if (failure.rfind("refcount:", 0) == 0) return "refcount";
  if (failure.rfind("VM_BUG_ON", 0) == 0) return "VM_BUG_ON";
  return failure.empty() ? "" : "error";
}

// One column per CPU, as in a mailing-list race diagram; the scheduler's
// store-buffer flushes in their own column. A line holds one step, so a
// step longer than its column runs on past it rather than being cut (the
// value at its end is what a reader of the race needs). Unless `full`,
// the steps inside the synchronization primitives themselves (src/sync/:
// lock words, RCU) and the loads of words with no name (the walks down
// page tables and the xarray) are left out, so that the steps on folios,
// PTEs, i_size and the locks stand out; every store and RMW stays.
// A step inside a lock primitive that a reviewer needs: the lock word
// taken, released or waited for ("down_write: takes invalidate_lock").
// Empty for every other step inside the primitives.
std::string lock_event(const model::StepText& st) {
  if (st.word.empty() || (!st.writes && !st.sleeps)) return "";
  std::string fn = st.where.substr(0, st.where.find(' '));
  std::string word = st.word;
  // The folio lock is a bit (PG_locked) of the flags word.
  if (fn.rfind("bit_", 0) == 0 && word.size() > 6 && word.compare(word.size() - 6, 6, " flags") == 0)
    word = "the folio lock of " + word.substr(0, word.size() - 6);
  if (st.sleeps) return fmt::format("{}: waits for {}", fn, word);
  if (fn == "down_write" && st.what.rfind("rmw", 0) == 0) return fmt::format("{}: queues for {}", fn, word);
  static const std::pair<const char*, const char*> kVerbs[] = {
      {"down_read", "takes {} shared"}, {"down_read_trylock", "takes {} shared"}, {"down_write", "takes {}"},
      {"down_write_trylock", "takes {}"}, {"up_read", "releases {} (shared)"}, {"up_write", "releases {}"},
      {"bit_lock", "takes {}"}, {"bit_trylock", "takes {}"}, {"bit_unlock", "releases {}"},
      {"bit_lock_handoff", "asks to be handed {}"}, {"bit_unlock_handoff", "releases {}"},
      {"ticket_lock", "queues for {}"}, {"ticket_trylock", "takes {}"}, {"ticket_unlock", "releases {}"},
      {"lock", "takes {}"}, {"try_lock", "takes {}"}, {"unlock", "releases {}"}};
  for (auto [name, verb] : kVerbs)
    if (fn == name) return fmt::format("{}: {}", fn, fmt::format(fmt::runtime(verb), word));
  return "";
}

std::string format_trace(const model::Outcome& o, bool full) {
  const int width = 66;
  std::string s;
  std::string header;
  for (size_t i = 0; i < o.names.size(); ++i)
    header += fmt::format("{:<{}}", fmt::format("CPU {} ({})", i, o.names[i]), width);
  s += header + "\n" + std::string(header.size(), '-') + "\n";
  size_t in_sync = 0, walks = 0;
  for (const auto& st : model::describe(o)) {
    std::string lock = full ? "" : lock_event(st);
    if (!full && lock.empty() && st.where.find("[sync/") != std::string::npos) {
      ++in_sync;
      continue;
    }
    if (!full && st.unnamed_load) {
      ++walks;
      continue;
    }
    int col = st.fiber < 0 ? static_cast<int>(o.names.size()) : st.fiber;
    std::string text = !lock.empty() ? "-- " + lock : st.where.empty() ? "== " + st.what : st.where + " " + st.what;
    s += std::string(static_cast<size_t>(col) * width, ' ') + text + "\n";
  }
  s += "==> " + (o.failure.empty() ? std::string(o.deadlock ? "deadlock: every CPU is blocked" : "") : o.failure) +
       "\n";
  if (in_sync + walks)
    s += fmt::format("({} steps inside locks, RCU and waits and {} loads of unnamed words left out; --json has every "
                     "step)\n",
                     in_sync, walks);
  return s;
}

// Plants a seeded bug for the life of a cell.
class SeedBug {
 public:
  explicit SeedBug(const std::string& name) {
    using B = fl::detail::SeededBug;
    static const std::map<std::string, B> kBugs = {{"", B::none},
                                                   {"kill_without_unmap", B::kill_without_unmap},
                                                   {"truncate_size_last", B::truncate_size_last},
                                                   {"commit_without_mb", B::commit_without_mb},
                                                   {"commit_wmb", B::commit_wmb},
                                                   {"try_get_relaxed", B::try_get_relaxed},
                                                   {"fault_leaks_ref", B::fault_leaks_ref},
                                                   {"pmd_ignores_eof", B::pmd_ignores_eof},
                                                   {"whole_folio_past_eof", B::whole_folio_past_eof},
                                                   {"no_tlb_flush", B::no_tlb_flush},
                                                   {"munmap_skips_vma_lock", B::munmap_skips_vma_lock},
                                                   {"lookup_recheck_head", B::lookup_recheck_head}};
    auto it = kBugs.find(name);
    if (it == kBugs.end()) {
      std::string known;
      for (const auto& [n, b] : kBugs)
        if (!n.empty()) known += (known.empty() ? "" : ", ") + n;
      throw std::invalid_argument(fmt::format("unknown seeded bug '{}' (one of {})", name, known));
    }
    fl::detail::seeded_bug = it->second;
  }
  ~SeedBug() { fl::detail::seeded_bug = fl::detail::SeededBug::none; }
  SeedBug(const SeedBug&) = delete;
  SeedBug& operator=(const SeedBug&) = delete;
};

// Executions per cell: one to replay; else as many as asked, by default
// 1,000 random or PCT ones, or a bounded search to its end.
uint64_t executions_for(const CheckOptions& opts) {
  if (!opts.replay.empty()) return 1;
  if (opts.executions) return opts.executions;
  return opts.strategy == "exhaustive" ? UINT64_MAX : 1000;
}

model::Reduction reduction(const std::string& name) {
  for (auto r : {model::Reduction::none, model::Reduction::sleep_sets, model::Reduction::dpor})
    if (name == model::reduction_name(r)) return r;
  throw std::invalid_argument("unknown reduction '" + name + "' (dpor, sleep-sets, none)");
}

// With a split depth, the shard is the part of each cell's schedule space.
model::Split split(const CheckOptions& opts) {
  if (opts.split_depth == 0) return {};
  return {opts.split_depth, opts.shard, opts.shards};
}

std::unique_ptr<model::Strategy> make_strategy(const CheckOptions& opts) {
  if (!opts.replay.empty()) return model::make_replay_strategy(opts.replay);
  if (opts.strategy == "random") return model::make_random_strategy(opts.seed);
  if (opts.strategy == "pct") return model::make_pct_strategy(opts.seed, opts.depth, 300);
  if (opts.strategy == "exhaustive")
    return model::make_exhaustive_strategy(opts.bound, opts.reorder_bound, reduction(opts.reduction), split(opts));
  throw std::invalid_argument("unknown strategy '" + opts.strategy + "' (random, pct, exhaustive)");
}

// Every execution builds its world and frees it; the PMD world's are
// megabytes (its store's 2 MiB block, the folio's copies). Freed memory
// stays in the heap for the next execution to reuse: given back to the
// kernel, each one would fault it in again, which took most of a cell's
// time.
void keep_freed_memory() {
  static const bool once = [] {
    ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
    ::mallopt(M_TRIM_THRESHOLD, 1 << 30);
    return true;
  }();
  (void)once;
}

}  // namespace

std::vector<std::string> all_scenarios() {
  std::vector<std::string> v;
  for (const auto& k : kKillers)
    for (const char* a : kAccessors) v.push_back(std::string(k.name) + "-vs-" + a);
  for (const char* pair : kKillerPairs) v.push_back(pair);
  return v;
}

bool big_world(const std::string& scenario) {
  return scenario.ends_with("-vs-pmd") || scenario.starts_with("khugepaged-");
}

std::vector<std::string> all_protocols() {
  std::vector<std::string> v;
  for (const auto& m : fl::detail::map_guard_names()) v.push_back(m + "+invalidate_lock");
  v.push_back("page_lock");  // no creation guard: Linux up to 5.14
  return v;
}

// A stopped world holds locks and references: it cannot be torn down.
// Keep it (and so everything its fibers point to) until the process ends.
static void keep_world(std::unique_ptr<World> world) {
  static auto* abandoned = new std::vector<std::unique_ptr<World>>;  // never destroyed
  abandoned->push_back(std::move(world));
}

// How often a running cell says how it is getting on (on_progress).
constexpr double kProgressEvery = 5;

Cell check_cell(const std::string& protocol, const std::string& scenario, const std::string& mm_name,
                const CheckOptions& opts) {
  const KillerKind& killer = killer_of(scenario);
  std::string accessor = accessor_of(scenario);
  model::MemoryModel mm = parse_mm(mm_name);
  fl::detail::make_protocol(protocol);  // an unknown name throws here, once
  auto strategy = make_strategy(opts);
  keep_freed_memory();
  SeedBug plant(opts.seeded_bug);
  Cell cell;
  cell.protocol = protocol;
  cell.scenario = scenario;
  cell.memory_model = mm_name;
  cell.strategy = opts.replay.empty() ? opts.strategy : "replay";
  cell.verdict = "PASSED";
  bool exhaustive = opts.replay.empty() && opts.strategy == "exhaustive";
  if (exhaustive) cell.bound = static_cast<int>(opts.bound);
  if (exhaustive && opts.split_depth > 0) {
    cell.part = opts.shard;
    cell.parts = opts.shards;
  }
  auto t0 = std::chrono::steady_clock::now();
  double told = 0;  // when on_progress was last called
  uint64_t n = executions_for(opts);
  for (uint64_t e = 0; e < n; ++e) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (opts.seconds > 0 && secs > opts.seconds) break;
    if (opts.on_progress && secs >= told + kProgressEvery) {
      told = secs;
      opts.on_progress({cell.executions, secs, exhaustive ? strategy->explored() : -1});
    }
    strategy->begin(static_cast<unsigned>(e));
    auto world = std::make_unique<World>(protocol, accessor, killer, opts.whole_folio);
    World* w = world.get();
    std::vector<std::pair<std::string, std::function<void()>>> cpus;
    w->pair = is_killer_pair(scenario);
    w->atomic = killer.op == OpKind::write_atomic;
    w->unmaps = killer.extra == KillerKind::Extra::munmap;
    if (w->pair) {
      std::byte b;
      w->mm.load(w->base, {&b, 1});  // page 0 mapped before the killers start
      const KillerKind& second = killer_named(accessor);
      cpus.push_back({second.name, [w, &second] { run_killer(*w, second); }});
    } else if (accessor == "2faults") {
      cpus.push_back({"fault, mm 1", [w] { run_accessor(*w, "fault", w->mm, w->base); }});
      cpus.push_back({"fault, mm 2", [w] { run_accessor(*w, "fault", w->mm2, w->base2); }});
    } else {
      cpus.push_back({accessor, [w, &accessor] { run_accessor(*w, accessor, w->mm, w->base); }});
    }
    cpus.push_back({killer.name, [w, &killer] { run_killer(*w, killer); }});
    model::Outcome o = model::run(cpus, *strategy, mm, 200000);
    if (std::string why = strategy->misfit(); !why.empty())
      throw std::invalid_argument(fmt::format("--replay '{}' is not a schedule of {} / {} / {}: {}", opts.replay,
                                              protocol, scenario, mm_name, why));
    if (cell.unclaimed.empty()) cell.unclaimed = w->unclaimed;
    if (strategy->skipping()) {  // another part's: it only found where the next prefix begins
      if (!strategy->next()) {
        cell.verdict = "VERIFIED";
        break;
      }
      if (!o.failure.empty() || o.deadlock || o.step_limit) keep_world(std::move(world));
      continue;
    }
    ++cell.executions;
    cell.steps += o.steps;
    strategy->observe(o.steps);
    if (o.failure.empty() && !o.deadlock && !o.step_limit) {
      std::string err = violations(*w, true);
      if (err.empty()) {
        if (!strategy->next()) {  // the bounded search is complete
          cell.verdict = "VERIFIED";
          break;
        }
        continue;
      }
      o.failure = err + " (at the end)";
    }
    keep_world(std::move(world));
    // A spin that never ends (a fault busy-retrying instead of sleeping)
    // only shows as an execution that runs out of steps: a BUG too.
    if (o.step_limit && o.failure.empty())
      o.failure = fmt::format("livelock: no end after {} steps (a CPU retries without waiting)", o.steps);
    cell.verdict = "BUG";
    cell.guarantee = o.deadlock ? "deadlock" : guarantee_of(o.failure);
    cell.failure = o.deadlock ? "deadlock: every CPU is blocked" : o.failure;
    cell.schedule = o.schedule;
    cell.bug_prefix = strategy->prefix();
    w->name_words();
    cell.trace = format_trace(o, false);
    cell.full_trace = format_trace(o, true);
    break;
  }
  cell.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return cell;
}

namespace {

// Throws std::invalid_argument for an unknown name, before any cell runs.
void validate(const CellKey& k) {
  killer_of(k.scenario);
  accessor_of(k.scenario);
  parse_mm(k.memory_model);
  fl::detail::make_protocol(k.protocol);
}


}  // namespace

// The names a list of names and shell patterns ('*-vs-2faults') stands
// for, in the order of `all` for a pattern; empty: all of them.
static std::vector<std::string> expand(const std::vector<std::string>& given, const std::vector<std::string>& all,
                                const char* what) {
  if (given.empty()) return all;
  std::vector<std::string> v;
  for (const auto& g : given) {
    if (g.find_first_of("*?[") == std::string::npos) {
      v.push_back(g);
      continue;
    }
    size_t before = v.size();
    for (const auto& a : all)
      if (::fnmatch(g.c_str(), a.c_str(), 0) == 0) v.push_back(a);
    if (v.size() == before) throw std::invalid_argument(fmt::format("no {} matches '{}'", what, g));
  }
  return v;
}

namespace {


}  // namespace

int run_check(const CheckOptions& opts, std::ostream& out, std::ostream& err) {
  std::vector<std::string> protocols, scenarios;
  try {
    protocols = expand(opts.protocols, all_protocols(), "protocol");
    scenarios = expand(opts.scenarios, all_scenarios(), "scenario");
  } catch (const std::invalid_argument& e) {
    err << "faultline check: " << e.what() << "\n";
    return 2;
  }
  std::vector<std::string> mms = opts.memory_models.empty() ? std::vector<std::string>{"sc", "tso", "weak"}
                                                            : opts.memory_models;
  std::vector<CellKey> all, keys;
  for (const auto& p : protocols)
    for (const auto& s : scenarios)
      for (const auto& m : mms) all.push_back({p, s, m});
  std::vector<uint64_t> places;  // of `keys` in `all`
  for (uint64_t i = 0; i < all.size(); ++i)
    if (opts.split_depth > 0 || i % opts.shards == opts.shard) {
      keys.push_back(all[i]);
      places.push_back(i);
    }
  std::vector<Cell> cells;
  auto t0 = std::chrono::steady_clock::now();
  try {
    for (const auto& k : keys) validate(k);
    JsonStream json(opts.json);
    cells = run_cells(keys, opts, err, [&](size_t i, Cell& c) {
      c.index = places[i];
      c.of = all.size();
      json.add(c);
    });
    json.finish();
  } catch (const std::exception& e) {
    err << "\nfaultline check: " << e.what() << "\n";
    return 2;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return print_table(cells, secs, opts.traces, out) ? 1 : 0;
}

}  // namespace faultline_check
