// src/mm/folio.h — struct folio: 2^order contiguous frames with one state.
//
// Owns: the folio flags (PG_locked, PG_uptodate, PG_dirty, PG_writeback,
// ...), the reference count, the map count, the owner `mapping` and the file
// `index`. The Folio structs live in the frame pool for the life of the
// Engine and are reused, never freed (SLAB_TYPESAFE_BY_RCU in spirit): an
// RCU lookup may take a speculative reference with folio_try_get() on a
// folio that was freed meanwhile, and must re-check the cache slot after.
//
// Locking: flags are atomic bits; PG_locked is the folio lock (a sleeping bit
// lock). `mapping` and `index` change only under the folio lock and the
// i_pages lock (insertion, removal, migration). `mapcount` changes under the
// page-table lock of the PTE that maps the page. lru_prev/lru_next belong to
// the frame pool while the folio is free and to the LRU lock while cached.
#pragma once

#include "mm/seeded_bug.h"

#include <cstddef>
#include <cstdint>

#include "sync/atomic.h"
#include "sync/bit_wait.h"
#include "sync/ticket_lock.h"

namespace faultline::detail {

struct AddressSpace;
class FramePool;

inline constexpr unsigned PAGE_SHIFT = 12;
inline constexpr uint64_t PAGE_SIZE = uint64_t{1} << PAGE_SHIFT;
using pgoff_t = uint64_t;

enum : uint32_t {
  PG_locked = 1u << 0,
  PG_waiters = 1u << 1,
  PG_uptodate = 1u << 2,
  PG_dirty = 1u << 3,
  PG_writeback = 1u << 4,
  PG_referenced = 1u << 5,
  PG_anon = 1u << 6,
  PG_lru = 1u << 7,
  PG_error = 1u << 8,
  PG_handoff = 1u << 9,  // a waiter asked for the lock to be handed over (FolioLockKind::handoff)
  PG_handed = 1u << 10,  // ... and an unlock handed it: the asker owns it
};

// How the folio lock passes between threads: the protocol's choice
// (MapGuard::folio_lock_kind), fixed before first use.
enum class FolioLockKind : uint8_t {
  handoff,  // Linux 5.9 to today: unfair, but a waiter woken 5 times in vain is handed it
  unfair,   // before 5.9: whoever gets there first, for ever
  fair,     // 5.9-rc: FIFO hand-off to the first waiter, always
};
// sysctl_page_lock_unfairness: wake-ups a waiter lets pass before it asks.
inline constexpr unsigned kPageLockUnfairness = 5;

struct Folio {
  sync::Atomic<uint32_t> flags{0};
  sync::Atomic<int32_t> refcount{0};
  sync::Atomic<int32_t> mapcount{0};
  sync::Atomic<AddressSpace*> mapping{nullptr};
  sync::Atomic<pgoff_t> index{0};
  sync::Atomic<uint32_t> order{0};
  sync::Atomic<uint32_t> lock_tickets{0};  // the fair folio lock (page_lock_fair)
  uint32_t pfn = 0;           // fixed: the first frame
  FramePool* pool = nullptr;  // fixed
  FolioLockKind lock_kind = FolioLockKind::handoff;  // fixed before first use
  Folio* lru_prev = nullptr;
  Folio* lru_next = nullptr;

  unsigned folio_order() const { return order.load(sync::relaxed); }
  uint64_t nr_pages() const { return uint64_t{1} << folio_order(); }
  uint64_t size() const { return nr_pages() << PAGE_SHIFT; }
  pgoff_t first_index() const { return index.load(sync::relaxed); }
  // The bytes of the folio (all pages, contiguous).
  std::byte* address() const;

  bool test(uint32_t flag) const { return flags.load(sync::acquire) & flag; }
  void set(uint32_t flag) { flags.fetch_or(flag, sync::release); }
  void clear(uint32_t flag) { flags.fetch_and(~flag, sync::release); }
  // Sets the flag, returns whether it was set before.
  bool test_and_clear(uint32_t flag) { return flags.fetch_and(~flag, sync::acq_rel) & flag; }
};

// folio_contains(): whether `index` is one of the folio's pages.
inline bool folio_contains(const Folio* f, pgoff_t index) {
  return index >= f->first_index() && index - f->first_index() < f->nr_pages();
}

// folio_try_get(): a speculative reference, refused once the count is zero
// (the folio is free, or frozen by migration or reclaim).
inline bool folio_try_get(Folio* f) {
  int32_t r = f->refcount.load(sync::relaxed);
  while (r > 0)
    if (f->refcount.cmpxchg(r, r + 1, FL_SEEDED(try_get_relaxed) ? sync::relaxed : sync::acquire)) return true;
  return false;
}
// folio_ref_add()/folio_ref_sub(): `nr` references at once, for a caller
// that holds one already (so a sub never drops the last).
inline void folio_ref_add(Folio* f, int32_t nr) { f->refcount.fetch_add(nr, sync::relaxed); }
inline void folio_ref_sub(Folio* f, int32_t nr) { f->refcount.fetch_sub(nr, sync::release); }
inline void folio_get(Folio* f) { folio_ref_add(f, 1); }
// Drops a reference; the last one returns the frames to the pool.
void folio_put(Folio* f);
// Drops `nr` references at once (folio_put_refs), the last ones too.
void folio_put_refs(Folio* f, int32_t nr);
// folio_ref_freeze(): takes the count from `expected` to 0, failing if any
// other reference exists.
inline bool folio_ref_freeze(Folio* f, int32_t expected) {
  return f->refcount.cmpxchg(expected, 0, sync::acq_rel);
}
inline void folio_ref_unfreeze(Folio* f, int32_t count) { f->refcount.store(count, sync::release); }

// The folio lock: PG_locked, a sleeping bit lock, with hand-off after
// kPageLockUnfairness vain wake-ups (or without: FolioLockKind::unfair);
// when the protocol asks for fair locks (page_lock_fair), a FIFO ticket
// lock that also keeps PG_locked set while held, so that trylock-and-skip
// and waiters on the bit still work.
constexpr sync::HandoffBits kFolioLockBits{PG_locked, PG_waiters, PG_handoff, PG_handed};
inline bool folio_locks_fair(const Folio* f) { return f->lock_kind == FolioLockKind::fair; }
inline void folio_lock(Folio* f) {
  switch (f->lock_kind) {
    case FolioLockKind::handoff:
      sync::bit_lock_handoff(f->flags, kFolioLockBits, kPageLockUnfairness, sync::LockClass::folio_lock);
      break;
    case FolioLockKind::unfair:
      sync::bit_lock(f->flags, PG_locked, PG_waiters, sync::LockClass::folio_lock);
      break;
    case FolioLockKind::fair:
      sync::ticket_lock(f->lock_tickets, sync::LockClass::folio_lock);
      f->flags.fetch_or(PG_locked, sync::acquire);
      break;
  }
}
inline bool folio_trylock(Folio* f) {
  if (!folio_locks_fair(f)) return sync::bit_trylock(f->flags, PG_locked);
  if (!sync::ticket_trylock(f->lock_tickets)) return false;
  f->flags.fetch_or(PG_locked, sync::acquire);
  return true;
}
inline void folio_unlock(Folio* f) {
  if (f->lock_kind == FolioLockKind::handoff) {
    sync::bit_unlock_handoff(f->flags, kFolioLockBits);
    return;
  }
  sync::bit_unlock(f->flags, PG_locked, PG_waiters);
  if (folio_locks_fair(f)) sync::ticket_unlock(f->lock_tickets);
}
inline void folio_wait_locked(Folio* f) { sync::bit_wait_clear(f->flags, PG_locked, PG_waiters, sync::LockClass::folio_lock); }
inline void folio_wait_writeback(Folio* f) { sync::bit_wait_clear(f->flags, PG_writeback, PG_waiters, sync::LockClass::writeback); }
inline void folio_end_writeback(Folio* f) { sync::bit_unlock(f->flags, PG_writeback, PG_waiters); }
inline bool folio_mapped(const Folio* f) { return f->mapcount.load(sync::acquire) > 0; }

// folio_mark_accessed(): the LRU's second chance.
inline void folio_mark_accessed(Folio* f) {
  if (!(f->flags.load(sync::relaxed) & PG_referenced)) f->set(PG_referenced);
}

}  // namespace faultline::detail
