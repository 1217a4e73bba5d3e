// src/mm/readahead.cc — creating and reading folios ahead of use.
//
// Owns: page_cache_ra, used by read() and faults on a miss and by the
// readahead(2) entry point. It runs under the creation guard (shared
// invalidate_lock by default): a killer that evicted a range and has not yet
// freed its blocks holds the guard exclusive, so no folio can be created
// there from the old blocks.
#include <algorithm>

#include "mm/guards.h"
#include "mm/internal.h"
#include "sync/rcu.h"

namespace faultline::detail {

// The end of the run of free slots starting at `index`, at most `limit`:
// the first occupied slot, not the first index of the folio in it. While a
// large folio's removal is half-way through its slots (under the i_pages
// lock) its later slots still hold it, and a run ending at its first
// index would call the cleared ones occupied; as free slots, the folio
// created there waits for the removal in filemap_add_folio(), on the lock,
// as the kernel's creator spins on xa_lock. (Calling them occupied sent
// read() round for ever: the checker's livelock at bound 3.)
static pgoff_t free_run_end(AddressSpace* mapping, pgoff_t index, pgoff_t limit) {
  sync::RcuReadGuard rcu;
  pgoff_t next = index;
  return mapping->i_pages.find(&next, limit - 1) ? next : limit;
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
      if (!f) continue;  // removed since: look again
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
