// src/replay/inject.cc — see inject.h.
#include "replay/inject.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "replay/model.h"
#include "replay/replayer.h"
#include "replay/target.h"

namespace faultline::replay {
namespace {

constexpr uint64_t kChunk = uint64_t{1} << 20;

StoreCall parse_call(const std::string& name, const std::string& item) {
  for (unsigned i = 0; i < kStoreCalls; ++i)
    if (name == store_call_name(static_cast<StoreCall>(i))) return static_cast<StoreCall>(i);
  throw std::invalid_argument(fmt::format("--inject: '{}': no store call '{}' (read, write, truncate, punch_hole, "
                                          "zero_range, collapse_range, insert_range, sync, clone_range, exchange_range)", item, name));
}

FaultRule parse_rule(const std::string& item) {
  size_t eq = item.find('='), at = item.find('@');
  if (eq == std::string::npos || at == std::string::npos || at < eq)
    throw std::invalid_argument(fmt::format("--inject: '{}' is not CALL=ERR@PROBABILITY", item));
  FaultRule r;
  r.call = parse_call(item.substr(0, eq), item);
  std::string err = item.substr(eq + 1, at - eq - 1);
  if (err == "EIO") r.err = EIO;
  else if (err == "ENOSPC") r.err = ENOSPC;
  else if (err == "ENOMEM") r.err = ENOMEM;  // thrown as std::bad_alloc
  else if (err == "short" && r.call == StoreCall::write) r.err = ENOSPC, r.short_write = true;
  else throw std::invalid_argument(fmt::format("--inject: '{}': '{}' is not EIO, ENOSPC, ENOMEM or short (writes only)", item, err));
  std::string p = item.substr(at + 1);
  size_t used = 0;
  try {
    r.probability = std::stod(p, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != p.size() || p.empty() || !(r.probability >= 0 && r.probability <= 1))
    throw std::invalid_argument(fmt::format("--inject: '{}': probability '{}' is not a number in [0, 1]", item, p));
  return r;
}

uint64_t parse_seed(const std::string& item) {
  uint64_t seed = 0;
  if (!parse_u64(item.substr(5), &seed))
    throw std::invalid_argument(fmt::format("--inject: '{}': the seed is not a number", item));
  return seed;
}

uint64_t all_injected(FaultInjectingStore& s) {
  uint64_t n = 0;
  for (unsigned i = 0; i < kStoreCalls; ++i) n += s.injected(static_cast<StoreCall>(i));
  return n;
}

// Faults that make writeback or the store's sync fail: what errseq records.
uint64_t writeback_faults(FaultInjectingStore& s) { return s.injected(StoreCall::write) + s.injected(StoreCall::sync); }

bool reads_only(OpKind k) { return k == OpKind::read || k == OpKind::dread || k == OpKind::mapread; }

class InjectedReplay {
 public:
  InjectedReplay(const Config& config, const InjectSpec& spec, std::unique_ptr<Store> inner, std::ostream& out)
      : spec_(spec), out_(out) {
    auto faulty = std::make_unique<FaultInjectingStore>(inner ? std::move(inner) : std::make_unique<MemoryStore>(),
                                                        spec.seed);
    store_ = faulty.get();
    model_ = Model(faulty->atomic_write_unit());
    engine_ = make_engine_target(config, std::move(faulty));
    resume();
  }

  bool step(const Op& op, InjectReport& r) {
    if (skipped_at_replay(op, model_.size())) {
      ++r.skipped;
      return true;
    }
    ++r.executed;
    for (const Op& piece : pieces(op)) {
      if (piece.off != op.off && skipped_at_replay(piece, model_.size())) break;  // the rest lies past EOF
      if (!run(piece, r)) return false;
      if (stopped_) break;
    }
    return true;
  }

  // One op, or one piece of a long one; stopped_: it ended the op (the
  // engine failed it, or it read or wrote less than asked).
  bool run(const Op& op, InjectReport& r) {
    std::vector<std::byte> data = writes_data(op.kind) ? op_data(op) : std::vector<std::byte>{};
    uint64_t faults = all_injected(*store_), wb = writeback_faults(*store_);
    truncates_ = store_->injected(StoreCall::truncate);
    Outcome got = engine_->apply(op, data);
    stopped_ = stops_short(op, got);
    bool injected = all_injected(*store_) > faults;
    bool direct = op.kind == OpKind::dwrite || op.kind == OpKind::write_atomic;
    if (direct && writeback_faults(*store_) > wb) unknown_[0] = unknown_[1] = true;
    if (op.kind == OpKind::fsync) return fsync(op, got, r);
    if (op.kind == OpKind::mapwrite && msync_failed(op, got)) return msync_reported(op, got, data, r);
    if ((got.err || got.sigbus) && injected) return failed(op, got, r);
    if (op.kind == OpKind::mapwrite && !got.err && !got.sigbus && !msync_was_clean(op, wb)) return false;
    // A write, or a copy, whose read-in failed part way stops short there.
    bool copies = op.kind == OpKind::write || op.kind == OpKind::copy_range;
    if (copies && injected && !got.err && got.written < op.len) return short_write(op, got, data);
    Outcome want = model_.apply(op, data);
    r.bytes_compared += got.data.size() + got.eof_tail.size();
    return same(op, got, want);
  }

  bool finish(InjectReport& r) {
    pause();
    uint64_t wb = writeback_faults(*store_);
    for (int h : {0, 1}) {  // what is still pending is reported once, then nothing is
      Op fs;
      fs.kind = OpKind::fsync;
      fs.line = h;
      Outcome first = engine_->apply(fs, {});
      bool pending = !unknown_[h] && wb > mark_[h];
      if (!unknown_[h] && (first.err != 0) != pending)
        return fail(fmt::format("the final fsync on open file {} {} a writeback error", h,
                                first.err ? "reported" : "did not report"));
      if (Outcome again = engine_->apply(fs, {}); again.err)
        return fail(fmt::format("a second final fsync on open file {} failed: {}", h, std::strerror(again.err)));
    }
    if (!durable(r)) return false;
    for (uint64_t off = 0; off < model_.size(); off += kChunk) {
      auto got = engine_->contents(off, kChunk);
      r.bytes_compared += got.size();
      if (!same_bytes(out_, "final contents", "engine", got, "model", model_.read(off, kChunk), off))
        return fail("the final contents differ");
    }
    r.injected = all_injected(*store_);
    return true;
  }

 private:
  bool fail(const std::string& why) {
    out_ << why << "\n";
    return false;
  }

  void pause() { store_->clear_rules(); }
  void resume() {
    for (const FaultRule& rule : spec_.rules) store_->add_rule(rule);
  }

  bool injected_errno(int e) const {
    return std::any_of(spec_.rules.begin(), spec_.rules.end(), [e](const FaultRule& rule) { return rule.err == e; }) ||
           e == EIO;  // a failed read-in is EIO whatever the store said
  }

  // fsync on open file h fails exactly when a writeback fault happened
  // since its last fsync, and when it succeeds the store holds the file.
  bool fsync(const Op& op, const Outcome& got, InjectReport& r) {
    int h = op.line & 1;
    uint64_t wb = writeback_faults(*store_);
    bool pending = wb > mark_[h];
    std::string head = fmt::format("line {}: {} (open file {})", op.line, format_op(op), h);
    if (!unknown_[h] && (got.err != 0) != pending)
      return fail(fmt::format("{}: fsync {}, but {} writeback fault(s) happened since its last fsync", head,
                              got.err ? fmt::format("failed ({})", std::strerror(got.err)) : "succeeded",
                              wb - mark_[h]));
    if (got.err && !injected_errno(got.err))
      return fail(fmt::format("{}: fsync failed with {}, which no fault was", head, std::strerror(got.err)));
    mark_[h] = wb;
    unknown_[h] = false;
    if (got.err) {
      ++r.failed_ops;
      ++r.fsync_errors;
      return true;
    }
    return durable(r) || fail(fmt::format("{}: fsync succeeded, but the store lost data", head));
  }

  // A mapped write ends in msync, on the mapping's open file (0): an error
  // that is not a bus error (the copy's read-in) and not the extending
  // ftruncate's (a store truncate fault) is msync's.
  bool msync_failed(const Op& op, const Outcome& got) {
    bool extended = op.off + op.len > model_.size();
    return got.err && !got.sigbus && !(extended && store_->injected(StoreCall::truncate) > truncates_) &&
           !model_.expected_errno(op);
  }

  // msync reports what fsync would: a writeback fault since open file 0
  // last heard. The copy into the mapping had landed.
  bool msync_reported(const Op& op, const Outcome& got, std::span<const std::byte> data, InjectReport& r) {
    uint64_t wb = writeback_faults(*store_);
    if (!unknown_[0] && wb == mark_[0])
      return fail(fmt::format("line {}: {}: msync failed ({}) with no writeback fault to report", op.line,
                              format_op(op), std::strerror(got.err)));
    if (!injected_errno(got.err))
      return fail(fmt::format("line {}: {}: msync failed with {}, which no fault was", op.line, format_op(op),
                              std::strerror(got.err)));
    mark_[0] = wb;
    unknown_[0] = false;
    ++r.failed_ops;
    model_.apply(op, data);
    return same_size(op);
  }

  // After a mapped write that succeeded, msync reported nothing: there
  // must have been nothing to report.
  bool msync_was_clean(const Op& op, uint64_t wb_before) {
    if (!unknown_[0] && wb_before > mark_[0])
      return fail(fmt::format("line {}: {}: msync succeeded, but {} writeback fault(s) were not reported", op.line,
                              format_op(op), wb_before - mark_[0]));
    mark_[0] = writeback_faults(*store_);
    unknown_[0] = false;
    return true;
  }

  // An op that failed with an injected fault.
  bool failed(const Op& op, const Outcome& got, InjectReport& r) {
    if (int e = model_.expected_errno(op))
      return fail(fmt::format("line {}: {}: failed with {}, but must fail with {} before any I/O", op.line,
                              format_op(op), std::strerror(got.err), std::strerror(e)));
    if (got.err && !injected_errno(got.err))
      return fail(fmt::format("line {}: {}: failed with {}, which no fault was", op.line, format_op(op),
                              std::strerror(got.err)));
    ++r.failed_ops;
    // Nothing changed: a read; a write whose read-in failed; an atomic
    // write, which promises that (G2), checked from here on.
    if (reads_only(op.kind) || op.kind == OpKind::write || op.kind == OpKind::write_atomic) return same_size(op);
    ++r.resyncs;
    out_ << fmt::format("line {}: {}: {} (injected); its range is undefined: the model takes the engine's "
                        "contents\n",
                        op.line, format_op(op), got.sigbus ? "bus error" : std::strerror(got.err));
    resync();
    return true;
  }

  // A write or copy whose read-in failed part way: what it wrote, it wrote.
  bool short_write(const Op& op, const Outcome& got, std::span<const std::byte> data) {
    Op part = op;
    part.len = got.written;
    model_.apply(part, data.first(std::min<size_t>(got.written, data.size())));
    return same_size(op);
  }

  bool same(const Op& op, const Outcome& got, const Outcome& want) {
    std::string head = fmt::format("line {}: {}", op.line, format_op(op));
    if (got.err != want.err || got.sigbus != want.sigbus || got.written != want.written || got.differs != want.differs)
      return fail(fmt::format("{}\n  engine: {}{}, wrote {:#x}\n  model: {}{}, wrote {:#x}", head,
                              got.err ? std::strerror(got.err) : "success", got.sigbus ? ", bus error" : "",
                              got.written, want.err ? std::strerror(want.err) : "success",
                              want.sigbus ? ", bus error" : "", want.written));
    if (got.err || got.sigbus) return true;
    std::ostringstream diff;
    if (!same_bytes(diff, "read bytes", "engine", got.data, "model", want.data, op.off) ||
        !same_bytes(diff, "EOF page tail", "engine", got.eof_tail, "model", want.eof_tail, model_.size()))
      return fail(head + "\n" + diff.str());
    return same_size(op);
  }

  bool same_size(const Op& op) {
    if (engine_->size() == model_.size()) return true;
    return fail(fmt::format("line {}: {}\n  file size: engine has {:#x}, model has {:#x}", op.line, format_op(op),
                            engine_->size(), model_.size()));
  }

  // G6: the store underneath holds every byte of the file.
  bool durable(InjectReport& r) {
    for (uint64_t off = 0; off < model_.size(); off += kChunk) {
      std::vector<std::byte> disk(std::min(kChunk, model_.size() - off));
      store_->inner().read(off, disk);
      r.bytes_compared += disk.size();
      if (!same_bytes(out_, "store after fsync", "store", disk, "model", model_.read(off, kChunk), off)) return false;
    }
    ++r.durable_checks;
    return true;
  }

  // The model becomes what the engine holds (read with faults paused).
  void resync() {
    pause();
    model_ = Model(model_.atomic_write_unit());
    Op op;
    op.kind = OpKind::truncate;
    op.len = engine_->size();
    model_.apply(op, {});
    op.kind = OpKind::write;
    for (uint64_t off = 0; off < model_.size(); off += kChunk) {
      auto bytes = engine_->contents(off, kChunk);
      op.off = off;
      op.len = bytes.size();
      model_.apply(op, bytes);
    }
    resume();
  }

  InjectSpec spec_;
  std::ostream& out_;
  FaultInjectingStore* store_ = nullptr;
  std::unique_ptr<Target> engine_;
  Model model_;
  uint64_t mark_[2] = {0, 0};       // writeback faults when open file h last fsynced
  bool unknown_[2] = {false, false};  // a fault of unknown kind since: either outcome is right
  bool stopped_ = false;             // run(): the op ended at this piece
  uint64_t truncates_ = 0;            // store truncate faults before this op
};

}  // namespace

InjectSpec parse_inject_spec(const std::string& spec) {
  InjectSpec s;
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    std::string item = spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (item.rfind("seed=", 0) == 0) s.seed = parse_seed(item);
    else s.rules.push_back(parse_rule(item));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return s;
}

InjectReport replay_injected(const std::vector<Op>& ops, const Config& config, const InjectSpec& spec,
                             std::ostream& out, std::unique_ptr<Store> inner) {
  InjectReport r;
  InjectedReplay rep(config, spec, std::move(inner), out);
  for (const Op& op : ops) {
    ++r.ops;
    if (!rep.step(op, r)) return r;
  }
  r.agreed = rep.finish(r);
  return r;
}

std::string summary_line(const InjectReport& r) {
  return fmt::format(
      "replayed {} ops ({} executed, {} skipped) with {} faults injected: {} ops failed with an injected error "
      "({} of them fsyncs, each expected), {} resyncs; the store held the file after {} fsyncs; {} bytes compared: "
      "nothing lost unreported",
      r.ops, r.executed, r.skipped, r.injected, r.failed_ops, r.fsync_errors, r.resyncs, r.durable_checks,
      r.bytes_compared);
}

}  // namespace faultline::replay
