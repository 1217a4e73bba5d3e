// src/replay/oplog.h — fsx operation logs (.fsxops).
//
// The format fsx --record-ops writes and --replay-ops reads (xfstests
// ltp/fsx.c), one op a line:
//   [skip] OP 0xOFF 0xLEN 0xSIZE [flags]              most ops
//   [skip] OP 0xOFF 0xLEN 0xDEST 0xSIZE [flags]       copy_range, clone_range,
//                                                     dedupe_range, exchange_range
// SIZE is the file size before the op (for truncate: "truncate 0x0
// 0xNEWSIZE 0xOLDSIZE"); '#' starts a comment; "skip" lines are ops fsx
// did not run: parsed and not executed; '*' marks the op fsx blamed.
// faultline adds its own ops in the same syntax: dread, dwrite, dontneed,
// readahead, migrate, reclaim, fsync. See docs/oplog.md.
#pragma once

#include <cstdint>
#include <istream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace faultline::replay {

enum class OpKind {
  read, write, mapread, mapwrite, truncate, fallocate, punch_hole, zero_range, collapse_range,
  insert_range, fsync, dread, dwrite, dontneed, readahead, migrate, reclaim,
  copy_range, clone_range, dedupe_range, exchange_range, write_atomic,
};

struct Op {
  int line = 0;  // 1-based line in the log
  bool skip = false;
  OpKind kind = OpKind::read;
  uint64_t off = 0, len = 0, size = 0;  // for truncate: off 0, len = new size
  uint64_t dest = 0;                    // the second range's offset (two-range ops)
  bool keep_size = false, close_open = false, unshare = false, marked = false;
};

class ParseError : public std::runtime_error {
 public:
  ParseError(int line, const std::string& what) : std::runtime_error(what), line_(line) {}
  int line() const noexcept { return line_; }

 private:
  int line_;
};

// The longest atomic write a log may ask for: each side holds a buffer of
// its length (an atomic write cannot be cut in pieces).
inline constexpr uint64_t kMaxOpLength = uint64_t{64} << 20;
// Reads and writes (buffered, mapped, direct) longer than kPieceLength run
// as consecutive pieces of at most that many bytes, each side holding one
// piece at a time; fsx's own limit bounds their length (its lengths are
// ints: fsx -o 80m writes 80 MiB ops).
inline constexpr uint64_t kPieceLength = uint64_t{16} << 20;
inline constexpr uint64_t kMaxStreamedLength = uint64_t{1} << 31;
bool streamed(OpKind k);
// `op` as the pieces a replay runs, in order: the op itself unless it is
// streamed and longer than kPieceLength. Each piece keeps the op's line.
std::vector<Op> pieces(const Op& op);

const char* op_name(OpKind k);
// A whole token as an unsigned C literal (0x1f000, 4096); false if it is not one.
// `too_big`, if given, says why it failed: digits past 2^64 - 1.
bool parse_u64(const std::string& tok, uint64_t* v, bool* too_big = nullptr);
// `tok` for a message: quoted, bytes outside printable ASCII as \xNN (a NUL
// too, which would end the message), cut after 40 bytes.
std::string quote_token(std::string_view tok);
// copy_range, clone_range, dedupe_range, exchange_range: OFF LEN DEST SIZE.
bool has_dest(OpKind k);
// Throws ParseError naming the line and what is wrong with it.
std::vector<Op> parse_oplog(std::istream& in);
// One line in the log's syntax (no newline).
std::string format_op(const Op& op);

}  // namespace faultline::replay
