// src/replay/target_engine.cc — replaying ops on faultline itself.
#include <unistd.h>

#include <algorithm>
#include <string>

#include "faultline/faultline.h"
#include "replay/target.h"

namespace faultline::replay {
// The real file is unlinked as soon as it is open: however the replay
// ends (an exception, a signal, a crash), nothing is left behind.
std::unique_ptr<Store> make_replay_store(const std::string& dir, AtomicWriteUnit atomic) {
  if (dir.empty()) return std::make_unique<MemoryStore>(atomic);
  std::string path = dir + "/faultline-engine-" + std::to_string(::getpid());
  auto store = open_posix_store(path, OpenMode::truncate);
  ::unlink(path.c_str());
  return store;
}

namespace {

// fsync goes to one of two open files of the inode, by the op's line, so
// that every replay exercises each open file's own error reporting.
class EngineTarget final : public Target {
 public:
  EngineTarget(const Config& c, std::unique_ptr<Store> store)
      : engine_(c), file_(engine_.open(std::move(store))), other_(file_.reopen()), mm_(engine_.create_mm()) {}

  const char* name() const override { return "engine"; }

  Outcome apply(const Op& op, std::span<const std::byte> data) override {
    Outcome out;
    try {
      run(op, data, out);
    } catch (const Error& e) {
      if (e.code() == Errc::bus_error) out.sigbus = true;
      else out.err = e.posix_errno();
      if (!out.sigbus) out.data.clear();  // a failed read returned nothing
    }
    return out;
  }

  uint64_t size() override { return file_.size(); }
  AtomicWriteUnit atomic_write_unit() override { return file_.atomic_write_unit(); }

  std::vector<std::byte> contents(uint64_t off, uint64_t len) override {
    std::vector<std::byte> v(std::min(len, off < file_.size() ? file_.size() - off : 0));
    v.resize(file_.read(off, v));
    return v;
  }

 private:
  void run(const Op& op, std::span<const std::byte> data, Outcome& out) {
    switch (op.kind) {
      case OpKind::read:
        out.data.resize(op.len);
        out.data.resize(file_.read(op.off, out.data));
        break;
      case OpKind::write: out.written = file_.write(op.off, data); break;
      case OpKind::mapread:
      case OpKind::mapwrite: mapped(op, data, out); break;
      case OpKind::truncate: file_.truncate(op.len); break;
      case OpKind::fallocate: file_.fallocate(op.off, op.len, op.keep_size); break;
      case OpKind::punch_hole: file_.punch_hole(op.off, op.len); break;
      case OpKind::zero_range: file_.zero_range(op.off, op.len, op.keep_size); break;
      case OpKind::collapse_range: file_.collapse_range(op.off, op.len); break;
      case OpKind::insert_range: file_.insert_range(op.off, op.len); break;
      case OpKind::fsync: (op.line & 1 ? other_ : file_).fsync(); break;
      case OpKind::dread:
        out.data.resize(op.len);
        out.data.resize(file_.direct_read(op.off, out.data));
        break;
      case OpKind::dwrite: out.written = file_.direct_write(op.off, data); break;
      case OpKind::dontneed: file_.fadvise_dontneed(op.off, op.len); break;
      case OpKind::readahead: file_.readahead(op.off, op.len); break;
      case OpKind::migrate: file_.migrate(op.off, op.len); break;
      case OpKind::reclaim: engine_.reclaim(std::max<uint64_t>(op.len / kPageSize, 1)); break;
      case OpKind::copy_range: copy(op, out); break;
      case OpKind::clone_range: file_.clone_range(op.off, op.len, op.dest); break;
      case OpKind::dedupe_range: out.differs = !file_.dedupe_range(op.off, op.len, op.dest); break;
      case OpKind::exchange_range: file_.exchange_range(op.off, op.len, op.dest); break;
      case OpKind::write_atomic: out.written = file_.write_atomic(op.off, data); break;
    }
  }

  // As fsx does (and the kernel side): copy_range again until all is
  // copied or nothing more is; a failure after progress ends the loop.
  void copy(const Op& op, Outcome& out) {
    while (out.written < op.len) {
      uint64_t n;
      try {
        n = file_.copy_range(op.off + out.written, op.len - out.written, op.dest + out.written);
      } catch (const Error&) {
        if (out.written == 0) throw;
        return;
      }
      if (n == 0) return;
      out.written += n;
    }
  }

  // mmap, copy, msync (for writes), read the EOF page's tail, munmap.
  void mapped(const Op& op, std::span<const std::byte> data, Outcome& out) {
    bool write = op.kind == OpKind::mapwrite;
    if (!map_area_valid(op)) throw Error(Errc::invalid_argument, "mapped access past the largest loff_t");
    if (write && op.off + op.len > file_.size()) file_.truncate(op.off + op.len);
    uint64_t start = map_start(op.off);
    uint64_t map_len = op.off + op.len - start;
    uint64_t addr = mm_.mmap(file_, start, map_len, kProtRead | (write ? kProtWrite : 0u), MapType::shared);
    struct Unmap {
      Mm& mm;
      uint64_t addr, len;
      ~Unmap() { mm.munmap(addr, len); }
    } unmap{mm_, addr, map_len};
    if (write) {
      mm_.store(addr + (op.off - start), data);
      mm_.msync(addr, map_len);
    } else {
      out.data.resize(op.len);
      mm_.load(addr + (op.off - start), out.data);
    }
    uint64_t size = file_.size();
    uint64_t page_end = (op.off + op.len + kPageSize - 1) & ~(kPageSize - 1);
    if (op.off + op.len > (size & ~(kPageSize - 1)) && size < page_end && size > start) {
      out.eof_tail.resize(page_end - size);
      mm_.load(addr + (size - start), out.eof_tail);
    }
  }

  Engine engine_;
  File file_, other_;
  Mm mm_;
};

}  // namespace

std::unique_ptr<Target> make_engine_target(const Config& config, const std::string& file_dir,
                                           AtomicWriteUnit atomic) {
  return std::make_unique<EngineTarget>(config, make_replay_store(file_dir, atomic));
}

std::unique_ptr<Target> make_engine_target(const Config& config, std::unique_ptr<Store> store) {
  return std::make_unique<EngineTarget>(config, std::move(store));
}

}  // namespace faultline::replay
