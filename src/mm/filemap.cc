// src/mm/filemap.cc — the page cache: lookup, insertion, removal, read(),
// write() and the fault handler's half (filemap_fault, filemap_map_pages
// live in memory.cc's callers through these helpers).
//
// Locking (see fs.h for the order):
//   lookups        RCU + folio_try_get, then re-check the slot
//   insertion      the new folio locked; i_pages lock for the slots
//   removal        folio lock held by the caller; i_pages lock for slots
//   read-in        folio lock, under the creation guard
//   write()        i_rwsem exclusive (caller), creation guard, folio lock
#include <algorithm>
#include <cstring>

#include "faultline/error.h"
#include "mm/guards.h"
#include "mm/internal.h"
#include "sync/racy.h"
#include "sync/rcu.h"
#include "sync/trace.h"

namespace faultline::detail {

Folio* filemap_get_folio(AddressSpace* mapping, pgoff_t index) {
  sync::RcuReadGuard rcu;
  for (;;) {
    Folio* f = mapping->i_pages.load(index);
    if (!f) return nullptr;
    if (!folio_try_get(f)) {  // being freed, or frozen by migration/reclaim
      sync::cpu_relax();
      continue;
    }
    // The slot looked up, not the folio's first: after a split they differ.
    if (mapping->i_pages.load(FL_SEEDED(lookup_recheck_head) ? f->first_index() : index) == f) return f;
    folio_put(f);
  }
}

Folio* filemap_get_next_folio(AddressSpace* mapping, pgoff_t* index, pgoff_t max) {
  sync::RcuReadGuard rcu;
  for (;;) {
    pgoff_t i = *index;
    Folio* f = mapping->i_pages.find(&i, max);
    if (!f) return nullptr;
    if (!folio_try_get(f)) {
      sync::cpu_relax();
      continue;
    }
    if (mapping->i_pages.load(i) == f) {
      *index = f->first_index();
      return f;
    }
    folio_put(f);
  }
}

bool filemap_add_folio(AddressSpace* mapping, Folio* folio, pgoff_t index) {
  uint64_t nr = folio->nr_pages();
  folio->index.store(index, sync::relaxed);
  folio->mapping.store(mapping, sync::relaxed);
  {
    sync::Guard<sync::SpinLock> xa(mapping->i_pages.lock);
    pgoff_t i = index;
    if (mapping->i_pages.find(&i, index + nr - 1)) {
      folio->mapping.store(nullptr, sync::relaxed);
      return false;
    }
    folio_get(folio);  // the cache's reference
    try {
      mapping->i_pages.store_range(index, nr, folio);
    } catch (...) {  // out of memory for a node: the caller's reference remains
      folio_put(folio);
      folio->mapping.store(nullptr, sync::relaxed);
      throw;
    }
  }
  mapping->nrpages.fetch_add(nr, sync::relaxed);
  Kernel* k = mapping->host->kernel;
  k->lru_add(folio);
  Counters::inc(k->stats.folios_created);
  return true;
}

// Unlinks a locked folio from the cache without touching its references.
static void filemap_unlink_folio(Folio* folio) {
  AddressSpace* mapping = folio->mapping.load(sync::relaxed);
  pgoff_t index = folio->first_index();
  uint64_t nr = folio->nr_pages();
  {
    sync::Guard<sync::SpinLock> xa(mapping->i_pages.lock);
    mapping->i_pages.store_range(index, nr, nullptr);
    folio->mapping.store(nullptr, sync::release);
  }
  mapping->nrpages.fetch_sub(nr, sync::relaxed);
  mapping->host->kernel->lru_del(folio);
}

void filemap_remove_folio(Folio* folio) {
  filemap_unlink_folio(folio);
  folio_put(folio);
}

void filemap_remove_frozen_folio(Folio* folio) { filemap_unlink_folio(folio); }

bool filemap_read_folio(Inode* inode, Folio* folio) {
  try {
    uint64_t start = folio->first_index() << PAGE_SHIFT;
    inode->store->read(start, {folio->address(), folio->size()});
    // What lies past EOF reads as zeros whatever the store holds there (a
    // truncate whose store call failed leaves blocks behind), as the
    // kernel's read_folio zeroes a folio beyond i_size.
    uint64_t isize = inode->size();
    if (isize < start + folio->size()) {
      uint64_t from = isize > start ? isize - start : 0;
      std::memset(folio->address() + from, 0, folio->size() - from);
    }
    sync::trace_note("reads file page {} from the store into pfn {}: first byte {:#04x}", folio->first_index(),
                     folio->pfn, static_cast<uint64_t>(folio->address()[0]));
  } catch (const Error&) {
    folio->set(PG_error);
    return false;
  }
  folio->clear(PG_error);
  folio->set(PG_uptodate);
  return true;
}

// Reads in a cached folio that is not uptodate (a read failed, or another
// thread is reading it right now: the folio lock waits for that).
static bool filemap_update_folio(Inode* inode, Folio* folio) {
  CreateScope create(inode);
  folio_lock(folio);
  bool ok = true;
  if (folio->mapping.load(sync::acquire) == &inode->i_mapping && !folio->test(PG_uptodate))
    ok = filemap_read_folio(inode, folio);
  folio_unlock(folio);
  return ok;
}

Folio* filemap_get_uptodate(Inode* inode, pgoff_t index, pgoff_t ra_start, pgoff_t ra_pages, bool* missed) {
  AddressSpace* mapping = &inode->i_mapping;
  // Read no more ahead than an eighth of memory, or readahead evicts what
  // it just read before anyone uses it.
  pgoff_t cap = std::max<pgoff_t>(1, inode->kernel->pool.nr_frames() / 8);
  if (ra_pages > cap) {
    ra_start = index - std::min(index - ra_start, cap / 2);
    ra_pages = cap;
  }
  for (;;) {
    Folio* f = filemap_get_folio(mapping, index);
    if (!f) {
      if (index >= pages_of(inode->size())) return nullptr;
      if (missed) *missed = true;
      page_cache_ra(inode, ra_start, ra_pages);
      continue;
    }
    if (f->test(PG_uptodate)) return f;
    if (!filemap_update_folio(inode, f)) {
      folio_put(f);
      throw Error(Errc::io_error, "read: the store failed to read page " + std::to_string(index));
    }
    if (f->test(PG_uptodate)) return f;
    folio_put(f);  // removed while we waited: look again
  }
}

size_t filemap_read(Inode* inode, uint64_t off, std::span<std::byte> buf) {
  const Config& cfg = inode->kernel->config;
  size_t done = 0;
  while (done < buf.size()) {
    uint64_t pos = off + done;
    if (pos >= inode->size()) break;
    pgoff_t index = pos >> PAGE_SHIFT;
    pgoff_t want = pages_of(off + buf.size()) - index;
    Folio* f = filemap_get_uptodate(inode, index, index, std::max<pgoff_t>(want, cfg.readahead_pages), nullptr);
    if (!f) break;
    // i_size after the folio is uptodate: a racing truncate either removed
    // the folio (we saw it anyway: fine for read) or shrank the size first.
    uint64_t isize = inode->size();
    uint64_t fstart = f->first_index() << PAGE_SHIFT;
    uint64_t end = std::min({fstart + f->size(), off + buf.size(), isize});
    if (pos < end) sync::copy_racy(buf.data() + done, f->address() + (pos - fstart), end - pos);
    folio_mark_accessed(f);
    folio_put(f);
    if (pos >= end) break;
    done += end - pos;
  }
  return done;
}

// The largest order at `index`, aligned, inside [index, limit), at most
// the configured maximum.
unsigned folio_order_for(const Kernel* k, pgoff_t index, pgoff_t limit) {
  unsigned order = 0;
  while (order < k->config.max_folio_order) {
    unsigned next = order + 1;
    pgoff_t n = pgoff_t{1} << next;
    if ((index & (n - 1)) || index + n > limit) break;
    order = next;
  }
  return order;
}

// write_begin: the locked folio covering `index`, created if absent. A new
// folio spans at most [index, limit).
static Folio* write_begin(Inode* inode, pgoff_t index, pgoff_t limit) {
  AddressSpace* mapping = &inode->i_mapping;
  Kernel* k = inode->kernel;
  for (;;) {
    if (Folio* f = filemap_get_folio(mapping, index)) {
      folio_lock(f);
      if (f->mapping.load(sync::relaxed) == mapping) return f;
      folio_unlock(f);
      folio_put(f);
      continue;
    }
    unsigned got;
    Folio* f = k->alloc_folio(folio_order_for(k, index, limit), true, &got);
    folio_trylock(f);  // new: nobody else can hold it
    if (filemap_add_folio(mapping, f, index & ~((pgoff_t{1} << got) - 1))) return f;
    folio_unlock(f);
    folio_put(f);
    limit = index + 1;  // something is in the way: a single page fits
  }
}

size_t filemap_write(Inode* inode, uint64_t off, std::span<const std::byte> buf) {
  uint64_t oldsize = inode->size();
  if (off > oldsize) pagecache_isize_extended(inode, oldsize, off);
  CreateScope create(inode);
  uint64_t end = off + buf.size();
  size_t done = 0;
  while (done < buf.size()) {
    uint64_t pos = off + done;
    pgoff_t index = pos >> PAGE_SHIFT;
    // A new folio must lie wholly inside the write, or be a single page.
    pgoff_t limit = std::max<pgoff_t>(end >> PAGE_SHIFT, index + 1);
    if ((pos & (PAGE_SIZE - 1)) != 0) limit = index + 1;
    Folio* f = write_begin(inode, index, limit);
    uint64_t fstart = f->first_index() << PAGE_SHIFT;
    uint64_t n = std::min(fstart + f->size(), end) - pos;
    bool covers = pos == fstart && n == f->size();
    if (!f->test(PG_uptodate) && !covers && !filemap_read_folio(inode, f)) {
      folio_unlock(f);
      folio_put(f);
      if (done) return done;  // generic_perform_write: a short write, as far as it got
      throw Error(Errc::io_error, "write: the store failed to read page " + std::to_string(index), EIO);
    }
    sync::copy_racy(f->address() + (pos - fstart), buf.data() + done, n);
    f->set(PG_uptodate);
    folio_mark_dirty(f);
    // write_end: the size grows under the folio lock, after the copy.
    if (pos + n > inode->size()) inode->set_size(pos + n);
    folio_unlock(f);
    folio_put(f);
    done += n;
  }
  return done;
}

void filemap_zero_cached(Inode* inode, uint64_t from, uint64_t to) {
  if (from >= to) return;
  AddressSpace* mapping = &inode->i_mapping;
  pgoff_t index = from >> PAGE_SHIFT;
  pgoff_t last = (to - 1) >> PAGE_SHIFT;
  while (Folio* f = filemap_get_next_folio(mapping, &index, last)) {
    folio_lock(f);
    uint64_t fstart = f->first_index() << PAGE_SHIFT;
    if (f->mapping.load(sync::relaxed) == mapping) {
      uint64_t a = std::max(from, fstart), b = std::min(to, fstart + f->size());
      if (a < b) sync::zero_racy(f->address() + (a - fstart), b - a);
    }
    index = f->first_index() + f->nr_pages();
    folio_unlock(f);
    folio_put(f);
  }
}

}  // namespace faultline::detail
