// src/mm/page_alloc.h — the frame pool: the machine's RAM.
//
// Owns: a fixed number of 4 KiB frames in one anonymous mapping, one Folio
// struct per frame (only a folio's first frame's struct is used), and a
// buddy allocator over them for orders 0..max_order.
//
// Per-CPU page lists (the kernel's per_cpu_pages, "pcp"): a CPU frees
// single frames onto a list of its own and allocates single frames from
// it, going to the buddy lists a batch at a time. Without them every
// allocation and free takes the one zone lock, which costs natively when
// CPUs fault at once, and makes the model checker treat a fault's one
// allocation as racing with each of the 512 frees of a collapse.
//
// Locking: the zone lock (a spinlock) guards the buddy free lists and
// their bookkeeping; each per-CPU list's own lock guards that list (held
// by its CPU, or by a drain from elsewhere) and is taken before the zone
// lock. Frames on a per-CPU list count as free but do not merge with their
// buddies until drained, which an allocation the buddy lists cannot meet
// does before it fails (drain_all_pages). Frames are handed out with
// refcount 1 and come back through folio_put() when the count drops to
// zero, which the engine only lets happen after the folio is unmapped and
// a grace period has passed (G3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "mm/folio.h"
#include "sync/cpu_local.h"
#include "sync/spinlock.h"

namespace faultline::detail {

class FramePool {
 public:
  FramePool(uint64_t nr_frames, unsigned max_order, bool poison_freed);
  ~FramePool();
  FramePool(const FramePool&) = delete;
  FramePool& operator=(const FramePool&) = delete;

  // A folio of 2^order frames with refcount 1 and no flags, or nullptr.
  Folio* alloc(unsigned order);
  // Returns a folio whose refcount reached zero.
  void free(Folio* folio);

  std::byte* address(const Folio* f) const { return frame_address(f->pfn); }
  std::byte* frame_address(uint64_t pfn) const { return base_ + (pfn << PAGE_SHIFT); }
  Folio* pfn_to_folio(uint64_t pfn) const { return &folios_[pfn]; }
  uint64_t nr_frames() const { return nr_frames_; }
  // Frames free, on the buddy lists or a per-CPU list.
  uint64_t nr_free() const { return nr_free_.read(); }
  unsigned max_order() const { return max_order_; }
  // Set once, before any folio is handed out (the protocol's choice).
  void set_folio_lock_kind(FolioLockKind kind) {
    for (uint64_t pfn = 0; pfn < nr_frames_; ++pfn) folios_[pfn].lock_kind = kind;
  }

 private:
  static constexpr uint8_t kNotFree = 0xff;
  static constexpr uint32_t kNil = UINT32_MAX;
  // One CPU's list of free single frames, a stack linked through next_.
  struct alignas(64) PerCpuPages {
    sync::SpinLock lock{sync::LockClass::pcp};
    uint32_t count = 0;  // guarded by lock, as is the list
    uint32_t head = kNil;
  };
  // The buddy lists (zone_lock_ held).
  void list_add(uint64_t pfn, unsigned order);
  void list_del(uint64_t pfn, unsigned order);
  bool rmqueue_smallest(unsigned order, uint64_t* pfn);
  void free_block(uint64_t pfn, unsigned order);
  // The per-CPU lists (their lock held).
  void pcp_push(PerCpuPages& pcp, uint64_t pfn);
  uint64_t pcp_pop(PerCpuPages& pcp);
  void rmqueue_bulk(PerCpuPages& pcp);
  void free_pcppages_bulk(PerCpuPages& pcp, uint32_t n);
  // Whole operations, taking the locks they need.
  bool rmqueue_pcplist(uint64_t* pfn);
  bool rmqueue_buddy(unsigned order, uint64_t* pfn);
  void free_unref_frame(uint64_t pfn);
  void drain_all_pages();
  Folio* prep_new_folio(uint64_t pfn, unsigned order);
  void poison(uint64_t pfn, unsigned order, bool on);

  uint64_t nr_frames_;
  unsigned max_order_;
  bool poison_;
  std::byte* base_ = nullptr;
  std::unique_ptr<Folio[]> folios_;
  // A per-CPU list refills and drains this many frames at a time, and
  // holds at most pcp_high_ (both scale with the pool, as the kernel's
  // pcp->batch and pcp->high scale with the zone).
  uint32_t pcp_batch_, pcp_high_;
  PerCpuPages pcp_[sync::kCpuSlots];
  sync::SpinLock zone_lock_{sync::LockClass::zone_lock};
  // Free-list bookkeeping, guarded by zone_lock_: the order of a free block
  // starting at a pfn (kNotFree otherwise) and the doubly linked free lists.
  std::vector<uint8_t> free_order_;
  std::vector<uint32_t> next_, prev_;
  std::vector<int64_t> head_;
  // Reported, never decided on: a statistic, so that every allocation and
  // free is not one more write to one shared word (the checker would see
  // each as dependent on all the others).
  sync::StatCounter nr_free_;
};

}  // namespace faultline::detail
