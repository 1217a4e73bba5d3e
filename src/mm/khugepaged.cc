// src/mm/khugepaged.cc — collapsing a cached file range into one
// PMD-sized folio.
//
// Owns: collapse_file (mm/khugepaged.c: what khugepaged and MADV_COLLAPSE
// do to a file range), in the kernel's order. A new 512-page folio,
// locked and not uptodate, is made; each small folio of the range is
// try-locked (a collapse never sleeps on a folio and gives up instead),
// must be clean, uptodate and still this file's, and is unmapped if
// mapped; after one shootdown for all of them, each must still be
// unmapped (VM_BUG_ON_PAGE(page_mapped) in 2020's kernel) and its
// reference count is frozen (it fails if anyone but the cache and us
// holds it: a fault about to map it, a read() copying from it). Then the
// contents are copied, the cache slots swapped under the i_pages lock,
// the small folios freed and the new folio unlocked, uptodate.
// Locks: the small folios' locks (held until they are gone), i_mmap_rwsem
// shared for the unmaps, the i_pages lock for the swap.
//
// The map guard keeps new maps out of a locked small folio: under
// page_lock a fault takes the folio lock before it raises a map count, so
// the check after the unmap always holds. A guard that raises map counts
// of locked folios, even for a moment (map_pages_lockless), breaks it:
// Stats::collapse_mapped_races counts each time, where the 2020 kernel hit
// its VM_BUG_ON, and the collapse backs off (as the kernel's freeze check
// does since Hugh Dickins removed the VM_BUG_ON in 2022).
#include <vector>

#include "mm/internal.h"
#include "sync/racy.h"

namespace faultline::detail {

namespace {

// Locks small folio `f` (referenced by the caller) for the collapse and
// unmaps it if mapped, into `tlb`; false, with the lock dropped, if it
// cannot be collapsed now.
bool collapse_lock(AddressSpace* m, Folio* f, MmuGather& tlb) {
  if (!folio_trylock(f)) return false;
  bool ok = f->mapping.load(sync::relaxed) == m && f->test(PG_uptodate) && !f->test(PG_dirty) &&
            !f->test(PG_writeback);
  if (ok && folio_mapped(f)) folio_unmap(m, f, tlb, IMmap::take);
  if (!ok) folio_unlock(f);
  return ok;
}

// After the shootdown: the folio must still be unmapped (the 2020 kernel's
// VM_BUG_ON_PAGE(page_mapped(page))), and its reference count freezes
// (the cache's reference and ours; anything more and we back off).
bool collapse_freeze(Kernel* k, Folio* f) {
  if (folio_mapped(f)) {
    Counters::inc(k->stats.collapse_mapped_races);
    return false;
  }
  return folio_ref_freeze(f, 2);
}

// Locks and unmaps every small folio of [start, start + 512) into `small`;
// false at the first hole, folio reaching outside the range, or folio it
// cannot take (those before it stay locked, in `small`).
bool collapse_lock_range(AddressSpace* m, pgoff_t start, std::vector<Folio*>& small, MmuGather& tlb) {
  const pgoff_t end = start + kPtrsPerTable;
  for (pgoff_t at = start; at < end;) {
    pgoff_t index = at;
    Folio* f = filemap_get_next_folio(m, &index, end - 1);
    if (!f) return false;
    if (index != at || index + f->nr_pages() > end || f->nr_pages() == kPtrsPerTable || !collapse_lock(m, f, tlb)) {
      folio_put(f);
      return false;
    }
    small.push_back(f);
    at += f->nr_pages();
  }
  return true;
}

// Copies the small folios into `huge` and swaps the cache slots; the small
// folios leave the cache and are freed.
void collapse_commit(AddressSpace* m, Folio* huge, const std::vector<Folio*>& small, pgoff_t start) {
  for (Folio* f : small)
    sync::copy_racy(huge->address() + ((f->first_index() - start) << PAGE_SHIFT), f->address(), f->size());
  huge->index.store(start, sync::relaxed);
  huge->set(PG_uptodate);
  {
    sync::Guard<sync::SpinLock> xa(m->i_pages.lock);
    huge->mapping.store(m, sync::relaxed);
    for (pgoff_t k = 0; k < huge->nr_pages(); ++k) m->i_pages.store(start + k, huge);
    for (Folio* f : small) f->mapping.store(nullptr, sync::release);
  }
  Kernel* k = m->host->kernel;
  k->lru_add(huge);
  for (Folio* f : small) {
    k->lru_del(f);
    folio_ref_unfreeze(f, 1);  // ours; the cache's went with the slot
  }
}

}  // namespace

bool collapse_file(Inode* inode, pgoff_t start) {
  AddressSpace* m = &inode->i_mapping;
  Kernel* k = inode->kernel;
  if (start + kPtrsPerTable > pages_of(inode->size())) return false;  // the whole range below EOF
  // Before any folio is locked: running out of memory later would leave
  // them locked (the gather makes its own room, zap_folio_in_vma).
  std::vector<Folio*> small;
  small.reserve(kPtrsPerTable);
  MmuGather tlb(k);
  Folio* huge = k->pool.alloc(9);
  if (!huge) return false;
  folio_trylock(huge);  // new: nobody else can hold it
  bool ok = collapse_lock_range(m, start, small, tlb);
  // One shootdown for every unmap (TTU_BATCH_FLUSH), and before any freeze:
  // a lookup spinning on a frozen folio inside its RCU read-side section
  // would hold the grace period up for ever.
  tlb.finish();
  size_t frozen = 0;
  while (ok && frozen < small.size() && collapse_freeze(k, small[frozen])) ++frozen;
  ok = ok && frozen == small.size();
  if (ok) {
    collapse_commit(m, huge, small, start);
    Counters::inc(k->stats.collapses);
  }
  for (size_t i = 0; i < small.size(); ++i) {
    if (!ok && i < frozen) folio_ref_unfreeze(small[i], 2);
    folio_unlock(small[i]);
    folio_put(small[i]);
  }
  folio_unlock(huge);
  if (!ok) folio_put(huge);
  return ok;
}

}  // namespace faultline::detail
