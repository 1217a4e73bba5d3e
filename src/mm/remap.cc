// src/mm/remap.cc — copy_file_range and the reflink family within a file:
// clone, dedupe and exchange range (fs/remap_range.c, fs/read_write.c,
// fs/xfs/xfs_exchrange.c).
//
// Owns: the argument checks of each, in the kernel's order, and their
// steps. copy_range is a read and a write through the page cache, a chunk
// at a time, under i_rwsem (generic_copy_file_range). The others are page
// killers, in the order xfs_reflink_remap_prep uses: i_rwsem and the
// creation guard exclusive (xfs_ilock2_io_mmap), both ranges written back,
// for dedupe the contents compared, then the destination's folios unmapped
// and removed, the store's blocks shared or swapped, and the shootdown
// before returning (G1, G2).
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "faultline/error.h"
#include "mm/guards.h"
#include "mm/internal.h"
#include "sync/trace.h"

namespace faultline::detail {

// [off, off+len) rounded out to the largest folio: a remap or an atomic
// write removes whole folios, since truncating part of a large folio
// zeroes that part in place (punch's semantics), which would hide the
// blocks the store puts there. So the span is written back first, and
// what lies in it outside the range is read in again afterwards.
namespace {
struct Span {
  uint64_t start, end;
};
Span folio_span(const Inode* inode, uint64_t off, uint64_t len) {
  uint64_t folio = PAGE_SIZE << inode->kernel->config.max_folio_order;
  return {off & ~(folio - 1), (off + len + folio - 1) & ~(folio - 1)};
}
}  // namespace

void write_back_folio_span(Inode* inode, uint64_t off, uint64_t len, const char* op) {
  Span s = folio_span(inode, off, len);
  if (s.end > s.start) filemap_write_and_wait_or_throw(inode, s.start, s.end - 1, op);
}

void evict_folio_span(Inode* inode, uint64_t off, uint64_t len, MmuGather& tlb) {
  Span s = folio_span(inode, off, len);
  if (s.end > s.start) truncate_pagecache_range(inode, s.start, s.end - 1, tlb);
}

namespace {

constexpr uint64_t kChunk = 64 * 1024;

[[noreturn]] void invalid(const std::string& what) { throw Error(Errc::invalid_argument, what); }

uint64_t round_up(uint64_t v) { return (v + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1); }
bool overlap(uint64_t a, uint64_t b, uint64_t len) { return b + len > a && b < a + len; }

void write_back(Inode* inode, uint64_t off, uint64_t len, const char* op) {
  if (len) filemap_write_and_wait_or_throw(inode, off, off + len - 1, op);
}

// A remap may end past EOF: the file grows to its end.
void grow_to(Inode* inode, uint64_t end) {
  uint64_t size = inode->size();
  if (end <= size) return;
  inode->set_size(end);
  pagecache_isize_extended(inode, size, end);
}

// generic_remap_checks for a range of `*count` bytes: aligned starts, the
// source inside the file, the destination within the maximum size, the
// length block aligned unless it runs to the source's EOF; returns the
// length in whole blocks that the remap touches.
uint64_t remap_checks(const char* op, uint64_t size, uint64_t pos_in, uint64_t pos_out, uint64_t* count,
                      bool dedupe) {
  if ((pos_in | pos_out) & (PAGE_SIZE - 1))
    invalid(fmt::format("{}: offsets {:#x} and {:#x} must be block aligned", op, pos_in, pos_out));
  if (pos_in + *count < pos_in || pos_out + *count < pos_out)
    invalid(fmt::format("{}: offset + length {:#x} wraps", op, *count));
  if (dedupe && (pos_in + *count > size || pos_out + *count > size))
    invalid(fmt::format("{}: [{:#x}, +{:#x}) and [{:#x}, +{:#x}) must lie inside the file ({:#x})", op, pos_in,
                        *count, pos_out, *count, size));
  if (pos_in >= size) invalid(fmt::format("{}: source offset {:#x} is at or past EOF ({:#x})", op, pos_in, size));
  *count = std::min(*count, size - pos_in);
  if (pos_out >= Engine::kMaxFileSize)
    throw Error(Errc::file_too_large, fmt::format("{}: destination {:#x} is past the maximum size", op, pos_out));
  *count = std::min(*count, Engine::kMaxFileSize - pos_out);
  uint64_t bcount;
  if (pos_in + *count == size && (!dedupe || pos_out + *count == size)) {
    bcount = round_up(size) - pos_in;
  } else {
    *count &= ~(PAGE_SIZE - 1);
    bcount = *count;
  }
  if (overlap(pos_in, pos_out, bcount))
    invalid(fmt::format("{}: [{:#x}, +{:#x}) overlaps [{:#x}, +{:#x}) in the same file", op, pos_in, bcount, pos_out,
                        bcount));
  return bcount;
}

// Whether [a, a+len) and [b, b+len) hold the same bytes. Both ranges were
// just written back, so the store has what the cache has; reading the
// store creates no folios, which the creation guard (held exclusive here)
// would forbid.
bool same_contents(Inode* inode, uint64_t a, uint64_t b, uint64_t len) {
  std::vector<std::byte> x(std::min(len, kChunk)), y(x.size());
  for (uint64_t done = 0; done < len;) {
    uint64_t n = std::min(kChunk, len - done);
    inode->store->read(a + done, std::span(x).first(n));
    inode->store->read(b + done, std::span(y).first(n));
    if (std::memcmp(x.data(), y.data(), n) != 0) return false;
    done += n;
  }
  return true;
}

// The steps every remap shares: write both ranges back, remove the
// destination's folios, let the store move the blocks, grow the file.
template <class Blocks>
void remap_steps(Inode* inode, uint64_t pos_in, uint64_t pos_out, uint64_t bcount, uint64_t new_end,
                 Blocks blocks) {
  MmuGather tlb(inode->kernel);
  evict_folio_span(inode, pos_out, bcount, tlb);
  blocks();
  sync::trace_note("shares the blocks of [{:#x}, +{:#x}) at {:#x} in the store", pos_in, bcount, pos_out);
  grow_to(inode, new_end);
  tlb.finish();
}

}  // namespace

uint64_t vfs_copy_file_range(Inode* inode, uint64_t pos_in, uint64_t len, uint64_t pos_out) {
  if (pos_in + len < pos_in || pos_out + len < pos_out)
    throw Error(Errc::invalid_argument, fmt::format("copy_range: offset + length {:#x} wraps", len), EOVERFLOW);
  InodeWriteLock i_rwsem(inode);
  uint64_t size = inode->size();
  uint64_t count = pos_in >= size ? 0 : std::min(len, size - pos_in);  // shortened to EOF
  if (count && pos_out >= Engine::kMaxFileSize)
    throw Error(Errc::file_too_large, fmt::format("copy_range: destination {:#x} is past the maximum size", pos_out));
  count = std::min(count, Engine::kMaxFileSize - std::min(pos_out, Engine::kMaxFileSize));
  if (overlap(pos_in, pos_out, count))
    invalid(fmt::format("copy_range: [{:#x}, +{:#x}) overlaps [{:#x}, +{:#x}) in the same file", pos_in, count,
                        pos_out, count));
  check_rw_area("copy_range", pos_in, count);
  check_rw_area("copy_range", pos_out, count);
  std::vector<std::byte> buf(std::min(count, kChunk));
  uint64_t done = 0;
  try {
    while (done < count) {
      uint64_t n = filemap_read(inode, pos_in + done, std::span(buf).first(std::min(kChunk, count - done)));
      if (n == 0) break;  // the source shrank under us: a short copy, as splice gives
      uint64_t w = filemap_write(inode, pos_out + done, std::span(buf).first(n));
      done += w;
      if (w < n) break;  // the write stopped short (its read-in failed): so does the copy
    }
  } catch (const Error&) {
    if (done == 0) throw;  // otherwise a short copy, as far as it got: what it wrote, it reports
  }
  return done;
}

void vfs_clone_file_range(Inode* inode, uint64_t pos_in, uint64_t len, uint64_t pos_out) {
  InodeWriteLock i_rwsem(inode);
  EvictScope evict_scope(inode);
  uint64_t size = inode->size();
  if (len == 0) {  // FICLONERANGE: to the source's EOF
    if (pos_in == size) return;
    if (pos_in > size) invalid(fmt::format("clone_range: source offset {:#x} is past EOF ({:#x})", pos_in, size));
    len = size - pos_in;
  }
  uint64_t count = len;
  uint64_t bcount = remap_checks("clone_range", size, pos_in, pos_out, &count, false);
  if (count != len)  // FICLONERANGE may not shorten the request
    invalid(fmt::format("clone_range: length {:#x} is not block aligned and does not end at EOF ({:#x})", len, size));
  if (bcount != count && pos_out + count < size)  // the EOF block's tail would land inside the file
    invalid(fmt::format("clone_range: the partial EOF block cannot go to {:#x}, inside the file", pos_out));
  write_back(inode, pos_in, count, "clone_range");
  write_back_folio_span(inode, pos_out, bcount, "clone_range");
  remap_steps(inode, pos_in, pos_out, bcount, pos_out + count,
              [&] { inode->store->clone_range(pos_in, pos_out, count); });
}

bool vfs_dedupe_file_range(Inode* inode, uint64_t pos_in, uint64_t len, uint64_t pos_out) {
  InodeWriteLock i_rwsem(inode);
  EvictScope evict_scope(inode);
  uint64_t size = inode->size();
  if (pos_in + len < pos_in || pos_in + len > size)
    invalid(fmt::format("dedupe_range: [{:#x}, +{:#x}) runs past EOF ({:#x})", pos_in, len, size));
  if (len == 0) return true;
  uint64_t count = len;
  uint64_t bcount = remap_checks("dedupe_range", size, pos_in, pos_out, &count, true);
  if (count == 0) return true;  // shortened to nothing: nothing to share
  write_back(inode, pos_in, count, "dedupe_range");
  write_back_folio_span(inode, pos_out, bcount, "dedupe_range");
  if (!same_contents(inode, pos_in, pos_out, count)) return false;
  remap_steps(inode, pos_in, pos_out, bcount, pos_out + count,
              [&] { inode->store->clone_range(pos_in, pos_out, count); });
  return true;
}

void vfs_exchange_range(Inode* inode, uint64_t a, uint64_t len, uint64_t b) {
  InodeWriteLock i_rwsem(inode);
  EvictScope evict_scope(inode);
  uint64_t size = inode->size();
  // XFS's order: the offsets' alignment and place first, so that even a
  // zero-length request with a bad offset is EINVAL.
  if ((a | b) & (PAGE_SIZE - 1))
    invalid(fmt::format("exchange_range: offsets {:#x} and {:#x} must be block aligned", a, b));
  if (a > size || b > size)
    invalid(fmt::format("exchange_range: offset {:#x} is past EOF ({:#x})", std::max(a, b), size));
  if (len == 0) return;
  if (len & (PAGE_SIZE - 1)) invalid(fmt::format("exchange_range: length {:#x} must be block aligned", len));
  if (a + len < a || b + len < b || a + len > size || b + len > size)
    invalid(fmt::format("exchange_range: [{:#x}, +{:#x}) and [{:#x}, +{:#x}) must lie inside the file ({:#x})", a,
                        len, b, len, size));
  if (overlap(a, b, len))
    invalid(fmt::format("exchange_range: [{:#x}, +{:#x}) overlaps [{:#x}, +{:#x})", a, len, b, len));
  write_back_folio_span(inode, a, len, "exchange_range");
  write_back_folio_span(inode, b, len, "exchange_range");
  MmuGather tlb(inode->kernel);
  evict_folio_span(inode, a, len, tlb);
  evict_folio_span(inode, b, len, tlb);
  inode->store->exchange_range(a, b, len);
  sync::trace_note("swaps [{:#x}, +{:#x}) with the range at {:#x} in the store", a, len, b);
  tlb.finish();
}

}  // namespace faultline::detail
