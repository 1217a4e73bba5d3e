// src/mm/huge_memory.cc — splitting a large page-cache folio into order-0
// folios.
//
// Owns: split_folio (split_huge_page_to_list_to_order, to order 0), which
// truncate uses on a folio that EOF or a hole cuts through, so that the
// pages past the cut leave the cache instead of being zeroed and kept; and
// split_mapping_range (debugfs split_huge_pages for a file range, and what
// reclaim does to a large folio it splits), behind File::split_huge_pages.
//
// Locking, in the kernel's order: the caller holds the folio lock and one
// reference. The folio is unmapped everywhere (and shot down); its
// reference count is frozen at what the cache and the caller hold — any
// other reference (a lookup, a fault about to map it, a read() copying
// from it) and the split backs off, changing nothing; then, under the
// i_pages lock, every page after the first becomes a folio of its own,
// born locked with the cache's reference, and its slot points at it; the
// first page keeps the caller's lock and reference. A lookup that loaded
// the old folio from a slot before the split and took its reference after
// it holds the first page's folio: the lookup re-checks the slot it looked
// up, which now holds another folio, and looks again (mm/filemap.c's
// xas_reload; the fault's folio_contains check behind it).
#include "mm/internal.h"

namespace faultline::detail {

// A page of a frozen large folio as a folio of its own, not yet in any
// slot: nobody can hold it, so the trylock takes it.
static void make_tail_folio(Folio* t, AddressSpace* m, pgoff_t index, uint32_t flags) {
  t->order.store(0, sync::relaxed);
  t->mapcount.store(0, sync::relaxed);
  t->index.store(index, sync::relaxed);
  t->mapping.store(m, sync::relaxed);
  t->flags.store(flags, sync::relaxed);
  folio_trylock(t);
  t->refcount.store(1, sync::release);  // the cache's
}

bool split_folio(AddressSpace* m, Folio* f, MmuGather& tlb) {
  uint64_t nr = f->nr_pages();
  if (nr == 1) return true;
  Kernel* k = m->host->kernel;
  folio_unmap(m, f, tlb, IMmap::take);
  tlb.finish();  // the references of every PTE it zapped, the caller's earlier zaps' too
  if (!folio_ref_freeze(f, 2)) return false;  // the cache's and the caller's, nothing more
  pgoff_t index = f->first_index();
  uint32_t flags = f->flags.load(sync::relaxed) & (PG_uptodate | PG_dirty | PG_referenced);
  for (uint64_t i = 1; i < nr; ++i) make_tail_folio(k->pool.pfn_to_folio(f->pfn + i), m, index + i, flags);
  {
    sync::Guard<sync::SpinLock> xa(m->i_pages.lock);
    for (uint64_t i = 1; i < nr; ++i) m->i_pages.store(index + i, k->pool.pfn_to_folio(f->pfn + i));
    f->order.store(0, sync::release);
  }
  folio_ref_unfreeze(f, 2);
  for (uint64_t i = 1; i < nr; ++i) {
    Folio* t = k->pool.pfn_to_folio(f->pfn + i);
    k->lru_add(t);
    folio_unlock(t);
  }
  Counters::inc(k->stats.folios_split);
  return true;
}

uint64_t split_mapping_range(Inode* inode, pgoff_t start, pgoff_t end) {
  AddressSpace* m = &inode->i_mapping;
  MmuGather tlb(inode->kernel);
  uint64_t split = 0;
  pgoff_t index = start;
  while (Folio* f = filemap_get_next_folio(m, &index, end)) {
    index = f->first_index() + f->nr_pages();
    if (f->nr_pages() > 1) {
      folio_lock(f);
      if (f->mapping.load(sync::relaxed) == m && !f->test(PG_writeback)) split += split_folio(m, f, tlb);
      folio_unlock(f);
    }
    folio_put(f);
    if (index == 0) break;  // wrapped past the last index
  }
  return split;
}

}  // namespace faultline::detail
