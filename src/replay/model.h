// src/replay/model.h — the expected file, as fsx's good_buf.
//
// The file's size and its bytes, kept sparse (a page is held only where
// data was written or copied from data), and the meaning of each op on it
// with Linux's rules: what a read must return, which calls must fail with
// which errno, where a write is cut short. The replayer checks a single
// target against it; the generator uses it to fill the log's SIZE column.
// Memory follows the data written, never the numbers in the log: a file of
// terabytes with one page written costs one page.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "faultline/store.h"
#include "replay/oplog.h"
#include "replay/target.h"

namespace faultline::replay {

class Model {
 public:
  // `atomic`: the lengths write_atomic takes, as the store it stands for.
  explicit Model(AtomicWriteUnit atomic = MemoryStore::kDefaultAtomicUnit) : atomic_(atomic) {}
  Outcome apply(const Op& op, std::span<const std::byte> data);
  // The errno `op` must fail with on this file before any I/O, or 0.
  int expected_errno(const Op& op) const { return check(op); }
  uint64_t size() const { return size_; }
  AtomicWriteUnit atomic_write_unit() const { return atomic_; }
  // [off, off+len) clipped to the size; holes read as zeros.
  std::vector<std::byte> read(uint64_t off, uint64_t len) const;
  // The pages that may hold non-zero bytes, as merged byte ranges.
  std::vector<Range> data_ranges() const;

 private:
  using Page = std::array<std::byte, kPageSize>;

  int check(const Op& op) const;  // the errno the op must fail with, or 0
  // The reflink family: each its own checks and effect (below check()).
  Outcome copy_range(const Op& op);
  int64_t copy_once(uint64_t off, uint64_t len, uint64_t dest);
  Outcome remap(const Op& op);
  Outcome exchange_range(const Op& op);
  void set_size(uint64_t n);
  void zero(uint64_t off, uint64_t end);
  void put(uint64_t off, std::span<const std::byte> data);
  void copy_bytes(uint64_t src, uint64_t dst, uint64_t n);
  bool same_bytes(uint64_t a, uint64_t b, uint64_t n) const;
  void move_pages(std::map<uint64_t, Page>& into, uint64_t first, uint64_t count, int64_t delta);
  void shift_pages(uint64_t from_page, uint64_t by_pages, bool down);
  std::vector<std::byte> eof_tail(const Op& op) const;

  AtomicWriteUnit atomic_;
  std::map<uint64_t, Page> pages_;  // page index -> bytes; absent: zeros
  uint64_t size_ = 0;               // nothing at or past it is non-zero
};

// The bytes a write-type op writes: a pattern of the line and offset, as
// fsx's gendata, so that a misplaced byte shows where it came from.
std::vector<std::byte> op_data(const Op& op);
bool writes_data(OpKind k);
// Whether `o` ends the op `piece` is a piece of (pieces()): it failed, or
// read or wrote less than asked.
bool stops_short(const Op& piece, const Outcome& o);
// mapread past EOF and zero-length mapped ops are skipped, as fsx does.
bool skipped_at_replay(const Op& op, uint64_t size);

}  // namespace faultline::replay
