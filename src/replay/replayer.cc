// src/replay/replayer.cc — see replayer.h.
#include "replay/replayer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <sstream>

#include "faultline/error.h"
#include "replay/model.h"
#include "replay/scratch_xfs.h"
#include "replay/target.h"

namespace faultline::replay {
namespace {

std::string errno_name(int e) { return e ? fmt::format("{} ({})", std::strerror(e), e) : "success"; }

void hex_rows(std::ostream& out, const char* who, const std::vector<std::byte>& v, uint64_t base, size_t from,
              size_t to) {
  for (size_t row = from & ~size_t{15}; row < to; row += 16) {
    out << fmt::format("  {:>6} {:#010x}:", who, base + row);
    for (size_t i = row; i < row + 16; ++i)
      out << (i < v.size() ? fmt::format(" {:02x}", std::to_integer<unsigned>(v[i])) : std::string("   "));
    out << "\n";
  }
}

}  // namespace

bool same_bytes(std::ostream& out, const char* what, const char* a_name, const std::vector<std::byte>& a,
                const char* b_name, const std::vector<std::byte>& b, uint64_t base) {
  if (a == b) return true;
  size_t first = 0;
  while (first < a.size() && first < b.size() && a[first] == b[first]) ++first;
  out << fmt::format("  {} differ at {:#x} ({} has {} bytes, {} has {}):\n", what, base + first, a_name, a.size(),
                     b_name, b.size());
  size_t to = std::min(std::max(a.size(), b.size()), (first & ~size_t{15}) + 64);
  hex_rows(out, a_name, a, base, first, to);
  hex_rows(out, b_name, b, base, first, to);
  return false;
}

namespace {

constexpr uint64_t kChunk = uint64_t{1} << 20;
constexpr uint64_t kReadWholeFile = uint64_t{256} << 20;

class Replayer {
 public:
  Replayer(Target& target, Target& ref, std::ostream& out) : target_(target), ref_(ref), out_(out) {}

  bool step(const Op& op, ReplayReport& r) {
    if (skipped_at_replay(op, ref_.size())) {
      ++r.skipped;
      return true;
    }
    ++r.executed;
    for (const Op& piece : pieces(op)) {
      if (piece.off != op.off && skipped_at_replay(piece, ref_.size())) break;  // the rest lies past EOF
      bool stopped = false;
      if (!run(piece, r, &stopped)) return false;
      if (stopped) break;
    }
    return true;
  }

  // The whole file when it is small enough to read; otherwise the ranges
  // where the reference holds data and the file's first and last MiB.
  bool final_contents(ReplayReport& r) {
    uint64_t size = ref_.size();
    std::vector<Range> ranges = size <= kReadWholeFile ? std::vector<Range>{{0, size}} : ref_.data_ranges();
    if (size > kReadWholeFile) {
      ranges.push_back({0, kChunk});
      ranges.push_back({size - kChunk, size});
    }
    for (const Range& range : ranges)
      for (uint64_t off = range.start; off < range.end; off += kChunk) {
        auto got = target_.contents(off, std::min(kChunk, range.end - off));
        auto want = ref_.contents(off, std::min(kChunk, range.end - off));
        r.bytes_compared += got.size();
        if (!same_bytes(out_, "final contents", target_.name(), got, ref_.name(), want, off)) {
          out_ << fmt::format("difference in the final contents after {} ops\n", r.ops);
          return false;
        }
      }
    return true;
  }

 private:
  // One op, or one piece of a long one; `stopped`: it ended the op (an
  // error, or short).
  bool run(const Op& op, ReplayReport& r, bool* stopped) {
    std::vector<std::byte> data = writes_data(op.kind) ? op_data(op) : std::vector<std::byte>{};
    Outcome got = apply(target_, op, data), want = apply(ref_, op, data);
    // Neither the model nor fsx's kernel run fails an op for want of memory:
    // this machine ran out, and no verdict follows from that.
    if (got.err == ENOMEM && want.err != ENOMEM) throw out_of_memory(op, target_.name());
    r.bytes_compared += std::max(got.data.size(), want.data.size()) + got.eof_tail.size();
    *stopped = stops_short(op, want);
    return same(op, got, want);
  }

  static Outcome apply(Target& t, const Op& op, std::span<const std::byte> data) {
    try {
      return t.apply(op, data);
    } catch (const std::bad_alloc&) {
      throw out_of_memory(op, t.name());
    }
  }
  static Error out_of_memory(const Op& op, const char* who) {
    return Error(Errc::out_of_memory,
                 fmt::format("line {}: {}: the {} ran out of memory (ENOMEM); the replay stops here", op.line,
                             format_op(op), who),
                 ENOMEM);
  }

  bool same(const Op& op, const Outcome& got, const Outcome& want) {
    std::string head = fmt::format("line {}: {}", op.line, format_op(op));
    if (got.err != want.err || got.sigbus != want.sigbus) {
      out_ << head << "\n"
           << fmt::format("  {}: {}{}\n  {}: {}{}\n", target_.name(), errno_name(got.err),
                          got.sigbus ? ", bus error" : "", ref_.name(), errno_name(want.err),
                          want.sigbus ? ", bus error" : "");
      return false;
    }
    if (got.sigbus || got.err) return true;  // partial copies differ in where they stopped
    if (got.differs != want.differs) {
      out_ << head << "\n"
           << fmt::format("  {}: the ranges {}\n  {}: the ranges {}\n", target_.name(),
                          got.differs ? "differ" : "are the same", ref_.name(), want.differs ? "differ" : "are the same");
      return false;
    }
    if (got.written != want.written) {
      out_ << head << "\n"
           << fmt::format("  {} wrote {:#x} bytes, {} wrote {:#x}\n", target_.name(), got.written, ref_.name(),
                          want.written);
      return false;
    }
    std::ostringstream diff;
    bool ok = same_bytes(diff, "read bytes", target_.name(), got.data, ref_.name(), want.data, op.off) &&
              same_bytes(diff, "EOF page tail", target_.name(), got.eof_tail, ref_.name(), want.eof_tail,
                         ref_.size());
    uint64_t gs = target_.size(), ws = ref_.size();
    if (ok && gs != ws) {
      diff << fmt::format("  file size: {} has {:#x}, {} has {:#x}\n", target_.name(), gs, ref_.name(), ws);
      ok = false;
    }
    if (!ok) out_ << head << "\n" << diff.str();
    return ok;
  }

  Target& target_;
  Target& ref_;
  std::ostream& out_;
};

}  // namespace

std::string default_tmpdir(const std::string& given) {
  if (!given.empty()) return given;
  const char* t = std::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

// The file both sides start from when the log begins mid-run: SIZE bytes,
// the first 64 MiB of them the pattern of line 0 (written a chunk at a
// time), the rest a hole, so that memory does not follow the number.
static void start_from(Target& target, Target& reference, uint64_t size, std::ostream& out) {
  uint64_t filled = std::min(size, kMaxOpLength);
  out << fmt::format("the log begins with a file of {:#x} bytes: both sides start from one holding the pattern of "
                     "line 0{}\n",
                     size, filled < size ? fmt::format(" up to {:#x}, zeros after", filled) : std::string());
  for (uint64_t off = 0; off < filled; off += kChunk) {
    Op fill;
    fill.kind = OpKind::write;
    fill.off = off;
    fill.len = std::min(kChunk, filled - off);
    auto data = op_data(fill);
    target.apply(fill, data);
    reference.apply(fill, data);
  }
  Op grow;
  grow.kind = OpKind::truncate;
  grow.len = size;
  target.apply(grow, {});
  reference.apply(grow, {});
}

static bool size_column_agrees(const Op& next, uint64_t size, std::ostream& out) {
  if (next.size == size) return true;
  out << fmt::format("line {}: {}\n  the SIZE column says {:#x}, but the replay's file has {:#x} after the line "
                     "before\n",
                     next.line, format_op(next), next.size, size);
  return false;
}

ReplayReport replay_against(Target& target, Target& reference, const std::vector<Op>& ops, std::ostream& out) {
  ReplayReport r;
  Replayer rep(target, reference, out);
  if (!ops.empty() && ops[0].size > 0) start_from(target, reference, ops[0].size, out);
  for (size_t i = 0; i < ops.size(); ++i) {
    ++r.ops;
    if (!rep.step(ops[i], r)) return r;
    if (i + 1 < ops.size() && !size_column_agrees(ops[i + 1], reference.size(), out)) {
      r.size_column = true;
      return r;
    }
  }
  r.agreed = rep.final_contents(r);
  return r;
}

// fsx -Z: its reads and writes were O_DIRECT.
static std::vector<Op> as_direct(std::vector<Op> ops) {
  for (Op& op : ops) {
    if (op.kind == OpKind::read) op.kind = OpKind::dread;
    else if (op.kind == OpKind::write) op.kind = OpKind::dwrite;
  }
  return ops;
}

ReplayReport replay_ops(const std::vector<Op>& given, const ReplayOptions& opts, std::ostream& out) {
  const std::vector<Op> ops = opts.direct ? as_direct(given) : given;
  std::string dir = default_tmpdir(opts.tmpdir);
  std::unique_ptr<ScratchXfs> xfs;  // outlives the targets: declared first, destroyed last
  if (opts.xfs) {
    xfs = std::make_unique<ScratchXfs>(dir);
    dir = xfs->dir();
  }
  // Where the kernel is a side, the others take atomic writes of the
  // lengths it does (statx's unit depends on the filesystem and its size).
  std::unique_ptr<Target> kernel;
  if (opts.against != Against::engine) kernel = make_kernel_target(dir, ops);
  AtomicWriteUnit unit = kernel ? kernel->atomic_write_unit() : MemoryStore::kDefaultAtomicUnit;
  std::unique_ptr<Target> engine;
  if (opts.against != Against::kernel)
    engine = make_engine_target(opts.config, opts.engine_on_file ? dir : std::string(), unit);
  Target& target = engine ? *engine : *kernel;
  if (std::any_of(ops.begin(), ops.end(), [](const Op& o) { return !o.skip && o.kind == OpKind::write_atomic; })) {
    AtomicWriteUnit u = target.atomic_write_unit();
    out << fmt::format("write_atomic: the {} takes powers of two in [{:#x}, {:#x}]{}\n", kernel ? "kernel" : "engine",
                       u.min, u.max, kernel && engine ? "; the engine takes the same" : "");
  }
  std::unique_ptr<Target> model = opts.against == Against::both ? nullptr : make_model_target(target.atomic_write_unit());
  return replay_against(target, model ? *model : *kernel, ops, out);
}

std::string summary_line(const ReplayReport& r, Against against) {
  const char* who = against == Against::both ? "engine and kernel agree"
                    : against == Against::engine ? "engine agrees with the model"
                                                 : "kernel agrees with the model";
  return fmt::format("replayed {} ops ({} executed, {} skipped), {} bytes compared: {}", r.ops, r.executed,
                     r.skipped, r.bytes_compared, who);
}

}  // namespace faultline::replay
