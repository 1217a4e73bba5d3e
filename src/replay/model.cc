// src/replay/model.cc — fsx's model of the file, extended to faultline's ops.
#include "replay/model.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace faultline::replay {
namespace {

constexpr uint64_t kMax = Engine::kMaxFileSize;
constexpr uint64_t kLoffMax = INT64_MAX;

// rw_verify_area: a position or an end past LLONG_MAX is EINVAL.
bool bad_rw_area(const Op& op) { return op.off > kLoffMax || op.len > kLoffMax - op.off; }

// vfs_fallocate: EINVAL for a negative offset or a length that is zero or
// negative; EFBIG for an end past the maximum size.
int fallocate_errno(const Op& op) {
  if (op.off > kLoffMax || op.len == 0 || op.len > kLoffMax) return EINVAL;
  return op.len > kMax || op.off > kMax - op.len ? EFBIG : 0;
}

bool page_aligned(const Op& op) { return ((op.off | op.len) & (kPageSize - 1)) == 0; }

// generic_write_checks: EFBIG at or past the maximum, else cut short there.
int write_errno(const Op& op) { return op.len && op.off >= kMax ? EFBIG : 0; }

// RWF_ATOMIC (see File::write_atomic): a store without atomic writes
// first, then a power of two within the unit, naturally aligned, and not
// cut short at the maximum size.
int atomic_errno(const Op& op, AtomicWriteUnit unit) {
  if (!unit.supported()) return EOPNOTSUPP;
  bool pow2 = (op.len & (op.len - 1)) == 0;
  if (op.len < unit.min || op.len > unit.max || !pow2 || op.off % op.len) return EINVAL;
  if (int e = write_errno(op)) return e;
  return op.len > kMax - op.off ? EINVAL : 0;
}

}  // namespace

std::vector<std::byte> op_data(const Op& op) {
  std::vector<std::byte> v(op.len);
  for (uint64_t i = 0; i < op.len; ++i) {
    uint64_t pos = op.off + i;
    uint8_t b = static_cast<uint8_t>(op.line % 251 + 1);
    if (pos & 1) b = static_cast<uint8_t>(b + ((pos * 2654435761u) >> 24));
    v[i] = std::byte{b};
  }
  return v;
}

bool writes_data(OpKind k) {
  return k == OpKind::write || k == OpKind::mapwrite || k == OpKind::dwrite || k == OpKind::write_atomic;
}

bool stops_short(const Op& piece, const Outcome& o) {
  if (o.err || o.sigbus) return true;
  switch (piece.kind) {
    case OpKind::read: case OpKind::dread: case OpKind::mapread: return o.data.size() < piece.len;
    case OpKind::write: case OpKind::dwrite: return o.written < piece.len;
    default: return false;
  }
}

bool skipped_at_replay(const Op& op, uint64_t size) {
  if (op.skip) return true;
  if (op.kind == OpKind::mapread) return op.len == 0 || op.len > size || op.off > size - op.len;
  return op.kind == OpKind::mapwrite && op.len == 0;
}

void Model::zero(uint64_t off, uint64_t end) {
  end = std::min(end, size_);
  if (off >= end) return;
  for (auto it = pages_.lower_bound(off / kPageSize); it != pages_.end() && it->first * kPageSize < end;) {
    uint64_t base = it->first * kPageSize;
    uint64_t from = std::max(off, base) - base, to = std::min(end, base + kPageSize) - base;
    if (from == 0 && to == kPageSize) {
      it = pages_.erase(it);
      continue;
    }
    std::memset(it->second.data() + from, 0, to - from);
    ++it;
  }
}

void Model::set_size(uint64_t n) {
  if (n < size_) zero(n, size_);
  size_ = n;
}

void Model::put(uint64_t off, std::span<const std::byte> data) {
  if (data.empty()) return;  // a write of nothing changes nothing, not even the size
  for (uint64_t done = 0; done < data.size();) {
    uint64_t pos = off + done;
    uint64_t in_page = pos % kPageSize, n = std::min<uint64_t>(kPageSize - in_page, data.size() - done);
    auto chunk = data.subspan(done, n);
    done += n;
    // Zeros over a hole leave a hole: memory follows the data.
    if (!pages_.count(pos / kPageSize) &&
        std::all_of(chunk.begin(), chunk.end(), [](std::byte b) { return b == std::byte{0}; }))
      continue;
    auto [it, fresh] = pages_.try_emplace(pos / kPageSize);
    if (fresh) it->second.fill(std::byte{0});
    std::memcpy(it->second.data() + in_page, chunk.data(), n);
  }
  size_ = std::max(size_, off + data.size());
}

// Makes [dst, dst+n) hold what [src, src+n) holds (the ranges apart), at
// the cost of the source's pages: a hole copied stays a hole.
void Model::copy_bytes(uint64_t src, uint64_t dst, uint64_t n) {
  if (n == 0) return;
  zero(dst, dst + n);
  uint64_t end = std::min(src + n, size_);
  for (auto it = pages_.lower_bound(src / kPageSize); it != pages_.end() && it->first * kPageSize < end; ++it) {
    uint64_t base = it->first * kPageSize;
    uint64_t from = std::max(src, base), to = std::min(end, base + kPageSize);
    put(dst + (from - src), std::span(it->second).subspan(from - base, to - from));
  }
  size_ = std::max(size_, dst + n);
}

// Whether [a, a+n) and [b, b+n) hold the same bytes, a chunk at a time.
bool Model::same_bytes(uint64_t a, uint64_t b, uint64_t n) const {
  constexpr uint64_t kChunk = uint64_t{1} << 20;
  for (uint64_t done = 0; done < n; done += kChunk) {
    uint64_t len = std::min(kChunk, n - done);
    if (read(a + done, len) != read(b + done, len)) return false;
  }
  return true;
}

// Moves every page in [first, first+count) by `delta` pages; the node, not
// the page, changes hands, so a move allocates nothing.
void Model::move_pages(std::map<uint64_t, Page>& into, uint64_t first, uint64_t count, int64_t delta) {
  for (auto it = pages_.lower_bound(first); it != pages_.end() && it->first - first < count;) {
    auto node = pages_.extract(it++);
    node.key() += static_cast<uint64_t>(delta);
    into.insert(std::move(node));
  }
}

// Moves every page at or after `from_page` by `by_pages`, down or up, as
// collapse and insert range move the blocks.
void Model::shift_pages(uint64_t from_page, uint64_t by_pages, bool down) {
  std::map<uint64_t, Page> moved;
  move_pages(moved, from_page, UINT64_MAX - from_page, down ? -static_cast<int64_t>(by_pages) : static_cast<int64_t>(by_pages));
  pages_.merge(moved);
}

std::vector<std::byte> Model::read(uint64_t off, uint64_t len) const {
  if (off >= size_ || len == 0) return {};
  std::vector<std::byte> v(std::min(len, size_ - off));
  uint64_t end = off + v.size();
  for (auto it = pages_.lower_bound(off / kPageSize); it != pages_.end() && it->first * kPageSize < end; ++it) {
    uint64_t base = it->first * kPageSize;
    uint64_t from = std::max(off, base), to = std::min(end, base + kPageSize);
    std::memcpy(v.data() + (from - off), it->second.data() + (from - base), to - from);
  }
  return v;
}

std::vector<Range> Model::data_ranges() const {
  std::vector<Range> r;
  for (const auto& [index, page] : pages_) {
    uint64_t start = index * kPageSize;
    if (!r.empty() && r.back().end == start) r.back().end += kPageSize;
    else r.push_back({start, start + kPageSize});
  }
  if (!r.empty()) r.back().end = std::min(r.back().end, size_);
  return r;
}

// Through a mapping, the part of the EOF page past EOF reads as zeros.
std::vector<std::byte> Model::eof_tail(const Op& op) const {
  uint64_t start = map_start(op.off);
  uint64_t page_end = (op.off + op.len + kPageSize - 1) & ~(kPageSize - 1);
  if (op.off + op.len > (size_ & ~(kPageSize - 1)) && size_ < page_end && size_ > start)
    return std::vector<std::byte>(page_end - size_);
  return {};
}

int Model::check(const Op& op) const {
  switch (op.kind) {
    case OpKind::read:
      return bad_rw_area(op) ? EINVAL : 0;
    case OpKind::write:
      return bad_rw_area(op) ? EINVAL : write_errno(op);
    case OpKind::mapwrite:  // ftruncate to its end first, when it ends past EOF
      return bad_rw_area(op) ? EINVAL : op.off + op.len > kMax ? EFBIG : 0;
    case OpKind::fallocate:
    case OpKind::punch_hole:
    case OpKind::zero_range:
      return fallocate_errno(op);
    case OpKind::collapse_range:
      if (int e = fallocate_errno(op)) return e;
      return !page_aligned(op) || op.off + op.len >= size_ ? EINVAL : 0;
    case OpKind::insert_range:
      if (int e = fallocate_errno(op)) return e;
      return !page_aligned(op) || op.off >= size_ ? EINVAL : op.len > kMax - size_ ? EFBIG : 0;
    case OpKind::dread:  // at or past EOF: 0 bytes, whatever the alignment
      return bad_rw_area(op) ? EINVAL : op.off >= size_ || op.len == 0 ? 0 : (op.off | op.len) & 511 ? EINVAL : 0;
    case OpKind::dwrite:
      if (bad_rw_area(op)) return EINVAL;
      if (int e = write_errno(op)) return e;
      return op.len && ((op.off | op.len) & 511) ? EINVAL : 0;
    case OpKind::write_atomic:
      return bad_rw_area(op) ? EINVAL : op.len ? atomic_errno(op, atomic_) : 0;
    case OpKind::truncate:
      return op.len > kLoffMax ? EINVAL : op.len > kMax ? EFBIG : 0;
    case OpKind::dontneed:
    case OpKind::readahead:
    case OpKind::migrate:  // faultline's own: a range as fadvise takes it
      return op.len > kLoffMax ? EINVAL : 0;
    default:
      return 0;
  }
}

// One copy_file_range: shortened to the source's EOF and to the maximum
// size; overlapping ranges in one file are EINVAL. The bytes copied, or
// minus the errno.
int64_t Model::copy_once(uint64_t off, uint64_t len, uint64_t dest) {
  if (off + len < off || dest + len < dest) return -EOVERFLOW;
  uint64_t n = off >= size_ ? 0 : std::min(len, size_ - off);
  if (n && dest >= kMax) return -EFBIG;
  n = std::min(n, dest >= kMax ? 0 : kMax - dest);
  bool overlaps = dest < off + n && off < dest + n;
  if (overlaps || off > kLoffMax - n || dest > kLoffMax - n) return -EINVAL;
  copy_bytes(off, dest, n);
  return static_cast<int64_t>(n);
}

// As fsx does it: copy_file_range again until all is copied, nothing more
// is, or a call fails (an error only if it is the first). A copy past the
// source's EOF to beyond it grows the file, so the next call finds more.
Outcome Model::copy_range(const Op& op) {
  Outcome out;
  while (out.written < op.len) {
    int64_t n = copy_once(op.off + out.written, op.len - out.written, op.dest + out.written);
    if (n < 0 && out.written == 0) out.err = static_cast<int>(-n);
    if (n <= 0) break;
    out.written += static_cast<uint64_t>(n);
  }
  return out;
}

// FICLONERANGE and FIDEDUPERANGE (generic_remap_checks, as XFS runs it).
Outcome Model::remap(const Op& op) {
  Outcome out;
  bool dedupe = op.kind == OpKind::dedupe_range;
  uint64_t src = op.off, dst = op.dest, len = op.len;
  if (dedupe && (src + len < src || src + len > size_) ) return out.err = EINVAL, out;
  if (len == 0) {
    if (dedupe || src == size_) return out;
    if (src > size_) return out.err = EINVAL, out;
    len = size_ - src;
  }
  if ((src | dst) % kPageSize || dst + len < dst) return out.err = EINVAL, out;
  if (dedupe && dst + len > size_) return out.err = EINVAL, out;
  if (src >= size_) return out.err = EINVAL, out;
  uint64_t n = std::min(len, size_ - src);
  if (dst >= kMax) return out.err = EFBIG, out;
  n = std::min(n, kMax - dst);
  bool eof_tail = src + n == size_ && (!dedupe || dst + n == size_);
  if (!eof_tail) n &= ~(kPageSize - 1);
  uint64_t blocks = eof_tail ? ((size_ + kPageSize - 1) & ~(kPageSize - 1)) - src : n;
  if (dst < src + blocks && src < dst + blocks) return out.err = EINVAL, out;
  if (!dedupe && (n != len || (blocks != n && dst + n < size_))) return out.err = EINVAL, out;
  if (n == 0) return out;
  if (dedupe) out.differs = !same_bytes(src, dst, n);
  else copy_bytes(src, dst, n);
  return out;
}

// XFS_IOC_EXCHANGE_RANGE within one file: aligned, inside it, apart.
Outcome Model::exchange_range(const Op& op) {
  Outcome out;
  uint64_t a = op.off, b = op.dest, len = op.len;
  if ((a | b) % kPageSize || a > size_ || b > size_) return out.err = EINVAL, out;  // even with len 0, as XFS
  if (len == 0) return out;
  bool inside = a + len >= a && b + len >= b && a + len <= size_ && b + len <= size_;
  if (len % kPageSize || !inside || (b < a + len && a < b + len)) return out.err = EINVAL, out;
  std::map<uint64_t, Page> moved;
  int64_t apart = static_cast<int64_t>(b / kPageSize) - static_cast<int64_t>(a / kPageSize);
  move_pages(moved, a / kPageSize, len / kPageSize, apart);
  move_pages(moved, b / kPageSize, len / kPageSize, -apart);
  pages_.merge(moved);
  return out;
}

Outcome Model::apply(const Op& op, std::span<const std::byte> data) {
  if (op.kind == OpKind::copy_range) return copy_range(op);
  if (op.kind == OpKind::clone_range || op.kind == OpKind::dedupe_range) return remap(op);
  if (op.kind == OpKind::exchange_range) return exchange_range(op);
  Outcome out;
  if ((out.err = check(op))) return out;
  uint64_t end = op.off + op.len;  // no wrap: check() refused those
  switch (op.kind) {
    case OpKind::read:
    case OpKind::dread: out.data = read(op.off, op.len); break;
    case OpKind::mapread:
      out.data = read(op.off, op.len);
      out.eof_tail = eof_tail(op);
      break;
    case OpKind::write:
    case OpKind::dwrite:
      out.written = op.len ? std::min(op.len, kMax - op.off) : 0;
      put(op.off, data.first(out.written));
      break;
    case OpKind::write_atomic:  // whole: check() refused what would be cut short
      out.written = op.len;
      put(op.off, data);
      break;
    case OpKind::mapwrite:
      put(op.off, data);
      out.eof_tail = eof_tail(op);
      break;
    case OpKind::truncate: set_size(op.len); break;
    case OpKind::fallocate:
      if (!op.keep_size && end > size_) set_size(end);
      break;
    case OpKind::punch_hole: zero(op.off, end); break;
    case OpKind::zero_range:
      zero(op.off, end);
      if (!op.keep_size && end > size_) set_size(end);
      break;
    case OpKind::collapse_range:
      zero(op.off, end);
      shift_pages(end / kPageSize, op.len / kPageSize, true);
      size_ -= op.len;
      break;
    case OpKind::insert_range:
      shift_pages(op.off / kPageSize, op.len / kPageSize, false);
      size_ += op.len;
      break;
    default: break;  // fsync, dontneed, readahead, migrate, reclaim: contents unchanged
  }
  return out;
}

namespace {
class ModelTarget final : public Target {
 public:
  explicit ModelTarget(AtomicWriteUnit atomic) : m_(atomic) {}
  const char* name() const override { return "model"; }
  Outcome apply(const Op& op, std::span<const std::byte> data) override { return m_.apply(op, data); }
  uint64_t size() override { return m_.size(); }
  std::vector<std::byte> contents(uint64_t off, uint64_t len) override { return m_.read(off, len); }
  std::vector<Range> data_ranges() override { return m_.data_ranges(); }
  AtomicWriteUnit atomic_write_unit() override { return m_.atomic_write_unit(); }

 private:
  Model m_;
};
}  // namespace

std::unique_ptr<Target> make_model_target(AtomicWriteUnit atomic) { return std::make_unique<ModelTarget>(atomic); }

}  // namespace faultline::replay
