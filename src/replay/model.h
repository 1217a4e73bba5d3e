// src/replay/model.h — the expected file, as fsx's good_buf.
//
// A plain byte vector with the size, and the meaning of each op on it:
// what a read must return, which calls must fail with which errno. The
// replayer checks a single target against it; the generator uses it to fill
// the log's SIZE column.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "replay/oplog.h"
#include "replay/target.h"

namespace faultline::replay {

class Model {
 public:
  Outcome apply(const Op& op, std::span<const std::byte> data);
  uint64_t size() const { return bytes_.size(); }
  const std::vector<std::byte>& contents() const { return bytes_; }

 private:
  int check(const Op& op) const;  // the errno the op must fail with, or 0
  void resize(uint64_t n) { bytes_.resize(n, std::byte{0}); }
  void zero(uint64_t off, uint64_t end);
  void put(uint64_t off, std::span<const std::byte> data);
  std::vector<std::byte> get(uint64_t off, uint64_t len) const;
  std::vector<std::byte> eof_tail(const Op& op) const;

  std::vector<std::byte> bytes_;
};

// The bytes a write-type op writes: a pattern of the line and offset, as
// fsx's gendata, so that a misplaced byte shows where it came from.
std::vector<std::byte> op_data(const Op& op);
bool writes_data(OpKind k);
// mapread past EOF and zero-length mapped ops are skipped, as fsx does.
bool skipped_at_replay(const Op& op, uint64_t size);

}  // namespace faultline::replay
