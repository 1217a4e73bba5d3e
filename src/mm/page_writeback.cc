// src/mm/page_writeback.cc — dirty folios and writing them back.
//
// Owns: folio_mark_dirty, folio_writeback, range writeback and fsync, and
// the reporting of writeback errors to each open file (mm/errseq.h).
//
// A folio is written back under its lock. A shared mapping maps it
// writable only after a write fault marked it dirty, so writeback first
// write-protects its PTEs (folio_mkclean) and waits for the shootdown: no
// store through the old writable PTE can land after the copy. The next
// store faults and dirties the folio again (G6).
#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "faultline/error.h"
#include "mm/internal.h"
#include "sync/rcu.h"
#include "sync/trace.h"

namespace faultline::detail {

void folio_mark_dirty(Folio* folio) {
  if (!(folio->flags.load(sync::relaxed) & PG_dirty)) folio->set(PG_dirty);
}

int folio_writeback(Inode* inode, Folio* folio) {
  if (!folio->test_and_clear(PG_dirty)) return 0;
  Kernel* k = inode->kernel;
  if (folio_mapped(folio) && folio_mkclean(folio)) {
    sync::synchronize_rcu();
    Counters::inc(k->stats.shootdowns);
  }
  folio->set(PG_writeback);
  uint64_t start = folio->first_index() << PAGE_SHIFT;
  uint64_t isize = inode->size();
  // Only up to EOF: stores into the tail of the EOF page never reach the file (G5).
  uint64_t len = isize > start ? std::min(folio->size(), isize - start) : 0;
  int err = 0;
  try {
    if (len) {
      inode->store->write(start, {folio->address(), len});
      sync::trace_note("writes back [{:#x}, {:#x}) in the store", start, start + len);
    }
  } catch (const Error& e) {
    err = e.posix_errno();
  }
  folio_end_writeback(folio);
  if (err) {
    // Beyond Linux, which cleans the folio and keeps only the error: the
    // data stays dirty, to be written again, and every opener's fsync hears.
    folio->set(PG_dirty);
    errseq_set(inode->i_mapping.wb_err, err);
    return err;
  }
  Counters::inc(k->stats.writebacks);
  return 0;
}

int filemap_write_and_wait_range(Inode* inode, uint64_t start, uint64_t end) {
  AddressSpace* mapping = &inode->i_mapping;
  pgoff_t index = start >> PAGE_SHIFT;
  pgoff_t last = end >> PAGE_SHIFT;
  int first_err = 0;
  while (Folio* f = filemap_get_next_folio(mapping, &index, last)) {
    index = f->first_index() + f->nr_pages();
    if (f->test(PG_dirty)) {
      folio_lock(f);
      if (f->mapping.load(sync::relaxed) == mapping) {
        int err = folio_writeback(inode, f);
        if (!first_err) first_err = err;
      }
      folio_unlock(f);
    }
    folio_put(f);
    if (index == 0) break;  // wrapped past the last index
  }
  return first_err;
}

void filemap_write_and_wait_or_throw(Inode* inode, uint64_t start, uint64_t end, const char* op) {
  if (int err = filemap_write_and_wait_range(inode, start, end))
    throw Error(Errc::io_error,
                fmt::format("{}: the writeback of [{:#x}, {:#x}] it needs failed: {}", op, start, end, std::strerror(err)),
                err);
}

void vfs_fsync(Inode* inode, OpenFile* file) {
  filemap_write_and_wait_range(inode, 0, UINT64_MAX);
  AddressSpace* m = &inode->i_mapping;
  try {
    inode->store->sync();
  } catch (const Error& e) {
    errseq_set(m->wb_err, e.posix_errno());
  }
  if (int err = errseq_check_and_advance(m->wb_err, file->f_wb_err))
    throw Error(Errc::io_error,
                fmt::format("fsync: writeback to the store failed ({}); the data is still dirty in the cache",
                            std::strerror(err)),
                err);
}

}  // namespace faultline::detail
