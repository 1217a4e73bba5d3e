// src/mm/vmscan.cc — the LRU and reclaim.
//
// Owns: the LRU list of page-cache folios (lru_add/lru_del under lru_lock)
// and shrink_lru, reclaim in the kernel's order (shrink_folio_list):
// isolate a batch from the cold end, giving referenced folios a second
// chance; try-lock each (reclaim never sleeps on a folio another thread
// holds); unmap the mapped ones (i_mmap_rwsem try-locked) and wait for one
// shootdown for the batch; write dirty ones back (G6: nothing is dropped
// dirty); freeze the reference count, so that nobody can take a new
// reference, and remove the folio from the cache; free it.
//
// Called from alloc_folio when the frame pool is empty, and by
// Engine::reclaim. reclaim_lock serializes reclaimers.
#include <algorithm>
#include <vector>

#include "mm/internal.h"

namespace faultline::detail {

// Links at the hot end; lru_lock held.
static void lru_link(Kernel* k, Folio* f) {
  f->lru_prev = &k->lru_head;
  f->lru_next = k->lru_head.lru_next;
  k->lru_head.lru_next->lru_prev = f;
  k->lru_head.lru_next = f;
  ++k->nr_lru;
}

// lru_lock held.
static void lru_unlink(Kernel* k, Folio* f) {
  f->lru_prev->lru_next = f->lru_next;
  f->lru_next->lru_prev = f->lru_prev;
  --k->nr_lru;
}

void Kernel::lru_add(Folio* f) {
  sync::Guard<sync::SpinLock> g(lru_lock);
  lru_link(this, f);
  f->set(PG_lru);
}

void Kernel::lru_del(Folio* f) {
  sync::Guard<sync::SpinLock> g(lru_lock);
  if (!f->test_and_clear(PG_lru)) return;
  lru_unlink(this, f);
  f->lru_prev = f->lru_next = nullptr;
}

namespace {

// Takes up to `max` referenced folios off the cold end, moving recently
// referenced ones back to the hot end instead.
std::vector<Folio*> isolate_folios(Kernel* k, size_t max, uint64_t* scan_budget) {
  std::vector<Folio*> batch;
  batch.reserve(max);  // before any folio leaves the LRU: running out of memory here changes nothing
  sync::Guard<sync::SpinLock> g(k->lru_lock);
  while (batch.size() < max && *scan_budget > 0) {
    Folio* f = k->lru_head.lru_prev;
    if (f == &k->lru_head) break;
    --*scan_budget;
    // Unlink; referenced or busy folios go back to the hot end.
    lru_unlink(k, f);
    bool keep = f->test_and_clear(PG_referenced) || !folio_try_get(f);
    if (keep) {
      lru_link(k, f);
      continue;
    }
    f->clear(PG_lru);
    batch.push_back(f);
  }
  return batch;
}

// Back to the LRU, unless it left the cache meanwhile: the remover's
// lru_del runs after it cleared `mapping`, so deciding under lru_lock is
// race free.
void putback_folio(Kernel* k, Folio* f) {
  {
    sync::Guard<sync::SpinLock> g(k->lru_lock);
    if (f->mapping.load(sync::acquire)) {
      lru_link(k, f);
      f->set(PG_lru);
    }
  }
  folio_put(f);
}

// The second half of shrink_folio_list for one locked, unmapped folio:
// write back if dirty, freeze, remove, free. Returns frames freed.
uint64_t reclaim_folio(Folio* f) {
  AddressSpace* m = f->mapping.load(sync::relaxed);
  if (!m || folio_mapped(f) || f->test(PG_writeback)) return 0;
  if (f->test(PG_dirty) && folio_writeback(m->host, f) != 0) return 0;
  // The cache's reference and ours: a fault about to map the folio holds
  // one too, so the freeze keeps every protocol's faults out.
  if (!folio_ref_freeze(f, 2)) return 0;
  filemap_remove_frozen_folio(f);
  return f->nr_pages();
}

}  // namespace

uint64_t Kernel::shrink_lru(uint64_t nr_frames) {
  sync::Guard<sync::Mutex> serial(reclaim_lock);
  uint64_t freed = 0;
  // Each folio on the LRU may be scanned twice: once to clear its
  // referenced bit, once to reclaim it.
  uint64_t budget = 0;
  {
    sync::Guard<sync::SpinLock> g(lru_lock);
    budget = 2 * nr_lru;
  }
  // Every allocation before a folio leaves the LRU: running out of memory
  // later would strand isolated or locked folios.
  constexpr size_t kBatch = 32;
  std::vector<Folio*> locked;
  locked.reserve(kBatch);
  while (freed < nr_frames && budget > 0) {
    MmuGather tlb(this);
    std::vector<Folio*> batch = isolate_folios(this, kBatch, &budget);
    if (batch.empty()) break;
    locked.clear();
    for (Folio* f : batch) {
      if (!folio_trylock(f)) {
        putback_folio(this, f);
        continue;
      }
      AddressSpace* m = f->mapping.load(sync::relaxed);
      if (m && (!folio_mapped(f) || folio_unmap(m, f, tlb, IMmap::trylock))) {
        locked.push_back(f);
        continue;
      }
      folio_unlock(f);
      putback_folio(this, f);
    }
    tlb.finish();  // one shootdown for the batch
    for (Folio* f : locked) {
      uint64_t n = reclaim_folio(f);
      folio_unlock(f);
      if (n) {
        pool.free(f);  // frozen at zero: nobody else can hold it
        freed += n;
        Counters::inc(stats.folios_reclaimed);
      } else {
        putback_folio(this, f);
      }
    }
  }
  return freed;
}

}  // namespace faultline::detail
