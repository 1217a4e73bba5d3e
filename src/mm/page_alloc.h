// src/mm/page_alloc.h — the frame pool: the machine's RAM.
//
// Owns: a fixed number of 4 KiB frames in one anonymous mapping, one Folio
// struct per frame (only a folio's first frame's struct is used), and a
// buddy allocator over them for orders 0..max_order.
//
// Locking: the zone lock (a spinlock) guards the free lists and the buddy
// bookkeeping. Frames are handed out with refcount 1 and come back through
// folio_put() when the count drops to zero, which the engine only lets
// happen after the folio is unmapped and a grace period has passed (G3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "mm/folio.h"
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
  uint64_t nr_free() const { return nr_free_.load(sync::relaxed); }
  unsigned max_order() const { return max_order_; }
  // Set once, before any folio is handed out (the protocol's choice).
  void set_folio_lock_kind(FolioLockKind kind) {
    for (uint64_t pfn = 0; pfn < nr_frames_; ++pfn) folios_[pfn].lock_kind = kind;
  }

 private:
  static constexpr uint8_t kNotFree = 0xff;
  void list_add(uint64_t pfn, unsigned order);
  void list_del(uint64_t pfn, unsigned order);
  void free_block(uint64_t pfn, unsigned order);
  void poison(uint64_t pfn, unsigned order, bool on);

  uint64_t nr_frames_;
  unsigned max_order_;
  bool poison_;
  std::byte* base_ = nullptr;
  std::unique_ptr<Folio[]> folios_;
  sync::SpinLock zone_lock_{sync::LockClass::zone_lock};
  // Free-list bookkeeping, guarded by zone_lock_: the order of a free block
  // starting at a pfn (kNotFree otherwise) and the doubly linked free lists.
  std::vector<uint8_t> free_order_;
  std::vector<uint32_t> next_, prev_;
  std::vector<int64_t> head_;
  sync::Atomic<uint64_t> nr_free_{0};
};

}  // namespace faultline::detail
