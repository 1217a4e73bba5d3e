// src/mm/fallocate.cc — fallocate(2): allocate, punch hole, zero range,
// collapse range, insert range.
//
// Each mode in the order ext4/xfs use: i_rwsem exclusive; for the block-
// moving modes, write back from the offset to EOF first; the creation guard
// exclusive from the eviction of the cache until the store has changed the
// blocks (G2); the shootdown before returning (G1).
#include <algorithm>

#include <fmt/format.h>

#include "faultline/error.h"
#include "mm/guards.h"
#include "mm/internal.h"
#include "sync/trace.h"

namespace faultline::detail {

static void require_page_aligned(const char* op, uint64_t off, uint64_t len) {
  if ((off | len) & (PAGE_SIZE - 1))
    throw Error(Errc::invalid_argument,
                fmt::format("{}: offset {:#x} and length {:#x} must be multiples of the block size {}", op, off,
                            len, PAGE_SIZE));
}

// The cache zeroed [off, end) of the folios at the range's edges, which
// stay cached; the store failed to zero its blocks. Those folios go dirty,
// so that writeback gives the store what the cache shows: without it a
// clean folio holding zeros would sit over a block still holding the old
// bytes, and the file would change when the folio is reclaimed.
static void redirty_edges(Inode* inode, uint64_t off, uint64_t end) {
  for (pgoff_t index : {off >> PAGE_SHIFT, (end - 1) >> PAGE_SHIFT}) {
    if (Folio* f = filemap_get_folio(&inode->i_mapping, index)) {
      folio_lock(f);
      if (f->mapping.load(sync::relaxed) == &inode->i_mapping) folio_mark_dirty(f);
      folio_unlock(f);
      folio_put(f);
    }
  }
}

// The store's half of a punch or a zeroing, after the cache's.
template <class F>
static void zero_blocks(Inode* inode, uint64_t off, uint64_t end, F&& store_call) {
  try {
    store_call();
  } catch (const Error&) {
    redirty_edges(inode, off, end);
    throw;
  }
}

static void punch_hole(Inode* inode, uint64_t off, uint64_t len) {
  uint64_t size = inode->size();
  if (off >= size) return;
  uint64_t end = std::min(off + len, size);
  EvictScope evict(inode);
  MmuGather tlb(inode->kernel);
  truncate_pagecache_range(inode, off, end - 1, tlb);
  zero_blocks(inode, off, end, [&] { inode->store->punch_hole(off, end - off); });
  sync::trace_note("punches [{:#x}, {:#x}) in the store", off, end);
  tlb.finish();
}

static void zero_range(Inode* inode, uint64_t off, uint64_t len, bool keep_size) {
  uint64_t size = inode->size();
  uint64_t end = off + len;
  {
    EvictScope evict(inode);
    MmuGather tlb(inode->kernel);
    if (off < size) {
      uint64_t zend = std::min(end, size);
      truncate_pagecache_range(inode, off, zend - 1, tlb);
      zero_blocks(inode, off, zend, [&] { inode->store->zero_range(off, zend - off); });
      sync::trace_note("zeroes [{:#x}, {:#x}) in the store", off, zend);
    }
    tlb.finish();
  }
  if (!keep_size && end > size) {
    inode->set_size(end);
    pagecache_isize_extended(inode, size, end);
    inode->store->truncate(end);
  }
}

// Folios straddling `off` go whole: the block shift moves what follows.
static uint64_t shift_evict_start(const Kernel* k, uint64_t off) {
  uint64_t folio_bytes = PAGE_SIZE << k->config.max_folio_order;
  return off & ~(folio_bytes - 1);
}

static void collapse_range(Inode* inode, uint64_t off, uint64_t len) {
  uint64_t size = inode->size();
  if (off + len >= size)
    throw Error(Errc::invalid_argument,
                fmt::format("collapse_range: offset {:#x} + length {:#x} must end before EOF ({:#x})", off, len,
                            size));
  uint64_t evict_from = shift_evict_start(inode->kernel, off);
  // Stop if that fails, as ext4 and xfs do: shifting blocks under dirty
  // data that never reached them would lose it.
  filemap_write_and_wait_or_throw(inode, evict_from, UINT64_MAX, "shifting blocks");
  EvictScope evict(inode);
  MmuGather tlb(inode->kernel);
  truncate_pagecache(inode, evict_from, tlb);
  inode->store->collapse_range(off, len);
  inode->set_size(size - len);
  tlb.finish();
}

static void insert_range(Inode* inode, uint64_t off, uint64_t len) {
  uint64_t size = inode->size();
  if (off >= size)
    throw Error(Errc::invalid_argument,
                fmt::format("insert_range: offset {:#x} must be before EOF ({:#x})", off, size));
  if (len > Engine::kMaxFileSize - size)
    throw Error(Errc::file_too_large,
                fmt::format("insert_range: size {:#x} + length {:#x} exceeds the maximum file size {:#x}", size, len,
                            Engine::kMaxFileSize));
  uint64_t evict_from = shift_evict_start(inode->kernel, off);
  // Stop if that fails, as ext4 and xfs do: shifting blocks under dirty
  // data that never reached them would lose it.
  filemap_write_and_wait_or_throw(inode, evict_from, UINT64_MAX, "shifting blocks");
  EvictScope evict(inode);
  MmuGather tlb(inode->kernel);
  truncate_pagecache(inode, evict_from, tlb);
  inode->set_size(size + len);
  inode->store->insert_range(off, len);
  tlb.finish();
}

static void allocate(Inode* inode, uint64_t off, uint64_t len, bool keep_size) {
  uint64_t size = inode->size();
  if (keep_size || off + len <= size) return;  // blocks are allocated on write in the store
  inode->set_size(off + len);
  pagecache_isize_extended(inode, size, off + len);
  inode->store->truncate(off + len);
}

// vfs_fallocate's checks: a negative offset or a length that is zero or
// negative (as loff_t) is EINVAL; an end past the maximum size is EFBIG.
static void check_fallocate(uint64_t off, uint64_t len) {
  if (len == 0) throw Error(Errc::invalid_argument, "fallocate: length must not be zero");
  if (off > INT64_MAX || len > INT64_MAX)
    throw Error(Errc::invalid_argument,
                fmt::format("fallocate: offset {:#x} or length {:#x} is a negative loff_t", off, len));
  check_range("fallocate", off, len);
}

void vfs_fallocate(Inode* inode, unsigned mode, uint64_t off, uint64_t len) {
  check_fallocate(off, len);
  // Alignment before the lock, as ext4 checks it: an unaligned shift is
  // EINVAL whatever else is pending on the inode.
  if (mode & FALLOC_FL_COLLAPSE_RANGE) require_page_aligned("collapse_range", off, len);
  if (mode & FALLOC_FL_INSERT_RANGE) require_page_aligned("insert_range", off, len);
  InodeWriteLock i_rwsem(inode);
  bool keep = mode & FALLOC_FL_KEEP_SIZE;
  if (mode & FALLOC_FL_PUNCH_HOLE) punch_hole(inode, off, len);
  else if (mode & FALLOC_FL_ZERO_RANGE) zero_range(inode, off, len, keep);
  else if (mode & FALLOC_FL_COLLAPSE_RANGE) collapse_range(inode, off, len);
  else if (mode & FALLOC_FL_INSERT_RANGE) insert_range(inode, off, len);
  else allocate(inode, off, len, keep);
}

}  // namespace faultline::detail
