// src/mm/memory.cc — page tables, the MMU, page faults and zapping.
//
// Owns: the page-table walk, Mm::load/store (the MMU: a lockless walk inside
// an RCU read-side section, so that a killer's grace period is the TLB
// shootdown), handle_mm_fault and its cases (read fault with fault-around,
// shared write fault, copy-on-write, write-protect fault, migration-entry
// wait), zapping PTE ranges, and the mmu_gather that frees zapped folios only
// after the shootdown (G3).
//
// Locks: mmap_lock shared across a fault; the protocol's map guard around
// mapping a page-cache folio; the PTL of the leaf table around every PTE
// change. A PTE change is a release store, paired with the MMU's acquire
// load, so an access through a new PTE sees the folio's contents.
#include <algorithm>
#include <new>

#include <fmt/format.h>

#include "faultline/error.h"
#include "mm/internal.h"
#include "mm/seeded_bug.h"
#include "sync/cpu_local.h"
#include "sync/racy.h"
#include "sync/rcu.h"

namespace faultline::detail {

static std::string fmt_bus_error(uint64_t addr, uint64_t size) {
  return fmt::format("bus error: access at {:#x} is to a page wholly past EOF (file size {})", addr, size);
}
static std::string fmt_segv(uint64_t addr, const char* why) {
  return fmt::format("segmentation fault: access at {:#x}: {}", addr, why);
}

// ---- page tables --------------------------------------------------------

namespace {
constexpr unsigned kLevelShift[3] = {39, 30, 21};
unsigned dir_index(uint64_t addr, unsigned level) { return (addr >> kLevelShift[level]) & (kPtrsPerTable - 1); }

void free_tables(void* e, unsigned level) {
  if (!e) return;
  if (level == 3) {
    if (!pmd_huge(e)) delete static_cast<PteTable*>(e);
    return;
  }
  auto* d = static_cast<PtDir*>(e);
  for (auto& x : d->entry) free_tables(x.load(sync::relaxed), level + 1);
  delete d;
}
}  // namespace

// Each MmStruct's generations start 2^32 past the last one's.
static sync::Atomic<uint64_t> g_tlb_gen_base{0};

MmStruct::MmStruct(Kernel* k, uint64_t mm_id)
    : kernel(k), id(mm_id), tlb_gen(g_tlb_gen_base.fetch_add(uint64_t{1} << 32, sync::relaxed)) {}

MmStruct::~MmStruct() {
  for (auto& e : pgd.entry) free_tables(e.load(sync::relaxed), 1);
  delete vma_index.load(sync::relaxed);
}

Vma* VmaIndex::find(uint64_t addr) const {
  auto it = std::upper_bound(by_start.begin(), by_start.end(), addr,
                             [](uint64_t a, const Vma* v) { return a < v->start; });
  if (it == by_start.begin()) return nullptr;
  Vma* v = *--it;
  return addr < v->end ? v : nullptr;
}

sync::Atomic<void*>* MmStruct::pmd_slot(uint64_t addr) const {
  const PtDir* d = &pgd;
  for (unsigned level = 0; level < 2; ++level) {
    void* e = d->entry[dir_index(addr, level)].load(sync::acquire);
    if (!e) return nullptr;
    d = static_cast<const PtDir*>(e);
  }
  return const_cast<sync::Atomic<void*>*>(&d->entry[dir_index(addr, 2)]);
}

// The entry of `slot`, allocated if empty: a directory, or a leaf table.
static void* populate(MmStruct* mm, sync::Atomic<void*>& slot, bool leaf) {
  void* e = slot.load(sync::acquire);
  if (e) return e;
  sync::Guard<sync::SpinLock> g(mm->page_table_lock);
  e = slot.load(sync::relaxed);
  if (!e) {
    e = leaf ? static_cast<void*>(new PteTable) : static_cast<void*>(new PtDir);
    slot.store(e, sync::release);
  }
  return e;
}

sync::Atomic<void*>* MmStruct::pmd_alloc(uint64_t addr) {
  PtDir* d = &pgd;
  for (unsigned level = 0; level < 2; ++level) d = static_cast<PtDir*>(populate(this, d->entry[dir_index(addr, level)], false));
  return &d->entry[dir_index(addr, 2)];
}

PteTable* MmStruct::pte_table(uint64_t addr) const {
  sync::Atomic<void*>* slot = pmd_slot(addr);
  void* e = slot ? slot->load(sync::acquire) : nullptr;
  return pmd_huge(e) ? nullptr : static_cast<PteTable*>(e);
}

PteTable* MmStruct::pte_alloc(uint64_t addr) {
  void* e = populate(this, *pmd_alloc(addr), true);
  return pmd_huge(e) ? nullptr : static_cast<PteTable*>(e);
}

Vma* MmStruct::find_vma(uint64_t addr) const {
  auto it = vmas.upper_bound(addr);
  if (it == vmas.begin()) return nullptr;
  --it;
  Vma* v = it->second.get();
  return addr < v->end ? v : nullptr;
}

// ---- the TLB and the shootdown -------------------------------------------

// The MMU's TLB (Config::soft_tlb): per CPU, 512 entries direct-mapped by
// virtual page (2 MiB of reach, as a second-level TLB has a few). An entry
// holds where the walk found the page and the mm's tlb_gen read before that
// walk; a hit needs the generation unchanged, checked inside the same RCU
// read-side section as the access, so a killer's grace period waits for
// accesses through entries exactly as for walks (G1, G3). Plain data,
// zero-initialized: a thread's TLB costs no constructor on its hot path.
namespace {
struct TlbEntry {
  const MmStruct* mm;
  uint64_t vpn, gen;
  std::byte* page;
  bool write;
};
struct Tlb {
  static constexpr unsigned kEntries = 512, kHugeEntries = 16;
  TlbEntry entry[kEntries];
  TlbEntry huge[kHugeEntries];  // PMD mappings: vpn is addr >> 21, page the first of 512
  TlbEntry& slot(uint64_t vpn) { return entry[vpn % kEntries]; }
  TlbEntry& huge_slot(uint64_t hvpn) { return huge[hvpn % kHugeEntries]; }
};

bool tlb_match(const TlbEntry& e, const MmStruct* mm, uint64_t vpn, uint64_t gen, bool write) {
  return e.mm == mm && e.vpn == vpn && e.gen == gen && (e.write || !write);
}
}  // namespace

// flush_tlb_mm: every translation of `mm` cached before this is dead. A
// release RMW after the PTE changes it covers: whoever sees the new
// generation sees them too.
void flush_tlb_mm(MmStruct* mm) {
  if (!FL_SEEDED(no_tlb_flush)) mm->tlb_gen.fetch_add(1, sync::seq_cst);
}

size_t MmuGather::make_room(size_t want, MmStruct* zapped) {
  size_t have = room();
  if (have >= want) return want;
  try {
    size_t need = more_.size() + (want - (kLocal - nlocal_));  // the local slots fill first
    more_.reserve(std::max(2 * more_.capacity(), need));
    return want;
  } catch (const std::bad_alloc&) {
    if (have == 0) {
      if (zapped) flush_tlb_mm(zapped);  // no TLB entry may outlive the frames freed next
      finish();  // out of memory: free our own slots (force_flush)
      have = room();
    }
    return std::min(want, have);
  }
}

void MmuGather::add(Folio* f, int32_t nr) {
  Entry* back = !more_.empty() ? &more_.back() : nlocal_ ? &local_[nlocal_ - 1] : nullptr;
  if (back && back->first == f) back->second += nr;
  else if (nlocal_ < kLocal) local_[nlocal_++] = {f, nr};
  else more_.emplace_back(f, nr);
}

void MmuGather::put_all() {
  for (size_t i = 0; i < nlocal_; ++i) folio_put_refs(local_[i].first, local_[i].second);
  for (auto [f, nr] : more_) folio_put_refs(f, nr);
  nlocal_ = 0;
  more_.clear();
}

void MmuGather::finish() {
  if (nlocal_ == 0) return;  // more_ fills only after the local slots
  sync::synchronize_rcu();
  Counters::inc(kernel_->stats.shootdowns);
  put_all();
}

void MmuGather::finish_deferred() {
  if (nlocal_ == 0) return;
  try {
    std::vector<Entry> all(local_.begin(), local_.begin() + static_cast<ptrdiff_t>(nlocal_));
    all.insert(all.end(), more_.begin(), more_.end());
    sync::call_rcu([all = std::move(all)] {
      for (auto [f, nr] : all) folio_put_refs(f, nr);
    });
  } catch (const std::bad_alloc&) {
    finish();  // no memory for the callback: wait for the grace period here
    return;
  }
  nlocal_ = 0;
  more_.clear();
}

// A reference dropped by the fault path after a PTE that held it was
// replaced: readers through the old PTE may still run, so wait a grace
// period, without blocking the fault.
static void folio_put_deferred(Folio* f) {
  sync::call_rcu([f] { folio_put(f); });
}

// ---- faults ------------------------------------------------------------

namespace {

enum class VmFault { done, retry, sigbus, segv_nomap, segv_access, fallback };

struct Vmf {
  MmStruct* mm;
  Vma* vma;
  uint64_t addr;  // page aligned
  pgoff_t pgoff;
  bool write;
  PteTable* pt;
  sync::Atomic<pte_t>* pte;
  Inode* inode;
  AddressSpace* mapping;
  Kernel* kernel;
  MapGuard* guard;
  MapAttempt attempt;  // this fault's pass through the map guard (wait = true)
};

std::byte* page_address(const Kernel* k, pte_t p) { return k->pool.frame_address(pte_pfn(p) + pte_page(p)); }

// page_add_file_rmap: the reference and the map count a PTE will hold,
// taken under the PTL before the PTE is written (as do_set_pte orders
// them), so that a killer that sees the folio unmapped knows no PTE to it
// can appear without the map guard's commit seeing the kill.
// `nr` PTEs at once (fault-around): two atomics, not two per page.
void rmap_add(Folio* folio, int32_t nr) {
  folio_ref_add(folio, nr);
  folio->mapcount.fetch_add(nr, sync::relaxed);
}
// Undoes rmap_add when the guard refused: no PTE was ever visible, and the
// caller's own reference keeps the count above zero.
void rmap_undo(Folio* folio, int32_t nr) {
  folio->mapcount.fetch_sub(nr, sync::relaxed);
  folio_ref_sub(folio, nr);
}

// page_mkwrite's folio lock for a write fault on a shared mapping, unless
// the map guard holds it already: dirtying must exclude writeback, which
// cleans the folio under its lock. Taken before the map guard (folio lock
// before i_mmap_rwsem, as in mm/rmap.c).
bool mkwrite_lock(Vmf& vmf, Folio* f) {
  if (vmf.guard->holds_folio_lock()) return true;
  folio_lock(f);
  if (f->mapping.load(sync::acquire) == vmf.mapping) return true;
  folio_unlock(f);
  return false;
}
void mkwrite_unlock(Vmf& vmf, Folio* f) {
  if (!vmf.guard->holds_folio_lock()) folio_unlock(f);
}

// do_sync_mmap_readahead: a miss reads around the fault unless faults on
// this file keep missing (mmap_miss past MMAP_LOTSAMISS: random access,
// where reading around only evicts what the next fault needs). A hit pays
// a miss back. `miss` is the hint as read once by the fault. Pages mapped
// besides the faulting one pay nothing back: Linux's filemap_map_pages
// does, but only for folios not in the workingset (not refaulted after
// eviction), which faultline does not track; paying back for all of them
// kept readahead on under thrashing (giant_db: 8x slower).
constexpr uint32_t MMAP_LOTSAMISS = 100;

pgoff_t fault_ra_pages(const Vmf& vmf, uint32_t miss) {
  if (miss > MMAP_LOTSAMISS) return 1;
  return std::max<pgoff_t>(vmf.kernel->config.readahead_pages, 1);
}

void account_mmap_miss(Vmf& vmf, uint32_t miss, bool missed) {
  if (missed && miss < 10 * MMAP_LOTSAMISS) vmf.mapping->mmap_miss.set(miss + 1);
  else if (!missed && miss > 0) vmf.mapping->mmap_miss.set(miss - 1);
}

// filemap_fault: a referenced folio for vmf->pgoff that the map guard let
// us map (and, for `mkwrite`, locked), or sigbus/retry. Creates and reads it
// in on a miss.
VmFault filemap_fault(Vmf& vmf, Folio** out, bool mkwrite) {
  Inode* inode = vmf.inode;
  if (vmf.pgoff >= pages_of(inode->size())) return VmFault::sigbus;
  uint32_t miss = vmf.mapping->mmap_miss.get();
  pgoff_t ra = fault_ra_pages(vmf, miss);
  pgoff_t ra_start = vmf.pgoff >= ra / 2 ? vmf.pgoff - ra / 2 : 0;
  if (vmf.pgoff == vmf.mapping->mmap_ra_next.get()) ra_start = vmf.pgoff;  // sequential: ahead, not around
  // A mapping that takes PMD mappings reads ahead the aligned 2 MiB around
  // the fault, as one folio where it can (do_sync_mmap_readahead with
  // VM_HUGEPAGE).
  if (vma_pmd_mappable(vmf.vma) && ra >= kPtrsPerTable) {
    ra_start = vmf.pgoff & ~pgoff_t{kPtrsPerTable - 1};
    ra = kPtrsPerTable;
  }
  bool missed = false;
  Folio* f = nullptr;
  try {
    f = filemap_get_uptodate(inode, vmf.pgoff, ra_start, ra, &missed);
  } catch (const Error& e) {  // the read-in failed: VM_FAULT_SIGBUS, as filemap_fault says
    if (e.code() != Errc::io_error) throw;
    throw Error(Errc::bus_error, fmt::format("bus error: file page {} could not be read in: {}", vmf.pgoff, e.what()));
  }
  account_mmap_miss(vmf, miss, missed);
  if (missed && ra > 1) vmf.mapping->mmap_ra_next.set(ra_start + ra);
  if (!f) return VmFault::sigbus;
  // Our reference keeps the folio from being split from here on; a split
  // between the lookup and the reference would show here (the kernel's
  // VM_BUG_ON_FOLIO(!folio_contains(folio, index)), reached in 2026).
  if (!folio_contains(f, vmf.pgoff)) {
    Counters::inc(vmf.kernel->stats.split_lookup_races);
    folio_put(f);
    return VmFault::retry;
  }
  if (mkwrite && !mkwrite_lock(vmf, f)) {
    folio_put(f);
    return VmFault::retry;
  }
  if (!vmf.guard->map_begin(*vmf.mapping, *f, vmf.attempt)) {
    if (mkwrite) mkwrite_unlock(vmf, f);
    folio_put(f);
    return VmFault::retry;
  }
  *out = f;
  return VmFault::done;
}

// Undoes filemap_fault's guard (and mkwrite lock) and reference.
void fault_release(Vmf& vmf, Folio* f, bool mkwrite) {
  vmf.guard->map_end(*vmf.mapping, *f, vmf.attempt);
  if (mkwrite) mkwrite_unlock(vmf, f);
  if (!FL_SEEDED(fault_leaks_ref)) folio_put(f);
}

// The file pages of folio `f` that one fault may map: inside the VMA, the
// leaf table of the fault and below `eof` (in pages, read under the PTL:
// never a PTE past i_size, the rule generic/749 checks). Empty if lo > hi.
struct PageRange {
  pgoff_t lo, hi;
};
PageRange folio_map_range(const Vmf& vmf, const Folio* f, pgoff_t eof) {
  uint64_t table_start = vmf.addr & ~((uint64_t{kPtrsPerTable} << PAGE_SHIFT) - 1);
  pgoff_t table_lo = vmf.vma->index_of(std::max(vmf.vma->start, table_start));
  pgoff_t table_hi = vmf.vma->index_of(std::min(vmf.vma->end, table_start + (uint64_t{kPtrsPerTable} << PAGE_SHIFT)) - 1);
  pgoff_t fstart = f->first_index();
  pgoff_t lo = std::max(fstart, table_lo);
  pgoff_t hi = std::min(fstart + f->nr_pages() - 1, table_hi);
  if (FL_SEEDED(whole_folio_past_eof)) return {lo, hi};
  if (eof == 0) return {1, 0};
  return {lo, std::min(hi, eof - 1)};
}

// Maps folio `f` at file pages [lo, hi], under the PTL and the map guard:
// take the map counts of the empty PTEs, let the guard commit, then write
// them (the PTL keeps the set of empty ones fixed): one reference and map
// count batch per folio, not per page. Returns the number of PTEs written.
// `a`: the pass through the map guard that map_begin began.
static uint64_t map_empty_ptes(Vmf& vmf, Folio* f, pgoff_t lo, pgoff_t hi, bool write, MapAttempt& a) {
  auto pte_of = [&](pgoff_t i) { return &vmf.pt->pte[pte_index(vmf.vma->addr_of(i))]; };
  int32_t empty = 0;
  for (pgoff_t i = lo; i <= hi; ++i) empty += pte_of(i)->load(sync::relaxed) == 0;
  if (empty == 0) return 0;
  rmap_add(f, empty);
  if (!vmf.guard->map_commit(*vmf.mapping, *f, a)) {
    rmap_undo(f, empty);
    return 0;
  }
  pgoff_t fstart = f->first_index();
  for (pgoff_t i = lo; i <= hi; ++i)
    if (pte_of(i)->load(sync::relaxed) == 0) pte_of(i)->store(mk_pte(f, i - fstart, write), sync::release);
  return static_cast<uint64_t>(empty);
}

// finish_fault for a page-cache folio, with the map guard held. i_size is
// read under the PTL: a truncate that shrank it before we look zaps this
// PTE table after we let go of it, so either we see the new size or it
// sees our PTE (G5, whatever the protocol). With Config::map_whole_folio
// (Linux 6.18) it maps every page of the folio that folio_map_range allows
// and that has no PTE yet; a write fault maps them writable, since the
// folio, dirty as a whole, was dirtied by it.
VmFault finish_fault(Vmf& vmf, Folio* f, bool write) {
  sync::Guard<sync::SpinLock> ptl(vmf.pt->ptl);
  if (vmf.pte->load(sync::relaxed) != 0) return VmFault::done;  // raced; the MMU retries
  pgoff_t eof = pages_of(vmf.inode->size());
  if (vmf.pgoff >= eof) return VmFault::sigbus;
  PageRange r{vmf.pgoff, vmf.pgoff};
  if (vmf.kernel->config.map_whole_folio) r = folio_map_range(vmf, f, eof);
  return map_empty_ptes(vmf, f, r.lo, r.hi, write, vmf.attempt) ? VmFault::done : VmFault::retry;
}

// filemap_map_pages: maps the cached, uptodate, unlocked folios around the
// fault without sleeping. Stays inside the VMA, the leaf table and EOF.
void do_fault_around(Vmf& vmf) {
  pgoff_t nr = vmf.kernel->config.fault_around_pages;
  pgoff_t first = vmf.pgoff & ~(nr - 1);
  uint64_t table_start = vmf.addr & ~((uint64_t{kPtrsPerTable} << PAGE_SHIFT) - 1);
  first = std::max({first, vmf.vma->pgoff, vmf.vma->index_of(std::max(vmf.vma->start, table_start))});
  pgoff_t last = std::min({first + nr - 1, vmf.vma->last_index(),
                           vmf.vma->index_of(table_start) + kPtrsPerTable - 1});
  pgoff_t eof = pages_of(vmf.inode->size());
  if (eof == 0) return;
  last = std::min(last, eof - 1);
  pgoff_t index = first;
  while (index <= last) {
    Folio* f = filemap_get_next_folio(vmf.mapping, &index, last);
    if (!f) break;
    pgoff_t fstart = f->first_index(), fend = fstart + f->nr_pages() - 1;
    MapAttempt around{.wait = false};
    if (f->test(PG_uptodate) && !f->test(PG_locked) && vmf.guard->map_begin(*vmf.mapping, *f, around)) {
      sync::Guard<sync::SpinLock> ptl(vmf.pt->ptl);
      // EOF under the PTL, as in finish_fault; with map_whole_folio the
      // folio's pages outside the window too (filemap_map_pages, 6.18).
      PageRange r = folio_map_range(vmf, f, pages_of(vmf.inode->size()));
      if (!vmf.kernel->config.map_whole_folio) r = {std::max(r.lo, first), std::min(r.hi, last)};
      if (r.lo <= r.hi) Counters::inc(vmf.kernel->stats.fault_around_maps, map_empty_ptes(vmf, f, r.lo, r.hi, false, around));
      vmf.guard->map_end(*vmf.mapping, *f, around);
    }
    folio_put(f);
    index = fend + 1;
  }
}

VmFault do_read_fault(Vmf& vmf) {
  if (vmf.kernel->config.fault_around_pages > 1) {
    do_fault_around(vmf);
    if (pte_present(vmf.pte->load(sync::acquire))) return VmFault::done;
  }
  Folio* f;
  VmFault r = filemap_fault(vmf, &f, false);
  if (r != VmFault::done) return r;
  r = finish_fault(vmf, f, false);
  fault_release(vmf, f, false);
  return r;
}

// A write fault on a shared mapping with no PTE: dirty the folio, map it
// writable (do_shared_fault with page_mkwrite).
VmFault do_shared_fault(Vmf& vmf) {
  Folio* f;
  VmFault r = filemap_fault(vmf, &f, true);
  if (r != VmFault::done) return r;
  folio_mark_dirty(f);
  r = finish_fault(vmf, f, true);
  fault_release(vmf, f, true);
  return r;
}

Folio* alloc_anon_page(Kernel* k) {
  unsigned got;
  Folio* a = k->alloc_folio(0, false, &got);
  a->set(PG_anon | PG_uptodate);
  return a;
}

// Installs a private copy under the PTL if the PTE is still `expected`;
// consumes the anonymous folio's reference either way. A copy into an
// empty PTE (`check_eof`) reads i_size under the PTL, as finish_fault
// does: a truncate's last unmap (even_cows) takes this PTL after it shrank
// i_size, so either it zaps the copy or the fault sees the new size (G5).
// A copy that replaces a PTE of the file page needs no check: the
// unchanged PTE shows that no unmap has passed it. No map guard commit:
// the copy is not the folio, and a copy taken while a killer ran is a
// write ordered before the kill (a hole punch keeps private copies).
VmFault install_anon(Vmf& vmf, Folio* anon, pte_t expected, bool check_eof) {
  sync::Guard<sync::SpinLock> ptl(vmf.pt->ptl);
  VmFault r = VmFault::done;
  if (vmf.pte->load(sync::relaxed) != expected) r = VmFault::retry;
  else if (check_eof && vmf.pgoff >= pages_of(vmf.inode->size())) r = VmFault::sigbus;
  if (r != VmFault::done) {
    folio_put(anon);
    return r;
  }
  anon->mapcount.store(1, sync::relaxed);
  vmf.pte->store(mk_pte(anon, 0, true), sync::release);
  if (expected) flush_tlb_mm(vmf.mm);  // other CPUs may hold the read-only file page
  return r;
}

// A write fault on a private mapping with no PTE (do_cow_fault): copy the
// file page under the map guard, then map the copy (see install_anon).
VmFault do_cow_fault(Vmf& vmf) {
  Folio* anon = alloc_anon_page(vmf.kernel);
  Folio* f;
  VmFault r = filemap_fault(vmf, &f, false);
  if (r != VmFault::done) {
    folio_put(anon);
    return r;
  }
  sync::copy_racy(anon->address(), f->address() + ((vmf.pgoff - f->first_index()) << PAGE_SHIFT), PAGE_SIZE);
  r = install_anon(vmf, anon, 0, true);
  fault_release(vmf, f, false);
  return r;
}

// A write to a read-only PTE of a private mapping: copy the page-cache page
// (do_wp_page). The PTL decides: if the PTE changed meanwhile, retry.
VmFault do_cow_wp(Vmf& vmf, pte_t orig) {
  Folio* anon = alloc_anon_page(vmf.kernel);
  Folio* f = vmf.kernel->pool.pfn_to_folio(pte_pfn(orig));
  {
    sync::Guard<sync::SpinLock> ptl(vmf.pt->ptl);
    if (vmf.pte->load(sync::relaxed) != orig) {
      folio_put(anon);
      return VmFault::retry;
    }
    folio_get(f);
  }
  sync::copy_racy(anon->address(), page_address(vmf.kernel, orig), PAGE_SIZE);
  if (install_anon(vmf, anon, orig, false) == VmFault::done) {
    f->mapcount.fetch_sub(1, sync::relaxed);
    folio_put_deferred(f);  // the old PTE's reference
  }
  folio_put(f);
  return VmFault::done;
}

// A write to a read-only entry of a shared mapping (do_shared_wp with
// page_mkwrite): `entry` is the atomic word (a PTE, or a PMD slot), `lock`
// its lock, `orig` the read-only value seen. Under the map guard, dirty
// the folio, then make the entry writable if it is still `orig`.
template <class Word>
VmFault shared_wp(Vmf& vmf, Folio* f, sync::SpinLock& lock, sync::Atomic<Word>* entry, Word orig, Word writable) {
  {
    sync::Guard<sync::SpinLock> g(lock);
    if (entry->load(sync::relaxed) != orig) return VmFault::retry;
    folio_get(f);
  }
  VmFault r = VmFault::retry;
  if (mkwrite_lock(vmf, f)) {
    if (vmf.guard->map_begin(*vmf.mapping, *f, vmf.attempt)) {
      if (vmf.pgoff >= pages_of(vmf.inode->size())) {
        r = VmFault::sigbus;
      } else {
        folio_mark_dirty(f);
        sync::Guard<sync::SpinLock> g(lock);
        if (entry->load(sync::relaxed) == orig) entry->store(writable, sync::release);
        r = VmFault::done;
      }
      vmf.guard->map_end(*vmf.mapping, *f, vmf.attempt);
    }
    mkwrite_unlock(vmf, f);
  }
  folio_put(f);
  return r;
}

VmFault do_shared_wp(Vmf& vmf, pte_t orig) {
  return shared_wp(vmf, vmf.kernel->pool.pfn_to_folio(pte_pfn(orig)), vmf.pt->ptl, vmf.pte, orig, orig | PTE_WRITE);
}

VmFault do_fault_locked(Vmf& vmf) {
  pte_t p = vmf.pte->load(sync::acquire);
  if (pte_present(p)) {
    if (!vmf.write || pte_write(p)) return VmFault::done;
    return vmf.vma->shared ? do_shared_wp(vmf, p) : do_cow_wp(vmf, p);
  }
  if (!vmf.write) return do_read_fault(vmf);
  return vmf.vma->shared ? do_shared_fault(vmf) : do_cow_fault(vmf);
}

// ---- PMD mappings (Config::pmd_mapping) --------------------------------

// do_set_pmd: maps PMD-sized folio `f` with the one entry `slot`, if the
// slot is still empty. Under page_table_lock, which a zap of the slot
// takes too: i_size read under it is the size a truncate's zap will see
// us by (G5, as the PTL for a PTE); the whole folio must lie below EOF.
VmFault do_set_pmd(Vmf& vmf, sync::Atomic<void*>* slot, Folio* f) {
  sync::Guard<sync::SpinLock> g(vmf.mm->page_table_lock);
  void* e = slot->load(sync::relaxed);
  if (pmd_huge(e)) return VmFault::done;  // another fault made it
  bool past_eof = f->first_index() + f->nr_pages() > pages_of(vmf.inode->size()) && !FL_SEEDED(pmd_ignores_eof);
  if (e || past_eof) return VmFault::fallback;
  auto nr = static_cast<int32_t>(f->nr_pages());
  rmap_add(f, nr);
  if (!vmf.guard->map_commit(*vmf.mapping, *f, vmf.attempt)) {
    rmap_undo(f, nr);
    return VmFault::retry;
  }
  slot->store(mk_pmd(f, vmf.write), sync::release);
  Counters::inc(vmf.kernel->stats.pmd_maps);
  return VmFault::done;
}

// A write to a read-only PMD mapping (do_huge_pmd_wp_page, shared): as
// do_shared_wp, for the whole folio, under page_table_lock.
VmFault do_huge_pmd_wp(Vmf& vmf, sync::Atomic<void*>* slot, void* orig) {
  void* writable = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(orig) | PMD_WRITE);
  return shared_wp(vmf, vmf.kernel->pool.pfn_to_folio(pmd_pfn(orig)), vmf.mm->page_table_lock, slot, orig, writable);
}

// The PMD level of a fault in a shared mapping (a private one copies on
// write by the page, so it maps by the page): a PMD mapping there already,
// or a PMD-sized folio at a PMD-aligned place wholly inside the VMA, which
// one entry maps. Anything else falls back to the PTEs.
VmFault do_huge_pmd_fault(Vmf& vmf) {
  if (!vma_pmd_mappable(vmf.vma)) return VmFault::fallback;
  sync::Atomic<void*>* slot = vmf.mm->pmd_alloc(vmf.addr);
  void* e = slot->load(sync::acquire);
  if (pmd_huge(e)) return !vmf.write || pmd_write(e) ? VmFault::done : do_huge_pmd_wp(vmf, slot, e);
  uint64_t haddr = vmf.addr & ~(PMD_SIZE - 1);
  if (e || haddr < vmf.vma->start || haddr + PMD_SIZE > vmf.vma->end) return VmFault::fallback;
  Folio* f;
  VmFault r = filemap_fault(vmf, &f, vmf.write);
  if (r != VmFault::done) return r;
  r = VmFault::fallback;
  if (f->nr_pages() == kPtrsPerTable && f->first_index() == vmf.vma->index_of(haddr)) {
    if (vmf.write) folio_mark_dirty(f);
    r = do_set_pmd(vmf, slot, f);
  }
  fault_release(vmf, f, vmf.write);
  return r;
}

// The PTE level of a fault. A migration entry: `*wait_on` is the folio to
// wait for once mmap_lock is dropped (migration_entry_wait).
VmFault do_pte_fault(Vmf& vmf, Folio** wait_on) {
  vmf.pt = vmf.mm->pte_alloc(vmf.addr);
  if (!vmf.pt) return VmFault::retry;  // a PMD mapping came: the MMU walks to it
  vmf.pte = &vmf.pt->pte[pte_index(vmf.addr)];
  pte_t p = vmf.pte->load(sync::acquire);
  if (pte_migration(p)) {
    *wait_on = vmf.kernel->pool.pfn_to_folio(pte_pfn(p));
    return VmFault::retry;
  }
  return do_fault_locked(vmf);
}

// lock_vma_under_rcu: the VMA containing `addr`, found without mmap_lock
// and returned with its lock held shared; nullptr if the lookup misses,
// munmap holds the lock (a trylock), or the VMA is detached. The fault
// then takes mmap_lock, as Linux does.
Vma* lock_vma_under_rcu(MmStruct* mm, uint64_t addr) {
  sync::RcuReadGuard rcu;
  const VmaIndex* idx = mm->vma_index.load(sync::acquire);
  Vma* v = idx ? idx->find(addr) : nullptr;
  if (!v || !v->vm_lock.down_read_trylock()) return nullptr;
  if (!v->detached) return v;
  v->vm_lock.up_read();
  return nullptr;
}

// What a fault holds across its sleeps: the VMA's lock (Config::per_vma_lock)
// or mmap_lock, shared.
class FaultLock {
 public:
  FaultLock(MmStruct* mm, uint64_t addr) : mm_(mm) {
    if (mm->kernel->config.per_vma_lock) vma_ = lock_vma_under_rcu(mm, addr);
    per_vma_ = vma_ != nullptr;
    if (per_vma_) return;
    mm->mmap_lock.down_read();
    vma_ = mm->find_vma(addr);
  }
  Vma* vma() const { return vma_; }
  void unlock() {
    if (per_vma_) vma_->vm_lock.up_read();
    else mm_->mmap_lock.up_read();
  }

 private:
  MmStruct* mm_;
  Vma* vma_ = nullptr;
  bool per_vma_ = false;
};

// One attempt at a fault, under the VMA's lock or mmap_lock. A migration
// entry drops the lock and sleeps until the migration is over.
VmFault do_fault(MmStruct* mm, uint64_t addr, bool write, uint64_t* file_size) {
  FaultLock lock(mm, addr);
  Vma* vma = lock.vma();
  if (!vma || !(vma->prot & kProtRead) || (write && !(vma->prot & kProtWrite))) {
    lock.unlock();
    return vma ? VmFault::segv_access : VmFault::segv_nomap;
  }
  Kernel* k = mm->kernel;
  Vmf vmf{mm, vma, addr & ~(PAGE_SIZE - 1), vma->index_of(addr), write, nullptr, nullptr,
          vma->file.get(), &vma->file->i_mapping, k, k->protocol.map.get(), MapAttempt{}};
  VmFault r;
  Folio* wait_on = nullptr;
  try {
    r = do_huge_pmd_fault(vmf);
    if (r == VmFault::fallback) r = do_pte_fault(vmf, &wait_on);
  } catch (...) {
    lock.unlock();
    throw;
  }
  *file_size = vmf.inode->size();
  lock.unlock();
  if (wait_on) folio_wait_locked(wait_on);
  return r;
}

}  // namespace

// Faults taken by this thread (this_thread_stats()): a plain per-thread
// count, written only by its thread.
static thread_local uint64_t tl_faults = 0;

void handle_mm_fault(MmStruct* mm, uint64_t addr, bool write) {
  Kernel* k = mm->kernel;
  Counters::inc(k->stats.faults);
  ++tl_faults;
  uint64_t size = 0;
  switch (do_fault(mm, addr, write, &size)) {
    case VmFault::done:
      return;
    case VmFault::retry:
      Counters::inc(k->stats.fault_retries);
      return;  // the MMU walks again and faults again if it must
    case VmFault::sigbus:
      throw Error(Errc::bus_error, fmt_bus_error(addr, size));
    case VmFault::segv_nomap:
      throw Error(Errc::segv, fmt_segv(addr, "no mapping contains it"));
    case VmFault::segv_access:
      throw Error(Errc::segv, fmt_segv(addr, write ? "store to a mapping without PROT_WRITE"
                                                    : "load from a mapping without PROT_READ"));
    case VmFault::fallback:  // do_fault never returns it
      return;
  }
}

// The MMU for one translation: through the TLB, else the walk (which
// fills the TLB). Copies up to `len` bytes from `addr` to the end of what
// the translation covers — the page, or the 2 MiB of a PMD mapping, so a
// bulk access takes one translation per PMD — and returns how many; 0 if
// there is no translation that allows the access.
static size_t access_span(MmStruct* mm, uint64_t addr, std::byte* buf, size_t len, bool write) {
  const Kernel* k = mm->kernel;
  uint64_t vpn = addr >> PAGE_SHIFT, hvpn = addr >> 21;
  Tlb* tlb = k->config.soft_tlb ? &sync::this_cpu<Tlb>() : nullptr;
  TlbEntry* e = tlb ? &tlb->slot(vpn) : nullptr;
  sync::RcuReadGuard rcu;
  uint64_t gen = e ? mm->tlb_gen.load(sync::acquire) : 0;
  std::byte* page;
  uint64_t reach = PAGE_SIZE;  // what the translation maps, aligned
  if (e && tlb_match(*e, mm, vpn, gen, write)) {
    page = e->page;
  } else if (tlb && tlb_match(tlb->huge_slot(hvpn), mm, hvpn, gen, write)) {
    page = tlb->huge_slot(hvpn).page + ((vpn & (kPtrsPerTable - 1)) << PAGE_SHIFT);
    reach = PMD_SIZE;
  } else {
    // The walk stops at a PMD mapping, which takes a huge TLB entry.
    sync::Atomic<void*>* slot = mm->pmd_slot(addr);
    void* pmd = slot ? slot->load(sync::acquire) : nullptr;
    bool writable;
    std::byte* first = nullptr;  // of a PMD mapping's 512 pages
    if (pmd_huge(pmd)) {
      writable = pmd_write(pmd);
      first = k->pool.frame_address(pmd_pfn(pmd));
      page = first + ((vpn & (kPtrsPerTable - 1)) << PAGE_SHIFT);
      reach = PMD_SIZE;
    } else {
      pte_t p = pmd ? static_cast<PteTable*>(pmd)->pte[pte_index(addr)].load(sync::acquire) : 0;
      if (!pte_present(p)) return 0;
      writable = pte_write(p);
      page = page_address(k, p);
    }
    if (write && !writable) return 0;
    if (first && tlb) tlb->huge_slot(hvpn) = {mm, hvpn, gen, first, writable};
    else if (e) *e = {mm, vpn, gen, page, writable};
  }
  size_t n = std::min<uint64_t>(len, reach - (addr & (reach - 1)));
  std::byte* mem = page + (addr & (PAGE_SIZE - 1));
  if (write) sync::copy_racy(mem, buf, n);
  else sync::copy_racy(buf, mem, n);
  return n;
}

void mm_access(MmStruct* mm, uint64_t addr, std::byte* buf, size_t len, bool write) {
  while (len) {
    size_t n = access_span(mm, addr, buf, len, write);
    if (n == 0) {
      handle_mm_fault(mm, addr, write);
      continue;
    }
    addr += n;
    buf += n;
    len -= n;
  }
}

// ---- zapping -----------------------------------------------------------

// Clears PTEs under their PTL, handing their references to the gather:
// consecutive PTEs of one folio give up their map counts in one batch
// (zap_present_ptes), flushed before the PTL is let go.
class ZapBatch {
 public:
  ZapBatch(const Kernel* k, MmuGather& tlb) : k_(k), tlb_(tlb) {}
  ~ZapBatch() { flush(); }
  ZapBatch(const ZapBatch&) = delete;
  ZapBatch& operator=(const ZapBatch&) = delete;
  void zap(sync::Atomic<pte_t>* pte, pte_t p) {
    pte->store(0, sync::release);
    if (!pte_present(p)) return;  // a migration entry holds no reference
    Folio* f = k_->pool.pfn_to_folio(pte_pfn(p));
    if (f != folio_) flush();
    folio_ = f;
    ++nr_;
  }
  void flush() {
    if (nr_ == 0) return;
    folio_->mapcount.fetch_sub(nr_, sync::relaxed);
    tlb_.add(folio_, nr_);
    folio_ = nullptr;
    nr_ = 0;
  }

 private:
  const Kernel* k_;
  MmuGather& tlb_;
  Folio* folio_ = nullptr;
  int32_t nr_ = 0;
};

// __split_huge_pmd: the PMD mapping at `slot` becomes a table of 512 PTEs
// to the same pages, with the same permission: the references and map
// counts it held are theirs now, and the TLB's entries stay right.
// The table is allocated before the lock: a zap that splits must not fail
// half done (the kernel deposits it when it makes the PMD mapping).
void split_huge_pmd(MmStruct* mm, sync::Atomic<void*>* slot) {
  std::unique_ptr<PteTable> table(new PteTable);
  sync::Guard<sync::SpinLock> g(mm->page_table_lock);
  split_huge_pmd_locked(mm, slot, table);
}

void split_huge_pmd_locked(MmStruct* mm, sync::Atomic<void*>* slot) {
  std::unique_ptr<PteTable> table(new PteTable);
  split_huge_pmd_locked(mm, slot, table);
}

void split_huge_pmd_locked(MmStruct* mm, sync::Atomic<void*>* slot, std::unique_ptr<PteTable>& table) {
  void* e = slot->load(sync::relaxed);
  if (!pmd_huge(e)) return;
  const Folio* f = mm->kernel->pool.pfn_to_folio(pmd_pfn(e));
  PteTable* t = table.release();
  for (unsigned i = 0; i < kPtrsPerTable; ++i) t->pte[i].store(mk_pte(f, i, pmd_write(e)), sync::relaxed);
  slot->store(t, sync::release);
  Counters::inc(mm->kernel->stats.pmd_splits);
}

// Clears the PMD mapping at `slot` (if it maps `only`, when given),
// handing its references to the gather; whether it did.
static bool zap_huge_pmd(MmStruct* mm, sync::Atomic<void*>* slot, const Folio* only, MmuGather& tlb) {
  sync::Guard<sync::SpinLock> g(mm->page_table_lock);
  void* e = slot->load(sync::relaxed);
  if (!pmd_huge(e) || (only && pmd_pfn(e) != only->pfn)) return false;
  slot->store(nullptr, sync::release);
  Folio* f = mm->kernel->pool.pfn_to_folio(pmd_pfn(e));
  auto nr = static_cast<int32_t>(f->nr_pages());
  f->mapcount.fetch_sub(nr, sync::relaxed);
  tlb.add(f, nr);
  return true;
}

// The entry in PMD slot `slot` of `vma`, for a zap. An empty slot has no
// table lock to take, yet a do_set_pmd may be between its checks (i_size,
// the map guard's commit) and its store, under page_table_lock: a map
// guard that holds no folio lock (no_new_maps) keeps no killer out while
// it does, and a truncate that only zeroes part of a large folio kills
// nothing for the guard to see. Taking page_table_lock orders the zap
// after that fault: the entry it made is zapped, or the fault sees the
// killer's i_size or kill. The PTE table's lock gives a PTE fault that
// order. (The checker's truncate-vs-pmd and dio-vs-pmd found each hole:
// 2 MiB mapped past EOF, and a killed folio mapped after dio returned.)
static void* pmd_for_zap(const Vma* vma, sync::Atomic<void*>* slot) {
  void* e = slot->load(sync::acquire);
  if (e || !vma_pmd_mappable(vma)) return e;
  sync::Guard<sync::SpinLock> g(vma->mm->page_table_lock);
  return slot->load(sync::relaxed);
}

// A PMD mapping over [addr, table_end): zapped if the range covers it,
// else split, for the PTE loop to zap its part. Whether it zapped.
static bool zap_or_split_pmd(Vma* vma, uint64_t addr, uint64_t table_end, MmuGather& tlb) {
  sync::Atomic<void*>* slot = vma->mm->pmd_slot(addr);
  if (!slot || !pmd_huge(pmd_for_zap(vma, slot))) return false;
  if ((addr & (PMD_SIZE - 1)) == 0 && table_end - addr == PMD_SIZE) return zap_huge_pmd(vma->mm, slot, nullptr, tlb);
  try {
    split_huge_pmd(vma->mm, slot);
  } catch (const std::bad_alloc&) {
    // No memory for the table: the whole PMD mapping goes, as the kernel
    // zaps a file's rather than split it; the pages outside the range
    // refault by the page. A zap must not fail half done (a truncate has
    // set i_size already: G5).
    return zap_huge_pmd(vma->mm, slot, nullptr, tlb);
  }
  return false;
}

// The PTEs of `mm`'s table `t` in [addr, end), under its lock, as many at
// a time as the gather has room for (a PTE adds one entry at most); sets
// `zapped` if it cleared any. Out of memory, the gather flushes the TLB
// and finishes between chunks.
static void zap_pte_range(MmStruct* mm, PteTable* t, uint64_t addr, uint64_t end, bool even_cows, MmuGather& tlb,
                          bool& zapped) {
  const Kernel* k = mm->kernel;
  while (addr < end) {
    size_t room = tlb.make_room((end - addr) / PAGE_SIZE, zapped ? mm : nullptr);
    uint64_t chunk_end = std::min(end, addr + room * PAGE_SIZE);
    sync::Guard<sync::SpinLock> ptl(t->ptl);
    ZapBatch batch(k, tlb);
    for (; addr < chunk_end; addr += PAGE_SIZE) {
      auto* pte = &t->pte[pte_index(addr)];
      pte_t p = pte->load(sync::relaxed);
      if (!p) continue;
      if (!even_cows && pte_present(p) && k->pool.pfn_to_folio(pte_pfn(p))->test(PG_anon)) continue;
      batch.zap(pte, p);
      zapped = true;
    }
  }
}

void zap_vma_range(Vma* vma, uint64_t start, uint64_t end, bool even_cows, MmuGather& tlb) {
  bool zapped = false;
  const uint64_t table_span = uint64_t{kPtrsPerTable} << PAGE_SHIFT;
  for (uint64_t addr = start; addr < end;) {
    uint64_t table_end = std::min(end, (addr & ~(table_span - 1)) + table_span);
    tlb.make_room(1, zapped ? vma->mm : nullptr);  // a PMD mapping's entry
    zapped |= zap_or_split_pmd(vma, addr, table_end, tlb);
    if (PteTable* t = vma->mm->pte_table(addr)) zap_pte_range(vma->mm, t, addr, table_end, even_cows, tlb, zapped);
    addr = table_end;
  }
  if (zapped) flush_tlb_mm(vma->mm);
}

void zap_folio_in_vma(Vma* vma, Folio* folio, MmuGather& tlb) {
  pgoff_t first = std::max(folio->first_index(), vma->pgoff);
  pgoff_t last = std::min(folio->first_index() + folio->nr_pages() - 1, vma->last_index());
  const Kernel* k = vma->mm->kernel;
  bool zapped = false;
  tlb.make_room(1);  // one folio: its PMD and PTE references make one entry
  if (first <= last) {  // a PMD mapping of the folio goes whole
    sync::Atomic<void*>* slot = vma->mm->pmd_slot(vma->addr_of(first));
    if (slot && pmd_huge(pmd_for_zap(vma, slot))) zapped = zap_huge_pmd(vma->mm, slot, folio, tlb);
  }
  for_each_pte_locked(vma, first, last, [&](sync::Atomic<pte_t>* pte, pgoff_t) {
    pte_t p = pte->load(sync::relaxed);
    if (pte_present(p) && pte_pfn(p) == folio->pfn) {
      ZapBatch(k, tlb).zap(pte, p);
      zapped = true;
    }
  });
  if (zapped) flush_tlb_mm(vma->mm);
}

}  // namespace faultline::detail

namespace faultline {
uint64_t this_thread_faults() noexcept { return detail::tl_faults; }
}  // namespace faultline
