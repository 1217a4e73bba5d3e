// src/mm/truncate.cc — removing folios from the page cache: truncate,
// hole punching's cache half, invalidation for direct I/O and DONTNEED.
//
// Owns: truncate_inode_folio (the one place a killer removes a folio, with
// the protocol's kill hooks around it), truncate_inode_pages_range,
// truncate_pagecache(_range), invalidate_inode_pages2_range,
// invalidate_mapping_pages, vfs_truncate and pagecache_isize_extended.
//
// The kernel's order of steps for a truncate (truncate_setsize +
// truncate_pagecache): set the size first, so that new faults past it get
// SIGBUS; unmap; lock and remove each folio, unmapping again any that a
// racing fault mapped; split a large folio the new EOF cuts through and
// remove its pages past EOF (or, when the split backs off because someone
// else holds a reference, zero its tail and keep it); unmap again for
// private COW copies made during the race; then free the blocks, all under
// the creation guard held exclusive; then the shootdown (MmuGather).
#include <algorithm>

#include "mm/guards.h"
#include "mm/internal.h"
#include "mm/seeded_bug.h"
#include "sync/racy.h"

namespace faultline::detail {

namespace {
// The engine's half of a kill, handed to the protocol's kill_folio.
class FolioKill final : public KillOps {
 public:
  FolioKill(AddressSpace* m, Folio* f, MmuGather& tlb) : m_(m), f_(f), tlb_(tlb) {}
  void unmap(bool i_mmap_held) override {
    if (FL_SEEDED(kill_without_unmap)) return;
    folio_unmap(m_, f_, tlb_, i_mmap_held ? IMmap::held : IMmap::take);
  }
  void remove() override {
    f_->clear(PG_dirty);  // truncation discards: the blocks go too
    filemap_remove_folio(f_);
  }

 private:
  AddressSpace* m_;
  Folio* f_;
  MmuGather& tlb_;
};
}  // namespace

void truncate_inode_folio(AddressSpace* mapping, Folio* folio, MmuGather& tlb) {
  FolioKill ops(mapping, folio, tlb);
  mapping->host->kernel->protocol.map->kill_folio(*mapping, *folio, ops);
}

// Zeroes the part of a locked folio that lies in [lstart, lend].
static void truncate_partial_folio(Folio* folio, uint64_t lstart, uint64_t lend) {
  uint64_t fstart = folio->first_index() << PAGE_SHIFT;
  uint64_t a = std::max(lstart, fstart);
  uint64_t b = std::min(lend, fstart + folio->size() - 1);
  if (a <= b) sync::zero_racy(folio->address() + (a - fstart), b - a + 1);
}

void truncate_inode_pages_range(AddressSpace* mapping, uint64_t lstart, uint64_t lend, MmuGather& tlb) {
  pgoff_t index = lstart >> PAGE_SHIFT;
  pgoff_t last = lend >> PAGE_SHIFT;
  bool splits = mapping->host->kernel->config.split_on_truncate;
  while (Folio* f = filemap_get_next_folio(mapping, &index, last)) {
    folio_lock(f);
    bool split = false;  // then its pages are looked at again, one by one
    if (f->mapping.load(sync::relaxed) == mapping) {
      folio_wait_writeback(f);
      uint64_t fstart = f->first_index() << PAGE_SHIFT;
      uint64_t fend = fstart + f->size() - 1;
      if (fstart >= lstart && fend <= lend) truncate_inode_folio(mapping, f, tlb);
      else if (!(split = f->nr_pages() > 1 && splits && split_folio(mapping, f, tlb)))
        truncate_partial_folio(f, lstart, lend);
    }
    index = f->first_index() + (split ? 0 : f->nr_pages());
    folio_unlock(f);
    folio_put(f);
    if (index == 0 && !split) break;  // wrapped past the last index
  }
}

void truncate_pagecache(Inode* inode, uint64_t newsize, MmuGather& tlb) {
  AddressSpace* m = &inode->i_mapping;
  uint64_t holebegin = pages_of(newsize) << PAGE_SHIFT;
  unmap_mapping_range(m, holebegin, 0, true, tlb);
  truncate_inode_pages_range(m, newsize, UINT64_MAX, tlb);
  unmap_mapping_range(m, holebegin, 0, true, tlb);
}

void truncate_pagecache_range(Inode* inode, uint64_t lstart, uint64_t lend, MmuGather& tlb) {
  AddressSpace* m = &inode->i_mapping;
  uint64_t unmap_start = pages_of(lstart) << PAGE_SHIFT;
  uint64_t unmap_end = ((lend + 1) & ~(PAGE_SIZE - 1));  // exclusive
  if (unmap_end > unmap_start) unmap_mapping_range(m, unmap_start, unmap_end - unmap_start, false, tlb);
  truncate_inode_pages_range(m, lstart, lend, tlb);
}

void pagecache_isize_extended(Inode* inode, uint64_t from, uint64_t to) {
  if (from >= to || (from & (PAGE_SIZE - 1)) == 0) return;
  filemap_zero_cached(inode, from, std::min(to, pages_of(from) << PAGE_SHIFT));
}

void finish_truncate(Inode* inode) {
  if (inode->unfinished_truncate == Inode::kNoTruncate) return;
  inode->store->truncate(inode->unfinished_truncate);
  inode->unfinished_truncate = Inode::kNoTruncate;
}

InodeWriteLock::InodeWriteLock(Inode* inode) : g_(inode->i_rwsem) { finish_truncate(inode); }

void vfs_truncate(Inode* inode, uint64_t newsize) {
  InodeWriteLock i_rwsem(inode);
  uint64_t oldsize = inode->size();
  if (newsize >= oldsize) {
    inode->set_size(newsize);
    pagecache_isize_extended(inode, oldsize, newsize);
    inode->store->truncate(newsize);
    return;
  }
  EvictScope evict(inode);
  MmuGather tlb(inode->kernel);
  if (!FL_SEEDED(truncate_size_last)) inode->set_size(newsize);  // truncate_setsize: before any folio goes
  truncate_pagecache(inode, newsize, tlb);
  if (FL_SEEDED(truncate_size_last)) inode->set_size(newsize);
  try {
    inode->store->truncate(newsize);
  } catch (const Error&) {
    inode->unfinished_truncate = newsize;
    throw;
  }
  tlb.finish();
}

// Unmaps a locked folio now, with its own shootdown, so that its contents
// are stable for writeback (unmap_mapping_folio + TLB flush).
static void unmap_folio_now(AddressSpace* mapping, Folio* folio) {
  MmuGather tlb(mapping->host->kernel);
  folio_unmap(mapping, folio, tlb, IMmap::take);
  tlb.finish();
}

void invalidate_inode_pages2_range(AddressSpace* mapping, pgoff_t start, pgoff_t end) {
  Inode* inode = mapping->host;
  MmuGather tlb(inode->kernel);
  pgoff_t index = start;
  while (Folio* f = filemap_get_next_folio(mapping, &index, end)) {
    folio_lock(f);
    if (f->mapping.load(sync::relaxed) == mapping) {
      folio_wait_writeback(f);
      if (folio_mapped(f)) unmap_folio_now(mapping, f);
      // Launder: a dirty folio is written back before it goes (G6); if
      // that fails it stays, dirty, and fsync reports the error.
      if (!f->test(PG_dirty) || folio_writeback(inode, f) == 0) truncate_inode_folio(mapping, f, tlb);
    }
    index = f->first_index() + f->nr_pages();
    folio_unlock(f);
    folio_put(f);
  }
  tlb.finish();
}

uint64_t invalidate_mapping_pages(AddressSpace* mapping, pgoff_t start, pgoff_t end) {
  MmuGather tlb(mapping->host->kernel);
  uint64_t dropped = 0;
  pgoff_t index = start;
  while (Folio* f = filemap_get_next_folio(mapping, &index, end)) {
    index = f->first_index() + f->nr_pages();
    if (folio_trylock(f)) {
      if (f->mapping.load(sync::relaxed) == mapping && !f->test(PG_dirty) && !f->test(PG_writeback) &&
          !folio_mapped(f)) {
        dropped += f->nr_pages();
        truncate_inode_folio(mapping, f, tlb);
      }
      folio_unlock(f);
    }
    folio_put(f);
  }
  tlb.finish();
  return dropped;
}

}  // namespace faultline::detail
