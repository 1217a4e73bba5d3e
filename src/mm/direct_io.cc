// src/mm/direct_io.cc — O_DIRECT reads and writes.
//
// Direct I/O goes to the store, not the cache. Around it, the cache is made
// coherent the way iomap_dio_rw does: dirty cached data in the range is
// written back first (so a direct read sees it and a direct write is not
// overwritten by it later), and a direct write invalidates the cached
// folios before and after (invalidate_inode_pages2_range), so no mapping
// keeps the old page (G1) and no read() returns the old data afterwards.
#include <fmt/format.h>

#include <algorithm>

#include "faultline/error.h"
#include "mm/guards.h"
#include "mm/internal.h"
#include "sync/trace.h"

namespace faultline::detail {

// O_DIRECT needs offset and length aligned to the logical block size; the
// engine's is 512 bytes, as most disks'.
static void check_dio(const char* op, uint64_t off, uint64_t len) {
  if ((off | len) & 511)
    throw Error(Errc::invalid_argument,
                fmt::format("{}: offset {:#x} and length {:#x} must be multiples of 512 for direct I/O", op, off, len));
}

// A direct write that fails after part of it reached blocks past EOF
// leaves nothing there, as ext4_truncate_failed_write does: those blocks
// would otherwise turn up as the file's contents when it next grows over
// them (found by the fault-injecting replay). Inside EOF the range is
// undefined after a failure, as in Linux.
static void store_direct(Inode* inode, uint64_t off, std::span<const std::byte> buf) {
  try {
    inode->store->write(off, buf);
  } catch (const Error&) {
    if (off + buf.size() > inode->size()) {
      try {
        inode->store->truncate(inode->size());
      } catch (const Error&) {  // the write's own error is the one to report
      }
    }
    throw;
  }
}

// At or past EOF a direct read returns 0 before alignment is looked at, as
// iomap_dio_rw does.
size_t direct_read(Inode* inode, uint64_t off, std::span<std::byte> buf) {
  check_rw_area("direct_read", off, buf.size());
  sync::ReadGuard i_rwsem(inode->i_rwsem);
  uint64_t size = inode->size();
  if (off >= size || buf.empty()) return 0;
  check_dio("direct_read", off, buf.size());
  size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
  // iomap_dio_rw: cached dirty data is written back first, and the I/O
  // does not start if that fails.
  filemap_write_and_wait_or_throw(inode, off, off + n - 1, "direct_read");
  inode->store->read(off, buf.first(n));
  return n;
}

size_t direct_write(Inode* inode, uint64_t off, std::span<const std::byte> whole) {
  check_rw_area("direct_write", off, whole.size());
  auto buf = whole.first(write_count("direct_write", off, whole.size()));
  if (buf.empty()) return 0;
  check_dio("direct_write", off, buf.size());
  InodeWriteLock i_rwsem(inode);
  uint64_t end = off + buf.size();
  AddressSpace* m = &inode->i_mapping;
  uint64_t oldsize = inode->size();
  if (off > oldsize) pagecache_isize_extended(inode, oldsize, off);
  filemap_write_and_wait_or_throw(inode, off, end - 1, "direct_write");
  invalidate_inode_pages2_range(m, off >> PAGE_SHIFT, (end - 1) >> PAGE_SHIFT);
  store_direct(inode, off, buf);
  sync::trace_note("writes (direct I/O) [{:#x}, {:#x}) in the store", off, off + buf.size());
  if (end > inode->size()) inode->set_size(end);
  // A fault or read() may have cached the old blocks while we wrote.
  invalidate_inode_pages2_range(m, off >> PAGE_SHIFT, (end - 1) >> PAGE_SHIFT);
  return buf.size();
}

namespace {

bool is_power_of_2(uint64_t v) { return v && !(v & (v - 1)); }

// The checks of an atomic write, in the kernel's order: the file must take
// atomic writes at all (kiocb_set_rw_flags: EOPNOTSUPP), then the length
// within the unit (xfs_file_write_iter), a power of two, naturally aligned
// (generic_atomic_write_valid), and never cut short at the maximum size
// (generic_write_checks_count).
void check_atomic(const Inode* inode, uint64_t off, uint64_t len) {
  AtomicWriteUnit unit = inode->store->atomic_write_unit();
  if (!unit.supported())
    throw Error(Errc::not_supported, fmt::format("write_atomic: the store has no atomic writes"), EOPNOTSUPP);
  if (len < unit.min || len > unit.max)
    throw Error(Errc::invalid_argument,
                fmt::format("write_atomic: length {:#x} is outside the atomic write unit [{:#x}, {:#x}]", len, unit.min,
                            unit.max));
  if (!is_power_of_2(len) || off % len)
    throw Error(Errc::invalid_argument,
                fmt::format("write_atomic: length {:#x} at offset {:#x} is not a naturally aligned power of two", len,
                            off));
  if (write_count("write_atomic", off, len) != len)
    throw Error(Errc::invalid_argument,
                fmt::format("write_atomic: [{:#x}, +{:#x}) crosses the maximum file size", off, len));
}

}  // namespace

size_t write_atomic(Inode* inode, uint64_t off, std::span<const std::byte> buf) {
  check_rw_area("write_atomic", off, buf.size());
  if (buf.empty()) return 0;
  check_atomic(inode, off, buf.size());
  InodeWriteLock i_rwsem(inode);
  EvictScope evict_scope(inode);
  uint64_t end = off + buf.size();
  uint64_t oldsize = inode->size();
  if (off > oldsize) pagecache_isize_extended(inode, oldsize, off);
  write_back_folio_span(inode, off, buf.size(), "write_atomic");
  MmuGather tlb(inode->kernel);
  evict_folio_span(inode, off, buf.size(), tlb);
  inode->store->write_atomic(off, buf);
  sync::trace_note("writes [{:#x}, {:#x}) atomically in the store", off, end);
  if (end > inode->size()) inode->set_size(end);
  tlb.finish();
  return buf.size();
}

}  // namespace faultline::detail
