// src/mm/internal.h — functions shared across the engine (mm/internal.h).
//
// Each is defined in the file of the same kernel name; the comment says what
// the caller must hold.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mm/folio.h"
#include "mm/fs.h"
#include "mm/kernel.h"
#include "mm/mm_types.h"

namespace faultline::detail {

// ---- memory.cc: the TLB-shootdown batch (mmu_gather) -------------------
// Zapped PTEs hand their folio reference to the gather; finish() waits for
// a grace period (no access through the old PTEs is still running) and then
// drops the references, which may free the frames.
class MmuGather {
 public:
  explicit MmuGather(Kernel* k) : kernel_(k) {}
  ~MmuGather() { finish(); }
  MmuGather(const MmuGather&) = delete;
  MmuGather& operator=(const MmuGather&) = delete;
  // Room for up to `want` more entries, made by each zap before it takes a
  // page-table lock, so that add() under it never allocates: running out of
  // memory there would leave PTEs cleared with their references in no
  // gather. Never throws.
  // Returns the room made, at least 1 when `want` is: if memory has run
  // out, the gather finishes what it holds to free its own slots, as the
  // kernel's zap_pte_range flushes when its batch cannot grow
  // (force_flush). So it must not be called under a spinlock a reader may
  // wait on in its read-side section (a page-table lock); a folio lock is
  // fine (split_folio finishes under one). `zapped`: an mm whose PTEs the
  // caller cleared and has not flushed from the TLB yet; its TLB is
  // flushed before any frame is let go, as tlb_flush_mmu flushes first.
  size_t make_room(size_t want, MmStruct* zapped = nullptr);
  // `nr` references of `f` to drop: consecutive adds of one folio (the
  // PTEs of a large folio) make one entry. Allocates unless room was made.
  void add(Folio* f, int32_t nr = 1);
  // Waits for the shootdown, then drops the references: a killer, which
  // promises that no access to what it removed is in flight when it
  // returns (G1).
  void finish();
  // Drops the references after a grace period without waiting for it:
  // munmap, which promises nothing about accesses racing with it, only
  // that the frames outlive them (G3). Waiting would make every munmap
  // wait for every thread's read-side section: a grace period per munmap.
  // Out of memory for the callback, it waits instead.
  void finish_deferred();

 private:
  using Entry = std::pair<Folio*, int32_t>;
  // Slots that need no allocation (the kernel's local batch,
  // MMU_GATHER_BUNDLE): entries fill them first, then `more_`.
  static constexpr size_t kLocal = 16;
  Kernel* kernel_;
  std::array<Entry, kLocal> local_{};
  size_t nlocal_ = 0;
  std::vector<Entry> more_;
  size_t room() const { return kLocal - nlocal_ + more_.capacity() - more_.size(); }
  void put_all();
};

// ---- filemap.cc: the page cache ---------------------------------------
// A referenced folio at `index`, or nullptr. No lock needed (RCU inside).
Folio* filemap_get_folio(AddressSpace* mapping, pgoff_t index);
// The first referenced folio overlapping [*index, max]; *index is set to
// the folio's first index. No lock needed.
Folio* filemap_get_next_folio(AddressSpace* mapping, pgoff_t* index, pgoff_t max);
// Inserts a locked, new folio at `index` (aligned to its order); false if
// any of its slots is taken. Takes the cache's reference.
bool filemap_add_folio(AddressSpace* mapping, Folio* folio, pgoff_t index);
// Removes a locked folio from the cache (the caller unmapped it) and drops
// the cache's reference.
void filemap_remove_folio(Folio* folio);
// Removes a locked folio whose count the caller froze (reclaim).
void filemap_remove_frozen_folio(Folio* folio);
// Fills a locked folio from the store and marks it uptodate; false (and
// PG_error, the folio left !uptodate) if the store failed.
bool filemap_read_folio(Inode* inode, Folio* folio);
// A referenced, uptodate folio at `index`, created by reading ahead
// [ra_start, ra_start+ra_pages) (which must contain `index`) on a miss.
// nullptr if `index` is past EOF; Error(io_error) if the store failed.
// `missed` (may be null) is set if the folio had to be created.
Folio* filemap_get_uptodate(Inode* inode, pgoff_t index, pgoff_t ra_start, pgoff_t ra_pages, bool* missed);
// The largest folio order for a new folio at `index` ending by `limit`.
unsigned folio_order_for(const Kernel* k, pgoff_t index, pgoff_t limit);
size_t filemap_read(Inode* inode, uint64_t off, std::span<std::byte> buf);
// generic_perform_write; caller holds i_rwsem exclusive.
// The bytes written: all, or fewer if reading in a partly written page
// failed after some were (Error(io_error) if none were).
size_t filemap_write(Inode* inode, uint64_t off, std::span<const std::byte> buf);
// Zeroes [from, to) of the cached folios covering it (folio locks inside).
void filemap_zero_cached(Inode* inode, uint64_t from, uint64_t to);

// ---- readahead.cc ------------------------------------------------------
// Creates and reads the missing folios of [index, index+nr) below EOF,
// large where alignment allows. Takes the creation guard itself.
void page_cache_ra(Inode* inode, pgoff_t index, pgoff_t nr);

// ---- page_writeback.cc -------------------------------------------------
void folio_mark_dirty(Folio* folio);
// Writes a locked dirty folio back: write-protects its PTEs, waits for the
// shootdown, writes up to EOF. Returns 0, or the store's errno: the folio
// then stays dirty and the mapping records the error (errseq).
int folio_writeback(Inode* inode, Folio* folio);
// Writes back every dirty folio overlapping [start, end] (bytes,
// inclusive); the errno of the first writeback that failed (those folios
// stay dirty), or 0.
int filemap_write_and_wait_range(Inode* inode, uint64_t start, uint64_t end);
// The same for the killers that must not go on without it (collapse and
// insert range, direct I/O, the remaps): throws Error(io_error) naming
// `op` and the range, carrying the errno, if a writeback failed.
void filemap_write_and_wait_or_throw(Inode* inode, uint64_t start, uint64_t end, const char* op);
// fsync: writes back, syncs the store, and throws the writeback error
// `file` has not yet reported (errseq), if any.
void vfs_fsync(Inode* inode, OpenFile* file);

// ---- memory.cc: faults, access, zapping --------------------------------
// Handles a fault at `addr`; throws Error(bus_error|segv|out_of_memory).
void handle_mm_fault(MmStruct* mm, uint64_t addr, bool write);

// Loads/stores through the page table, faulting as needed.
void mm_access(MmStruct* mm, uint64_t addr, std::byte* buf, size_t len, bool write);
// Clears the PTEs of [start, end) in `vma`. Anonymous (COW) pages are
// zapped only if `even_cows`. Takes the PTLs.
void zap_vma_range(Vma* vma, uint64_t start, uint64_t end, bool even_cows, MmuGather& tlb);
// Clears the PTEs of `vma` that map `folio` (try_to_unmap_one).
void zap_folio_in_vma(Vma* vma, Folio* folio, MmuGather& tlb);
// Calls fn(pte, index) for each PTE slot of `vma` that maps file page
// index in [first, last] and has a page table, a table at a time: each
// table is looked up once and its PTL held across its slots, as the
// kernel's page_vma_mapped_walk holds it across a large folio's PTEs (a
// walk from the top per page would read the directories once a page).
template <class Fn>
void for_each_pte_locked(Vma* vma, pgoff_t first, pgoff_t last, Fn fn) {
  for (pgoff_t i = first; i <= last;) {
    uint64_t a = vma->addr_of(i);
    pgoff_t n = std::min<pgoff_t>(last - i + 1, kPtrsPerTable - pte_index(a));  // slots in this table
    if (PteTable* t = vma->mm->pte_table(a)) {
      sync::Guard<sync::SpinLock> ptl(t->ptl);
      for (pgoff_t k = 0; k < n; ++k) fn(&t->pte[pte_index(a) + k], i + k);
    }
    i += n;
  }
}

// ---- rmap.cc -----------------------------------------------------------
// i_mmap's entry for `vma`, allocated ahead (vma_iter_prealloc's role), so
// that linking it, once the VMA is set up, cannot fail.
using IMmapNode = std::set<Vma*, VmaOrder>::node_type;
IMmapNode vma_prealloc_file(Vma* vma);
void vma_link_file(IMmapNode node);
void vma_unlink_file(Vma* vma);
// unmap_mapping_pages: zaps file pages [start, start+nr) in every mapping
// of the file. Takes i_mmap_rwsem shared.
void unmap_mapping_pages(AddressSpace* mapping, pgoff_t start, pgoff_t nr, bool even_cows, MmuGather& tlb);
// unmap_mapping_range with byte bounds, holelen 0 = to the end.
void unmap_mapping_range(AddressSpace* mapping, uint64_t holebegin, uint64_t holelen, bool even_cows,
                         MmuGather& tlb);
// try_to_unmap: zaps every PTE of `mapping`'s VMAs that maps `folio`.
// `i_mmap`: take i_mmap_rwsem shared, try-lock it (reclaim: false if busy),
// or the caller holds it.
enum class IMmap { take, trylock, held };
bool folio_unmap(AddressSpace* mapping, Folio* folio, MmuGather& tlb, IMmap i_mmap);
// Splits a large folio of `mapping` into order-0 folios (huge_memory.cc):
// the caller holds its lock and a reference, which stay with the first
// page. Unmaps it into `tlb` and finishes `tlb` (the caller's pending
// zaps hold references too). False, and nothing changed but the unmap, if
// anyone else holds a reference.
bool split_folio(AddressSpace* mapping, Folio* folio, MmuGather& tlb);
// Splits the large folios of [start, end] (huge_memory.cc); returns how many.
uint64_t split_mapping_range(Inode* inode, pgoff_t start, pgoff_t end);
// folio_mkclean: write-protects every shared PTE of a locked folio.
// Returns whether any PTE was changed (the caller then needs a shootdown).
bool folio_mkclean(Folio* folio);
// Whether faults in `vma` may map a PMD-sized folio with one PMD entry
// (Config::pmd_mapping; a shared mapping: a private one copies on write
// by the page). Read by the fault, by zaps (which must then lock an empty
// slot: pmd_for_zap) and by mmap's placement.
inline bool vma_pmd_mappable(const Vma* vma) { return vma->shared && vma->mm->kernel->config.pmd_mapping; }

// __split_huge_pmd: the PMD mapping at `slot` (if it still is one) becomes
// a table of 512 PTEs mapping the same pages.
void split_huge_pmd(MmStruct* mm, sync::Atomic<void*>* slot);
void split_huge_pmd_locked(MmStruct* mm, sync::Atomic<void*>* slot);  // page_table_lock held
// The same with the table allocated already (taken if used).
void split_huge_pmd_locked(MmStruct* mm, sync::Atomic<void*>* slot, std::unique_ptr<PteTable>& table);
// Kills every TLB entry of `mm` (bumps its tlb_gen): after a PTE was
// cleared, replaced or write-protected, before the shootdown.
void flush_tlb_mm(MmStruct* mm);
// Migration: replace the PTEs of a locked folio by migration entries, and
// afterwards by PTEs of `dst` (or of `src` again if migration failed).
void try_to_migrate(Folio* src, MmuGather& tlb);
void remove_migration_ptes(AddressSpace* mapping, Folio* src, Folio* dst);

// ---- truncate.cc -------------------------------------------------------
// The kernel's truncate_inode_folio: with the folio locked, the map
// guard's killer side unmaps it and removes it from the cache.
void truncate_inode_folio(AddressSpace* mapping, Folio* folio, MmuGather& tlb);
// Removes whole folios inside [lstart, lend] and zeroes partial ones.
void truncate_inode_pages_range(AddressSpace* mapping, uint64_t lstart, uint64_t lend, MmuGather& tlb);
void truncate_pagecache(Inode* inode, uint64_t newsize, MmuGather& tlb);
void truncate_pagecache_range(Inode* inode, uint64_t lstart, uint64_t lend, MmuGather& tlb);
// Unmaps, writes back and removes every folio in [start, end] (pages).
void invalidate_inode_pages2_range(AddressSpace* mapping, pgoff_t start, pgoff_t end);
// Drops clean, unmapped, unlocked folios in [start, end]; returns pages.
uint64_t invalidate_mapping_pages(AddressSpace* mapping, pgoff_t start, pgoff_t end);
void vfs_truncate(Inode* inode, uint64_t newsize);
// Finishes a truncate down whose store call failed (Inode::unfinished_truncate),
// if there is one; throws the store's error, leaving it unfinished.
void finish_truncate(Inode* inode);
// Zeroes the cached tail of the old EOF page when the size grows.
void pagecache_isize_extended(Inode* inode, uint64_t from, uint64_t to);

// ---- fallocate.cc ------------------------------------------------------
enum FallocMode : unsigned {
  FALLOC_FL_KEEP_SIZE = 0x01,
  FALLOC_FL_PUNCH_HOLE = 0x02,
  FALLOC_FL_COLLAPSE_RANGE = 0x08,
  FALLOC_FL_ZERO_RANGE = 0x10,
  FALLOC_FL_INSERT_RANGE = 0x20,
};
void vfs_fallocate(Inode* inode, unsigned mode, uint64_t off, uint64_t len);

// ---- direct_io.cc ------------------------------------------------------
size_t direct_read(Inode* inode, uint64_t off, std::span<std::byte> buf);
size_t direct_write(Inode* inode, uint64_t off, std::span<const std::byte> buf);
size_t write_atomic(Inode* inode, uint64_t off, std::span<const std::byte> buf);

// ---- migrate.cc --------------------------------------------------------
uint64_t migrate_mapping_range(Inode* inode, pgoff_t start, pgoff_t end);
// collapse_file (mm/khugepaged.c): file pages [start, start + 512), start
// a multiple of 512, into one PMD-sized folio; whether it did.
bool collapse_file(Inode* inode, pgoff_t start);

// ---- mmap.cc -----------------------------------------------------------
uint64_t do_mmap(MmStruct* mm, std::shared_ptr<Inode> file, std::shared_ptr<OpenFile> vm_file, uint64_t offset, uint64_t length, unsigned prot,
                 bool shared);
void do_munmap(MmStruct* mm, uint64_t addr, uint64_t length);
void exit_mmap(MmStruct* mm);

// ---- engine.cc: oracles ------------------------------------------------
// G1/G4/G5 on every page table; without locks only where nothing else runs
// (the model checker's oracle, with the world stopped).
std::string check_mappings(Kernel* k, bool take_locks);
// G2/G5: every clean, uptodate cached page holds `expected` (the file's
// contents; zeros past EOF) and none lies wholly past EOF. Lockless: only
// where nothing else runs.
std::string check_cache(Inode* inode, std::span<const std::byte> expected);
// Every folio's reference and map counts equal what holds them when
// nothing runs: the page cache one reference, each PTE one reference and
// one map count. A leaked or doubled reference is found here, where it
// happened, not as a hang or a use after free later. Lockless, with no
// transient reference alive: the checker's oracle at the end.
std::string check_refcounts(Kernel* k);

// ---- copy_file_range and the reflink family (remap.cc) ------------------
// Within one file, (source offset, length, destination offset) as fsx logs
// them. copy returns the bytes copied; dedupe whether the ranges were equal.
uint64_t vfs_copy_file_range(Inode* inode, uint64_t pos_in, uint64_t len, uint64_t pos_out);
void vfs_clone_file_range(Inode* inode, uint64_t pos_in, uint64_t len, uint64_t pos_out);
bool vfs_dedupe_file_range(Inode* inode, uint64_t pos_in, uint64_t len, uint64_t pos_out);
void vfs_exchange_range(Inode* inode, uint64_t a, uint64_t len, uint64_t b);
// [off, off+len) rounded out to whole folios of the largest order: written
// back (throws what writeback reported), and unmapped and removed. For a
// killer that replaces blocks under the cache: it must not zero part of a
// large folio in place, as truncate_pagecache_range would.
void write_back_folio_span(Inode* inode, uint64_t off, uint64_t len, const char* op);
void evict_folio_span(Inode* inode, uint64_t off, uint64_t len, MmuGather& tlb);

// ---- argument checks shared by the entry points (engine.cc) -------------
// Throws invalid_argument / file_too_large naming the values.
void check_range(const char* op, uint64_t off, uint64_t len);
// EINVAL for an offset or end past the largest loff_t (rw_verify_area).
void check_rw_area(const char* op, uint64_t off, uint64_t len);
// The bytes a write of `len` at `off` may write: 0 for 0, EFBIG at or past
// the maximum file size, cut short where it crosses it.
size_t write_count(const char* op, uint64_t off, size_t len);

}  // namespace faultline::detail
