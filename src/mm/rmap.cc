// src/mm/rmap.cc — the reverse map: from a file's pages to the PTEs that
// map them.
//
// Owns: i_mmap (the VMAs mapping each file) and the walks over it:
// unmap_mapping_pages (killers), folio_unmap (try_to_unmap: reclaim and
// killers re-checking a locked folio), folio_mkclean (writeback), and the
// migration-entry walks.
//
// Locks: i_mmap_rwsem exclusive to link/unlink a VMA (mmap/munmap, with
// mmap_lock held for writing); shared for every walk, taken after the folio
// lock where there is one (folio lock -> i_mmap_rwsem -> PTL, as in the
// kernel's mm/rmap.c). Reclaim only try-locks it.
#include <algorithm>

#include "mm/internal.h"

namespace faultline::detail {

bool VmaOrder::operator()(const Vma* a, const Vma* b) const {
  return a->mm->id != b->mm->id ? a->mm->id < b->mm->id : a->start < b->start;
}

IMmapNode vma_prealloc_file(Vma* vma) {
  std::set<Vma*, VmaOrder> one{vma};
  return one.extract(one.begin());
}

void vma_link_file(IMmapNode node) {
  AddressSpace* m = &node.value()->file->i_mapping;
  sync::WriteGuard g(m->i_mmap_rwsem);
  m->i_mmap.insert(std::move(node));
}

void vma_unlink_file(Vma* vma) {
  AddressSpace* m = &vma->file->i_mapping;
  sync::WriteGuard g(m->i_mmap_rwsem);
  m->i_mmap.erase(vma);
}

// Calls fn(vma, first, last) for every VMA mapping a page of [start, last].
// i_mmap_rwsem held by the caller.
template <class Fn>
static void for_each_vma_in(AddressSpace* m, pgoff_t start, pgoff_t last, Fn fn) {
  for (Vma* vma : m->i_mmap) {
    pgoff_t lo = std::max(start, vma->pgoff), hi = std::min(last, vma->last_index());
    if (lo <= hi) fn(vma, lo, hi);
  }
}

void unmap_mapping_pages(AddressSpace* mapping, pgoff_t start, pgoff_t nr, bool even_cows, MmuGather& tlb) {
  pgoff_t last = nr ? start + nr - 1 : UINT64_MAX;
  sync::ReadGuard g(mapping->i_mmap_rwsem);
  for_each_vma_in(mapping, start, last, [&](Vma* vma, pgoff_t lo, pgoff_t hi) {
    zap_vma_range(vma, vma->addr_of(lo), vma->addr_of(hi) + PAGE_SIZE, even_cows, tlb);
  });
}

void unmap_mapping_range(AddressSpace* mapping, uint64_t holebegin, uint64_t holelen, bool even_cows,
                         MmuGather& tlb) {
  pgoff_t start = holebegin >> PAGE_SHIFT;
  pgoff_t nr = holelen ? pages_of(holelen) : 0;
  unmap_mapping_pages(mapping, start, nr, even_cows, tlb);
}

bool folio_unmap(AddressSpace* m, Folio* folio, MmuGather& tlb, IMmap i_mmap) {
  if (i_mmap == IMmap::trylock && !m->i_mmap_rwsem.down_read_trylock()) return false;
  if (i_mmap == IMmap::take) m->i_mmap_rwsem.down_read();
  pgoff_t first = folio->first_index();
  for_each_vma_in(m, first, first + folio->nr_pages() - 1,
                  [&](Vma* vma, pgoff_t, pgoff_t) { zap_folio_in_vma(vma, folio, tlb); });
  if (i_mmap != IMmap::held) m->i_mmap_rwsem.up_read();
  return true;
}

// Calls fn(vma, pte, page) under the PTL for every PTE slot of a shared or
// private VMA that could map `folio`'s pages, i_mmap_rwsem held shared.
template <class Fn>
static void for_each_folio_pte(AddressSpace* m, Folio* folio, Fn fn) {
  sync::ReadGuard g(m->i_mmap_rwsem);
  pgoff_t first = folio->first_index();
  for_each_vma_in(m, first, first + folio->nr_pages() - 1, [&](Vma* vma, pgoff_t lo, pgoff_t hi) {
    for_each_pte_locked(vma, lo, hi, [&](sync::Atomic<pte_t>* pte, pgoff_t i) { fn(vma, pte, i - first); });
  });
}

// Calls fn(vma, slot, entry) under page_table_lock for every PMD mapping
// of `folio` (i_mmap_rwsem held shared).
template <class Fn>
static void for_each_folio_pmd(AddressSpace* m, Folio* folio, Fn fn) {
  if (folio->nr_pages() != kPtrsPerTable) return;
  sync::ReadGuard g(m->i_mmap_rwsem);
  pgoff_t first = folio->first_index();
  for_each_vma_in(m, first, first, [&](Vma* vma, pgoff_t, pgoff_t) {
    sync::Atomic<void*>* slot = vma->mm->pmd_slot(vma->addr_of(first));
    if (!slot) return;
    sync::Guard<sync::SpinLock> ptl(vma->mm->page_table_lock);
    void* e = slot->load(sync::relaxed);
    if (pmd_huge(e) && pmd_pfn(e) == folio->pfn) fn(vma, slot, e);
  });
}

bool folio_mkclean(Folio* folio) {
  AddressSpace* m = folio->mapping.load(sync::relaxed);
  if (!m) return false;
  bool changed = false;
  for_each_folio_pmd(m, folio, [&](Vma* vma, sync::Atomic<void*>* slot, void* e) {
    if (!pmd_write(e)) return;
    slot->store(reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(e) & ~PMD_WRITE), sync::release);
    flush_tlb_mm(vma->mm);
    changed = true;
  });
  for_each_folio_pte(m, folio, [&](Vma* vma, sync::Atomic<pte_t>* pte, uint64_t) {
    pte_t p = pte->load(sync::relaxed);
    if (vma->shared && pte_present(p) && pte_write(p) && pte_pfn(p) == folio->pfn) {
      pte->store(p & ~PTE_WRITE, sync::release);
      flush_tlb_mm(vma->mm);  // a writable entry would let stores past the clean
      changed = true;
    }
  });
  return changed;
}

void try_to_migrate(Folio* src, MmuGather& tlb) {
  AddressSpace* m = src->mapping.load(sync::relaxed);
  tlb.make_room(1);  // every add is of src: one entry
  // A PMD mapping is split first: migration entries are per PTE.
  for_each_folio_pmd(m, src, [&](Vma* vma, sync::Atomic<void*>* slot, void*) { split_huge_pmd_locked(vma->mm, slot); });
  for_each_folio_pte(m, src, [&](Vma* vma, sync::Atomic<pte_t>* pte, uint64_t page) {
    pte_t p = pte->load(sync::relaxed);
    if (!pte_present(p) || pte_pfn(p) != src->pfn) return;
    pte->store(mk_migration_pte(src, page), sync::release);
    flush_tlb_mm(vma->mm);
    src->mapcount.fetch_sub(1, sync::relaxed);
    tlb.add(src);
  });
}

void remove_migration_ptes(AddressSpace* m, Folio* src, Folio* dst) {
  for_each_folio_pte(m, dst, [&](Vma*, sync::Atomic<pte_t>* pte, uint64_t page) {
    if (pte->load(sync::relaxed) != mk_migration_pte(src, page)) return;
    folio_get(dst);
    dst->mapcount.fetch_add(1, sync::relaxed);
    pte->store(mk_pte(dst, page, false), sync::release);
  });
}

}  // namespace faultline::detail
