// src/mm/page_alloc.cc — buddy allocation of frames (see page_alloc.h).
#include "mm/page_alloc.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

#include "faultline/error.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define FL_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define FL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define FL_POISON(p, n) ((void)(p), (void)(n))
#define FL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace faultline::detail {
namespace {
constexpr int kPoisonFree = 0x6b;  // POISON_FREE, as the kernel's slab debug
}  // namespace

// The pool's bookkeeping (a Folio struct and free-list links per frame) is
// allocated up front, unlike the frames, which are only reserved: refuse a
// pool whose bookkeeping alone would not fit in this machine's memory,
// naming the sizes, rather than let the allocation abort.
static uint64_t fitting(uint64_t nr_frames) {
  const uint64_t per_frame = sizeof(Folio) + 1 + 2 * sizeof(uint32_t);
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  uint64_t ram = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : UINT64_MAX;
  if (nr_frames > ram / per_frame)
    throw Error(Errc::out_of_memory, "frame pool of " + std::to_string(nr_frames) + " frames needs " +
                                         std::to_string(nr_frames / (1u << 20) * per_frame) +
                                         " MiB of bookkeeping; this machine has " + std::to_string(ram >> 20) +
                                         " MiB");
  return nr_frames;
}

// The frames' mapping outlives its pool, kept for the next pool of the
// same size on this thread: the model checker builds a world for every
// execution, and a fresh mapping each time (its munmap a TLB flush, then a
// page fault per frame touched) cost more than the execution itself.
namespace {
constexpr uint64_t kCachedBytes = uint64_t{64} << 20;  // larger pools map and unmap
struct CachedMapping {
  void* p = nullptr;
  uint64_t bytes = 0;
  ~CachedMapping() {
    if (p) ::munmap(p, bytes);
  }
};
thread_local CachedMapping t_cached;

// A mapping of `bytes`, zero-filled whether new or reused; a reused one
// is left as it was when the caller fills it anyway (`filled`: poisoning).
void* map_frames(uint64_t bytes, bool filled) {
  if (t_cached.p && t_cached.bytes == bytes) {
    void* p = std::exchange(t_cached.p, nullptr);
    if (!filled) std::memset(p, 0, bytes);
    return p;
  }
  return ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
}

void unmap_frames(void* p, uint64_t bytes) {
  if (bytes > kCachedBytes) {
    ::munmap(p, bytes);
    return;
  }
  if (t_cached.p) ::munmap(t_cached.p, t_cached.bytes);
  t_cached.p = p;
  t_cached.bytes = bytes;
}
}  // namespace

// A per-CPU list's batch and high mark: a 2,048-frame pool (the checker's
// 2 MiB worlds) keeps a collapse's 512 freed frames on its CPU's list; a
// large pool strands at most 1,024 frames a CPU, 63 moved at a time (the
// kernel's largest pcp->batch).
static uint32_t pcp_batch(uint64_t nr_frames) { return static_cast<uint32_t>(std::clamp<uint64_t>(nr_frames / 256, 1, 63)); }
static uint32_t pcp_high(uint64_t nr_frames) {
  return static_cast<uint32_t>(std::clamp<uint64_t>(nr_frames / 4, pcp_batch(nr_frames), 1024));
}

FramePool::FramePool(uint64_t nr_frames, unsigned max_order, bool poison_freed)
    : nr_frames_(fitting(nr_frames)), max_order_(max_order), poison_(poison_freed),
      folios_(new Folio[nr_frames]), pcp_batch_(pcp_batch(nr_frames)), pcp_high_(pcp_high(nr_frames)),
      free_order_(nr_frames, kNotFree),
      next_(nr_frames, kNil), prev_(nr_frames, kNil), head_(max_order + 1, -1) {
  void* p = map_frames(nr_frames << PAGE_SHIFT, poison_freed);
  if (p == MAP_FAILED)
    throw Error(Errc::out_of_memory, "frame pool: cannot map " + std::to_string(nr_frames) + " frames");
  base_ = static_cast<std::byte*>(p);
  for (uint64_t pfn = 0; pfn < nr_frames; ++pfn) {
    folios_[pfn].pfn = static_cast<uint32_t>(pfn);
    folios_[pfn].pool = this;
  }
  // Seed the free lists with the largest aligned blocks that fit.
  for (uint64_t pfn = 0; pfn < nr_frames;) {
    unsigned order = max_order;
    while (order > 0 && ((pfn & ((uint64_t{1} << order) - 1)) || pfn + (uint64_t{1} << order) > nr_frames))
      --order;
    list_add(pfn, order);
    poison(pfn, order, true);
    pfn += uint64_t{1} << order;
  }
  nr_free_.add(nr_frames);
}

FramePool::~FramePool() {
  FL_UNPOISON(base_, nr_frames_ << PAGE_SHIFT);
  unmap_frames(base_, nr_frames_ << PAGE_SHIFT);
}

std::byte* Folio::address() const { return pool->address(this); }

void FramePool::list_add(uint64_t pfn, unsigned order) {
  free_order_[pfn] = static_cast<uint8_t>(order);
  prev_[pfn] = kNil;
  next_[pfn] = head_[order] < 0 ? kNil : static_cast<uint32_t>(head_[order]);
  if (head_[order] >= 0) prev_[head_[order]] = static_cast<uint32_t>(pfn);
  head_[order] = static_cast<int64_t>(pfn);
}

void FramePool::list_del(uint64_t pfn, unsigned order) {
  free_order_[pfn] = kNotFree;
  if (prev_[pfn] != kNil) next_[prev_[pfn]] = next_[pfn];
  else head_[order] = next_[pfn] == kNil ? -1 : static_cast<int64_t>(next_[pfn]);
  if (next_[pfn] != kNil) prev_[next_[pfn]] = prev_[pfn];
}

bool FramePool::rmqueue_smallest(unsigned order, uint64_t* pfn) {
  unsigned o = order;
  while (o <= max_order_ && head_[o] < 0) ++o;
  if (o > max_order_) return false;
  *pfn = static_cast<uint64_t>(head_[o]);
  list_del(*pfn, o);
  // Split: give the upper halves back.
  while (o > order) {
    --o;
    list_add(*pfn + (uint64_t{1} << o), o);
  }
  return true;
}

void FramePool::free_block(uint64_t pfn, unsigned order) {
  // Merge with free buddies of the same order, as far as they go.
  while (order < max_order_) {
    uint64_t buddy = pfn ^ (uint64_t{1} << order);
    if (buddy + (uint64_t{1} << order) > nr_frames_ || free_order_[buddy] != order) break;
    list_del(buddy, order);
    pfn &= ~(uint64_t{1} << order);
    ++order;
  }
  list_add(pfn, order);
}

void FramePool::pcp_push(PerCpuPages& pcp, uint64_t pfn) {
  next_[pfn] = pcp.head;
  pcp.head = static_cast<uint32_t>(pfn);
  ++pcp.count;
}

uint64_t FramePool::pcp_pop(PerCpuPages& pcp) {
  uint64_t pfn = pcp.head;
  pcp.head = next_[pfn];
  --pcp.count;
  return pfn;
}

void FramePool::rmqueue_bulk(PerCpuPages& pcp) {
  sync::Guard<sync::SpinLock> g(zone_lock_);
  uint64_t pfn;
  for (uint32_t i = 0; i < pcp_batch_ && rmqueue_smallest(0, &pfn); ++i) pcp_push(pcp, pfn);
}

void FramePool::free_pcppages_bulk(PerCpuPages& pcp, uint32_t n) {
  sync::Guard<sync::SpinLock> g(zone_lock_);
  for (; n > 0 && pcp.count > 0; --n) free_block(pcp_pop(pcp), 0);
}

bool FramePool::rmqueue_pcplist(uint64_t* pfn) {
  PerCpuPages& pcp = pcp_[sync::cpu_slot()];
  sync::Guard<sync::SpinLock> g(pcp.lock);
  if (pcp.count == 0) rmqueue_bulk(pcp);
  if (pcp.count == 0) return false;
  *pfn = pcp_pop(pcp);
  return true;
}

bool FramePool::rmqueue_buddy(unsigned order, uint64_t* pfn) {
  sync::Guard<sync::SpinLock> g(zone_lock_);
  return rmqueue_smallest(order, pfn);
}

void FramePool::free_unref_frame(uint64_t pfn) {
  PerCpuPages& pcp = pcp_[sync::cpu_slot()];
  sync::Guard<sync::SpinLock> g(pcp.lock);
  pcp_push(pcp, pfn);
  if (pcp.count > pcp_high_) free_pcppages_bulk(pcp, pcp_batch_);
}

// Every CPU's list back to the buddy lists, where its frames can merge: an
// allocation's last resort before it fails.
void FramePool::drain_all_pages() {
  for (PerCpuPages& pcp : pcp_) {
    sync::Guard<sync::SpinLock> g(pcp.lock);
    if (pcp.count > 0) free_pcppages_bulk(pcp, pcp.count);
  }
}

Folio* FramePool::alloc(unsigned order) {
  if (order > max_order_) return nullptr;
  uint64_t pfn;
  if (!(order == 0 ? rmqueue_pcplist(&pfn) : rmqueue_buddy(order, &pfn))) {
    drain_all_pages();
    if (!rmqueue_buddy(order, &pfn)) return nullptr;
  }
  nr_free_.sub(uint64_t{1} << order);
  return prep_new_folio(pfn, order);
}

Folio* FramePool::prep_new_folio(uint64_t pfn, unsigned order) {
  poison(pfn, order, false);
  Folio* f = &folios_[pfn];
  f->order.store(order, sync::relaxed);
  f->flags.store(0, sync::relaxed);
  f->mapcount.store(0, sync::relaxed);
  f->mapping.store(nullptr, sync::relaxed);
  f->index.store(0, sync::relaxed);
  f->refcount.store(1, sync::release);
  return f;
}

void FramePool::free(Folio* f) {
  unsigned order = f->folio_order();
  f->flags.store(0, sync::relaxed);
  f->mapping.store(nullptr, sync::relaxed);
  poison(f->pfn, order, true);
  nr_free_.add(uint64_t{1} << order);
  if (order == 0) {
    free_unref_frame(f->pfn);
    return;
  }
  sync::Guard<sync::SpinLock> g(zone_lock_);
  free_block(f->pfn, order);
}

void FramePool::poison(uint64_t pfn, unsigned order, bool on) {
  if (!poison_) return;
  std::byte* p = base_ + (pfn << PAGE_SHIFT);
  uint64_t n = (uint64_t{1} << order) << PAGE_SHIFT;
  if (on) {
    std::memset(p, kPoisonFree, n);
    FL_POISON(p, n);
  } else {
    FL_UNPOISON(p, n);
  }
}

void folio_put(Folio* f) { folio_put_refs(f, 1); }

void folio_put_refs(Folio* f, int32_t nr) {
  if (f->refcount.fetch_sub(nr, sync::acq_rel) == nr) f->pool->free(f);
}

}  // namespace faultline::detail
