// src/mm/migrate.cc — moving cached folios to new frames.
//
// Owns: migrate_mapping_range and migrate_folio, in the kernel's order:
// lock the folio; replace its PTEs by migration entries (faults on them
// sleep until the folio is unlocked) and wait for the shootdown; freeze the
// reference count (fail if anyone else holds a reference: a read() copying
// from it, a fault about to map it); copy contents and flags, dirtiness
// included (G6); swap the cache slots under the i_pages lock; restore the
// PTEs, now pointing at the new folio; unlock, waking the faults.
#include "mm/internal.h"
#include "sync/racy.h"

namespace faultline::detail {

// Copies flags and contents, then swaps the cache slots (i_pages lock).
static void migrate_folio_move(AddressSpace* m, Folio* src, Folio* dst) {
  sync::copy_racy(dst->address(), src->address(), src->size());
  dst->set(src->flags.load(sync::relaxed) & (PG_uptodate | PG_dirty | PG_referenced));
  pgoff_t index = src->first_index();
  dst->index.store(index, sync::relaxed);
  {
    sync::Guard<sync::SpinLock> xa(m->i_pages.lock);
    dst->mapping.store(m, sync::relaxed);
    for (uint64_t k = 0; k < src->nr_pages(); ++k) m->i_pages.store(index + k, dst);
    src->mapping.store(nullptr, sync::release);
  }
  src->clear(PG_dirty);
  Kernel* k = m->host->kernel;
  k->lru_del(src);
  k->lru_add(dst);
}

namespace {
// Both folios locked for one migration; on leaving, by return or by an
// exception (out of memory splitting a PMD mapping, before any PTE
// changed), both are unlocked and dst is dropped unless it took src's place.
struct MigrationLocks {
  Folio* src;
  Folio* dst;
  bool moved = false;
  MigrationLocks(Folio* s, Folio* d) : src(s), dst(d) {
    folio_trylock(dst);  // new: nobody else can hold it
    folio_lock(src);
  }
  ~MigrationLocks() {
    folio_unlock(dst);
    folio_unlock(src);
    if (!moved) folio_put(dst);
  }
  MigrationLocks(const MigrationLocks&) = delete;
  MigrationLocks& operator=(const MigrationLocks&) = delete;
};
}  // namespace

// Migrates a referenced folio; the caller's reference stays the caller's.
static bool migrate_folio(Inode* inode, Folio* src) {
  AddressSpace* m = &inode->i_mapping;
  Kernel* k = inode->kernel;
  MmuGather tlb(k);
  Folio* dst = k->pool.alloc(src->folio_order());
  if (!dst) return false;
  MigrationLocks locks(src, dst);
  if (src->mapping.load(sync::relaxed) != m || !src->test(PG_uptodate)) return false;
  folio_wait_writeback(src);
  try_to_migrate(src, tlb);
  tlb.finish();
  // The cache's reference and the caller's; anything more and we back off.
  if (!folio_ref_freeze(src, 2)) {
    remove_migration_ptes(m, src, src);
    return false;
  }
  migrate_folio_move(m, src, dst);
  folio_ref_unfreeze(src, 1);  // the caller's; the cache's went with the slot
  remove_migration_ptes(m, src, dst);
  Counters::inc(k->stats.folios_migrated);
  locks.moved = true;
  return true;
}

uint64_t migrate_mapping_range(Inode* inode, pgoff_t start, pgoff_t end) {
  uint64_t moved = 0;
  pgoff_t index = start;
  while (Folio* f = filemap_get_next_folio(&inode->i_mapping, &index, end)) {
    index = f->first_index() + f->nr_pages();
    moved += migrate_folio(inode, f);
    folio_put(f);
  }
  return moved;
}

}  // namespace faultline::detail
