// src/mm/readahead.cc — creating and reading folios ahead of use.
//
// Owns: page_cache_ra, used by read() and faults on a miss and by the
// readahead(2) entry point. It runs under the creation guard (shared
// invalidate_lock by default): a killer that evicted a range and has not yet
// freed its blocks holds the guard exclusive, so no folio can be created
// there from the old blocks. It takes the i_pages lock only to wait for a
// removal that is half-way through a large folio's slots.
#include <algorithm>

#include "mm/guards.h"
#include "mm/internal.h"

namespace faultline::detail {

// The end of the run of free slots starting at `index`, at most `limit`.
static pgoff_t free_run_end(AddressSpace* mapping, pgoff_t index, pgoff_t limit) {
  pgoff_t next = index;
  Folio* f = filemap_get_next_folio(mapping, &next, limit - 1);
  if (!f) return limit;
  folio_put(f);
  return std::max(next, index);
}

void page_cache_ra(Inode* inode, pgoff_t index, pgoff_t nr) {
  AddressSpace* mapping = &inode->i_mapping;
  Kernel* k = inode->kernel;
  CreateScope create(inode);
  pgoff_t eof = pages_of(inode->size());
  pgoff_t end = std::min(index + nr, eof);
  pgoff_t i = index;
  while (i < end) {
    pgoff_t run_end = free_run_end(mapping, i, end);
    if (run_end <= i) {  // occupied: skip that folio
      Folio* f = filemap_get_folio(mapping, i);
      if (!f) {
        // A folio covering i sits in a later slot while i's own slot is
        // empty: its removal is half-way through the slots, under the
        // i_pages lock. Wait for it there, as the kernel's creator would
        // spin on xa_lock; skipping i instead sends read() round again
        // without ever waiting (the checker's livelock at bound 3).
        sync::Guard<sync::SpinLock> settled(mapping->i_pages.lock);
        continue;
      }
      i = f->first_index() + f->nr_pages();
      folio_put(f);
      continue;
    }
    unsigned got;
    Folio* f = k->alloc_folio(folio_order_for(k, i, run_end), true, &got);
    folio_trylock(f);
    if (filemap_add_folio(mapping, f, i)) {
      filemap_read_folio(inode, f);  // a failure leaves it !uptodate: the reader retries and reports
      folio_unlock(f);
      folio_put(f);
      i += pgoff_t{1} << got;
    } else {
      folio_unlock(f);
      folio_put(f);
    }
  }
}

}  // namespace faultline::detail
