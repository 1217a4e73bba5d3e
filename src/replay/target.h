// src/replay/target.h — what an op log is replayed against.
//
// A Target applies one op at a time and reports what it observed, in terms
// both the engine and the kernel can produce: the bytes a read returned,
// the errno of a failed call, whether an access through a mapping took a
// bus error, and the tail of the EOF page seen through the mapping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "faultline/engine.h"
#include "faultline/store.h"
#include "replay/oplog.h"

namespace faultline::replay {

struct Outcome {
  int err = 0;                      // errno, 0 on success
  uint64_t written = 0;             // bytes a write, dwrite or copy_range wrote
  bool differs = false;             // dedupe_range: the ranges were not the same
  bool sigbus = false;              // an access through the mapping faulted
  std::vector<std::byte> data;      // bytes returned by a read
  std::vector<std::byte> eof_tail;  // [size, end of EOF page) through the mapping
};

struct Range {
  uint64_t start = 0, end = 0;  // [start, end)
};

class Target {
 public:
  virtual ~Target() = default;
  virtual const char* name() const = 0;
  // `data` holds the bytes to write for write ops.
  virtual Outcome apply(const Op& op, std::span<const std::byte> data) = 0;
  virtual uint64_t size() = 0;
  // The file's bytes in [off, off+len), clipped to its size.
  virtual std::vector<std::byte> contents(uint64_t off, uint64_t len) = 0;
  // Where the file may hold data; the rest reads as zeros. The final
  // comparison reads these ranges of the reference (all of a file small
  // enough to read whole).
  virtual std::vector<Range> data_ranges() { return {{0, size()}}; }
  // The lengths write_atomic takes here ({0, 0}: none).
  virtual AtomicWriteUnit atomic_write_unit() { return {}; }
};

// The engine over an in-memory store taking atomic writes of `atomic`, or
// over a real file in `file_dir` (a PosixStore, with its filesystem's
// atomic writes) when that is not empty.
std::unique_ptr<Target> make_engine_target(const Config& config, const std::string& file_dir = {},
                                           AtomicWriteUnit atomic = MemoryStore::kDefaultAtomicUnit);
// The engine's store for a replay: in memory, or a real file in `dir`
// (unlinked at once) when that is not empty.
std::unique_ptr<Store> make_replay_store(const std::string& dir,
                                         AtomicWriteUnit atomic = MemoryStore::kDefaultAtomicUnit);
// The engine over the given store (a FaultInjectingStore, say).
std::unique_ptr<Target> make_engine_target(const Config& config, std::unique_ptr<Store> store);
// A real file in `dir` ($TMPDIR). Throws std::runtime_error naming the op,
// its first line and the fix if the filesystem there lacks one that `ops`
// run (collapse/insert range, clone/dedupe/exchange range, write_atomic).
std::unique_ptr<Target> make_kernel_target(const std::string& dir, const std::vector<Op>& ops = {});

// The model (replay/model.h) as a target: what every op must observe, with
// atomic writes of `atomic` (the other side's).
std::unique_ptr<Target> make_model_target(AtomicWriteUnit atomic = MemoryStore::kDefaultAtomicUnit);

// Maps a mapped access to the same two steps on both targets: pages that
// overlap [off, off+len) from the page-aligned start.
inline uint64_t map_start(uint64_t off) { return off & ~(kPageSize - 1); }
// A mapped access ends within the largest loff_t: the ftruncate to its end
// that a mapwrite may need would refuse anything past it (EINVAL).
inline bool map_area_valid(const Op& op) { return op.off <= INT64_MAX && op.len <= INT64_MAX - op.off; }

}  // namespace faultline::replay
