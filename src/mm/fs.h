// src/mm/fs.h — struct inode and struct address_space.
//
// Owns: the file size, the file's locks, its store, its page cache and its
// reverse map.
//
// Locks, outermost first: the order every path takes them in.
//   i_rwsem          killers and write(), exclusive: one size change at a time
//   invalidate_lock  creation guard (protocol): killers exclusive from
//                    eviction until the blocks are freed, creators shared
//   i_mmap_rwsem     i_mmap (the VMAs mapping this file); unmap walks it shared
//   folio lock
//   PTL
//   i_pages lock     i_pages slots, folio->mapping and folio->index changes
// i_size is written under i_rwsem and read locklessly (i_size_read).
#pragma once

#include <cstdint>
#include <memory>
#include <set>

#include "faultline/store.h"
#include "mm/errseq.h"
#include "mm/folio.h"
#include "mm/xarray.h"
#include "protocol/protocol.h"
#include "sync/atomic.h"
#include "sync/rwsem.h"
#include "sync/spinlock.h"

namespace faultline::detail {

class Kernel;
struct Inode;
struct Vma;

// i_mmap's order: by address space, then address. Stable from run to run
// (not by pointer), so that an execution of the model checker replays.
struct VmaOrder {
  bool operator()(const Vma* a, const Vma* b) const;
};

struct AddressSpace {
  Inode* host = nullptr;
  XArray i_pages;
  sync::RwSem invalidate_lock{sync::LockClass::invalidate_lock};
  sync::RwSem i_mmap_rwsem{sync::LockClass::i_mmap_rwsem};
  std::set<Vma*, VmaOrder> i_mmap;  // guarded by i_mmap_rwsem
  sync::SpinLock private_lock;
  sync::Atomic<uint64_t> nrpages{0};
  // Faults that missed the cache, less those that hit (file_ra_state's
  // mmap_miss, kept per file here: faultline has no struct file). Past
  // MMAP_LOTSAMISS, faults stop reading around: access is random.
  sync::Hint<uint32_t> mmap_miss;
  // Where the last fault's readahead window ended: a fault there is a
  // sequential scan, which reads ahead rather than around (the ondemand
  // readahead's sequential case, which faultline has instead of
  // PG_readahead and async readahead).
  sync::Hint<pgoff_t> mmap_ra_next;
  // Writeback errors (mm/errseq.h): each open file's fsync reports an
  // error recorded here once.
  sync::Atomic<errseq_t> wb_err{0};
  // The protocol's own per-file state (protocol/protocol.h), if its guards
  // keep any; made with the inode, never replaced.
  std::unique_ptr<GuardState> map_guard_state;
  std::unique_ptr<GuardState> creation_guard_state;
};

template <class T>
T& map_guard_state(AddressSpace& mapping) {
  return static_cast<T&>(*mapping.map_guard_state);
}
template <class T>
T& creation_guard_state(AddressSpace& mapping) {
  return static_cast<T&>(*mapping.creation_guard_state);
}

// struct file, for what faultline needs of it: the point in the mapping's
// error sequence this opener has reported up to (f_wb_err). File handles
// copied from one another share it, as dup'ed descriptors share a file.
struct OpenFile {
  explicit OpenFile(errseq_t sample) : f_wb_err(sample) {}
  sync::Atomic<errseq_t> f_wb_err;
};

struct Inode {
  Inode(Kernel* k, std::unique_ptr<Store> s);
  ~Inode();
  Kernel* kernel;
  std::shared_ptr<Kernel> kernel_ref;  // keeps the machine alive while the file is
  std::unique_ptr<Store> store;
  sync::RwSem i_rwsem{sync::LockClass::i_rwsem};
  sync::Atomic<uint64_t> i_size{0};
  AddressSpace i_mapping;

  // A truncate down whose store call failed: the store may still hold
  // blocks past this size. The next holder of i_rwsem exclusive finishes it
  // before anything else (ext4 keeps such an inode on its orphan list), so
  // that no stale block comes back inside the file when it grows.
  // kNoTruncate: none. Guarded by i_rwsem.
  static constexpr uint64_t kNoTruncate = UINT64_MAX;
  uint64_t unfinished_truncate = kNoTruncate;

  uint64_t size() const { return i_size.load(sync::acquire); }
  void set_size(uint64_t s) { i_size.store(s, sync::release); }
};

// i_rwsem exclusive, for whatever changes the size or the blocks: it
// finishes an unfinished truncate first (and fails, holding nothing, if
// the store fails that again).
class InodeWriteLock {
 public:
  explicit InodeWriteLock(Inode* inode);

 private:
  sync::WriteGuard g_;
};

// Pages needed to hold `bytes` (DIV_ROUND_UP(bytes, PAGE_SIZE)).
inline pgoff_t pages_of(uint64_t bytes) { return (bytes + PAGE_SIZE - 1) >> PAGE_SHIFT; }

}  // namespace faultline::detail
