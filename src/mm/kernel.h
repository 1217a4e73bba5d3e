// src/mm/kernel.h — the machine-wide state of one Engine.
//
// Owns: the configuration, the frame pool, the protocol, the LRU of cached
// folios, the statistics and the list of live address spaces.
//
// Locks: lru_lock guards the LRU list, nr_lru and PG_lru; mms_lock guards
// `mms`.
#pragma once

#include <memory>
#include <set>

#include "faultline/engine.h"
#include "mm/folio.h"
#include "mm/page_alloc.h"
#include "protocol/protocol.h"
#include "sync/atomic.h"
#include "sync/rwsem.h"
#include "sync/spinlock.h"

namespace faultline::detail {

struct MmStruct;

struct Counters {
  sync::StatCounter faults, fault_retries, fault_around_maps, pmd_maps, pmd_splits, folios_created, folios_reclaimed, folios_migrated,
      writebacks, shootdowns, collapses, collapse_mapped_races, folios_split, split_lookup_races;
  static void inc(sync::StatCounter& c, uint64_t n = 1) { c.add(n); }
};

class Kernel {
 public:
  explicit Kernel(const Config& c);
  ~Kernel();

  // A folio of `order` for the page cache or an anonymous page; reclaims
  // and retries when the pool is empty, falls back to smaller orders when
  // `may_shrink`. Throws Error(out_of_memory) when nothing can be freed.
  Folio* alloc_folio(unsigned order, bool may_shrink, unsigned* got_order);

  // The LRU of page-cache folios (vmscan.cc).
  void lru_add(Folio* f);
  void lru_del(Folio* f);
  uint64_t shrink_lru(uint64_t nr_frames);

  Config config;
  FramePool pool;
  Protocol protocol;
  Counters stats;

  sync::SpinLock lru_lock{sync::LockClass::lru_lock};
  Folio lru_head;      // sentinel: lru_next is the most recently added
  uint64_t nr_lru = 0;  // folios on the LRU list

  sync::Mutex mms_lock;
  std::set<MmStruct*> mms;
  uint64_t next_mm_id = 0;  // mms_lock
  // Reclaim by several threads at once only wastes work.
  sync::Mutex reclaim_lock{sync::LockClass::reclaim};
};

}  // namespace faultline::detail
