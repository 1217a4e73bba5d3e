// src/replay/generator.cc — see generator.h.
#include "replay/generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "replay/model.h"

namespace faultline::replay {
namespace {

constexpr uint64_t kPage = 4096, kFolio = 16 * kPage;

struct Gen {
  std::mt19937_64 rng;
  uint64_t max;
  bool reflink, exchange, atomic;

  uint64_t below(uint64_t n) { return n ? rng() % n : 0; }
  bool chance(unsigned pct) { return below(100) < pct; }
  int64_t jitter() {
    static constexpr int64_t d[] = {0, 0, 1, -1, 100};
    return d[below(5)];
  }
  uint64_t clamp(int64_t v, uint64_t hi) { return static_cast<uint64_t>(std::clamp<int64_t>(v, 0, hi)); }

  uint64_t offset(uint64_t size) {
    switch (below(4)) {
      case 0: return below(max);
      case 1: return clamp(static_cast<int64_t>(below(max / kPage) * kPage) + jitter(), max - 1);
      case 2: return clamp(static_cast<int64_t>(below(max / kFolio) * kFolio) + jitter(), max - 1);
      default: return clamp(static_cast<int64_t>(size) + jitter() - static_cast<int64_t>(below(2) * kPage), max - 1);
    }
  }
  uint64_t length() {
    static constexpr uint64_t l[] = {1, 511, 512, kPage - 1, kPage, kPage + 1, kFolio, 3 * kPage};
    return chance(30) ? 1 + below(2 * kFolio) : l[below(8)];
  }
  uint64_t aligned_below(uint64_t n) { return n >= kPage ? below(n / kPage) * kPage : 0; }

  OpKind kind() {
    struct W {
      OpKind k;
      unsigned w;
    };
    static constexpr W ws[] = {
        {OpKind::read, 10}, {OpKind::write, 12}, {OpKind::mapread, 10}, {OpKind::mapwrite, 10},
        {OpKind::truncate, 6}, {OpKind::fallocate, 4}, {OpKind::punch_hole, 6}, {OpKind::zero_range, 6},
        {OpKind::collapse_range, 4}, {OpKind::insert_range, 4}, {OpKind::fsync, 2}, {OpKind::dread, 4},
        {OpKind::dwrite, 4}, {OpKind::dontneed, 3}, {OpKind::readahead, 3}, {OpKind::migrate, 3},
        {OpKind::reclaim, 2}, {OpKind::copy_range, 4}, {OpKind::clone_range, 5}, {OpKind::dedupe_range, 4},
        {OpKind::exchange_range, 4}, {OpKind::write_atomic, 5},
    };
    auto allowed = [this](OpKind k) {
      if (k == OpKind::clone_range || k == OpKind::dedupe_range) return reflink;
      if (k == OpKind::write_atomic) return atomic;
      return k != OpKind::exchange_range || exchange;
    };
    unsigned total = 0;
    for (auto& w : ws) total += allowed(w.k) ? w.w : 0;
    unsigned r = static_cast<unsigned>(below(total));
    for (auto& w : ws) {
      if (!allowed(w.k)) continue;
      if (r < w.w) return w.k;
      r -= w.w;
    }
    return OpKind::read;
  }

  // Two ranges in the file: mostly block aligned, inside it and apart (as
  // fsx makes them), sometimes not, so that both sides must refuse alike.
  void two_ranges(Op& op, uint64_t size) {
    bool aligned = op.kind != OpKind::copy_range && chance(85);
    if (size == 0 || !aligned) {
      op.dest = offset(size);
      op.len = std::min(op.len, max - std::max(op.off, op.dest));
      return;
    }
    op.off = aligned_below(size);
    op.len = chance(20) ? size - op.off : std::min(kPage * (1 + below(8)), size - op.off) & ~(kPage - 1);
    op.dest = aligned_below(op.kind == OpKind::clone_range && chance(50) ? max - op.len : size);
    if (op.dest + op.len > max) op.dest = 0;
  }

  // As fsx makes them: a power of two from a block to 64 KiB (within every
  // atomic write unit seen: XFS's is at least 1 MiB), naturally aligned;
  // sometimes not, so that both sides must refuse alike.
  void atomic_write(Op& op) {
    op.len = kPage << below(5);
    op.off = below(max / op.len) * op.len;
    if (chance(10)) op.len += chance(50) ? kPage : 0 - (kPage - 512);  // not a power of two, or below the unit
    else if (chance(10)) op.off += kPage * (1 + below(op.len / kPage));  // misaligned, unless a whole unit on
    if (op.off + op.len > max) op.off = 0;
  }

  // Fills off/len for `op` given the current size; keeps the file <= max.
  void shape(Op& op, uint64_t size) {
    op.off = offset(size);
    op.len = std::min(length(), max - op.off);
    switch (op.kind) {
      case OpKind::truncate:
        op.len = chance(50) ? offset(size) : below(max);
        op.off = 0;
        break;
      case OpKind::fallocate:
      case OpKind::zero_range:
        op.keep_size = chance(50);
        break;
      case OpKind::collapse_range:
        if (chance(85) && size > 2 * kPage) {
          op.off = aligned_below(size - kPage);
          op.len = std::max(kPage, aligned_below(size - op.off - 1));
          op.len = std::min(op.len, 4 * kFolio);
        }
        break;
      case OpKind::insert_range:
        if (chance(85) && size > 0) {
          op.off = aligned_below(size);
          op.len = kPage * (1 + below(8));
        }
        if (size + op.len > max) op.len = 0;  // zero length: fails alike, stays small
        break;
      case OpKind::copy_range:
      case OpKind::clone_range:
      case OpKind::dedupe_range:
      case OpKind::exchange_range:
        two_ranges(op, size);
        break;
      case OpKind::write_atomic:
        atomic_write(op);
        break;
      case OpKind::dread:
      case OpKind::dwrite:
        op.off = chance(80) ? aligned_below(max - kFolio) : below(max / 512) * 512;
        op.len = kPage * (1 + below(8));
        op.len = std::min(op.len, (max - op.off) & ~(kPage - 1));
        break;
      default:
        break;
    }
  }
};

}  // namespace

std::vector<Op> generate_ops(const GenOptions& opts) {
  Gen g{std::mt19937_64(opts.seed), std::max<uint64_t>(opts.max_file, 4 * kFolio), opts.reflink, opts.exchange,
        opts.atomic};
  Model model;
  std::vector<Op> ops;
  ops.reserve(opts.count);
  for (uint64_t i = 0; i < opts.count; ++i) {
    Op op;
    op.line = static_cast<int>(i + 2);  // line 1 of the written log is its header
    op.kind = g.kind();
    op.size = model.size();
    g.shape(op, model.size());
    if (!skipped_at_replay(op, model.size())) model.apply(op, writes_data(op.kind) ? op_data(op) : std::vector<std::byte>{});
    ops.push_back(op);
  }
  return ops;
}

void write_oplog(std::ostream& out, const std::vector<Op>& ops, const GenOptions& opts) {
  out << fmt::format("# faultline generated op log: seed {}, {} ops, max file {:#x}{}{}{}\n", opts.seed, ops.size(),
                     opts.max_file, opts.reflink ? ", reflink" : "", opts.exchange ? ", exchange" : "",
                     opts.atomic ? ", atomic" : "");
  for (const Op& op : ops) out << format_op(op) << "\n";
}

}  // namespace faultline::replay
