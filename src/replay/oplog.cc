// src/replay/oplog.cc — parsing and printing .fsxops lines.
#include "replay/oplog.h"

#include <fmt/format.h>

#include <cctype>
#include <sstream>
#include <stdexcept>
#include <string_view>

namespace faultline::replay {
namespace {

struct Name {
  const char* name;
  OpKind kind;
};
constexpr Name kNames[] = {
    {"read", OpKind::read}, {"write", OpKind::write}, {"mapread", OpKind::mapread},
    {"mapwrite", OpKind::mapwrite}, {"truncate", OpKind::truncate}, {"fallocate", OpKind::fallocate},
    {"punch_hole", OpKind::punch_hole}, {"zero_range", OpKind::zero_range},
    {"collapse_range", OpKind::collapse_range}, {"insert_range", OpKind::insert_range},
    {"fsync", OpKind::fsync}, {"dread", OpKind::dread}, {"dwrite", OpKind::dwrite},
    {"dontneed", OpKind::dontneed}, {"readahead", OpKind::readahead}, {"migrate", OpKind::migrate},
    {"reclaim", OpKind::reclaim}, {"copy_range", OpKind::copy_range}, {"clone_range", OpKind::clone_range},
    {"dedupe_range", OpKind::dedupe_range}, {"exchange_range", OpKind::exchange_range},
    {"write_atomic", OpKind::write_atomic},
};

uint64_t parse_number(const std::string& tok, int line, const char* what) {
  uint64_t v = 0;
  bool too_big = false;
  if (!parse_u64(tok, &v, &too_big))
    throw ParseError(line, fmt::format("line {}: {} {} {}", line, what, quote_token(tok),
                                       too_big ? "is out of range (more than 2^64 - 1)" : "is not a number"));
  return v;
}

// Reads and writes carry a buffer of a piece's length on each side of a
// replay, an atomic write one of its whole length; the reflink family
// moves blocks, a page at a time. Bound what is held, so that memory
// follows the file and not the numbers.
void check_length(const Op& op, int line) {
  if (op.skip) return;
  uint64_t most = streamed(op.kind) ? kMaxStreamedLength : op.kind == OpKind::write_atomic ? kMaxOpLength : 0;
  if (most && op.len > most)
    throw ParseError(line, fmt::format("line {}: {} length {:#x} is more than a replay moves in one op ({:#x}, {} MiB)",
                                       line, op_name(op.kind), op.len, most, most >> 20));
  // Pieces of an op that fails whole (its end past the largest loff_t)
  // would not all fail: such an op must be short enough to run whole.
  if (streamed(op.kind) && op.len > kPieceLength && (op.off + op.len < op.off || op.off + op.len > INT64_MAX))
    throw ParseError(line, fmt::format("line {}: {} [{:#x}, +{:#x}) ends past 2^63 - 1; a replay runs an op longer "
                                       "than {} MiB in pieces, which this one would not be",
                                       line, op_name(op.kind), op.off, op.len, kPieceLength >> 20));
}

Op parse_line(std::istringstream& words, std::string word, int line) {
  Op op;
  op.line = line;
  if (word == "skip") {
    op.skip = true;
    if (!(words >> word)) throw ParseError(line, fmt::format("line {}: 'skip' without an op", line));
  }
  const Name* n = nullptr;
  for (const auto& k : kNames)
    if (word == k.name) n = &k;
  if (!n) throw ParseError(line, fmt::format("line {}: unknown op {}", line, quote_token(word)));
  op.kind = n->kind;
  const char* what[] = {"offset", "length", "destination", "size"};
  uint64_t* args[] = {&op.off, &op.len, &op.dest, &op.size};
  bool two_ranges = has_dest(op.kind);
  for (int i = 0; i < 4; ++i) {
    if (i == 2 && !two_ranges) continue;
    std::string tok;
    if (!(words >> tok))
      throw ParseError(line, fmt::format("line {}: {} needs offset, length, {}size", line, quote_token(word),
                                         two_ranges ? "destination and " : "and "));
    *args[i] = parse_number(tok, line, what[i]);
  }
  check_length(op, line);
  while (words >> word) {
    if (word == "keep_size") op.keep_size = true;
    else if (word == "close_open") op.close_open = true;
    else if (word == "unshare") op.unshare = true;
    else if (word == "*") op.marked = true;
    else throw ParseError(line, fmt::format("line {}: unknown flag {}", line, quote_token(word)));
  }
  return op;
}

}  // namespace

const char* op_name(OpKind k) {
  for (const auto& n : kNames)
    if (n.kind == k) return n.name;
  return "?";
}

bool parse_u64(const std::string& tok, uint64_t* v, bool* too_big) {
  size_t used = 0;
  bool digits = !tok.empty() && std::isdigit(static_cast<unsigned char>(tok[0]));
  try {
    *v = std::stoull(tok, &used, 0);
  } catch (const std::out_of_range&) {
    if (too_big) *too_big = digits;
    return false;
  } catch (const std::exception&) {
    return false;
  }
  return used == tok.size() && digits;
}

std::string quote_token(std::string_view tok) {
  constexpr size_t kShown = 40;
  std::string q = "'";
  for (size_t i = 0; i < tok.size() && i < kShown; ++i) {
    auto c = static_cast<unsigned char>(tok[i]);
    if (c == '\\' || c == '\'') q += fmt::format("\\{}", static_cast<char>(c));
    else if (c >= 0x20 && c < 0x7f) q += static_cast<char>(c);
    else q += fmt::format("\\x{:02x}", c);
  }
  q += "'";
  if (tok.size() > kShown) q += fmt::format(" (cut: {} bytes in all)", tok.size());
  return q;
}

bool streamed(OpKind k) {
  switch (k) {
    case OpKind::read: case OpKind::write: case OpKind::mapread: case OpKind::mapwrite: case OpKind::dread:
    case OpKind::dwrite:
      return true;
    default:
      return false;
  }
}

std::vector<Op> pieces(const Op& op) {
  if (!streamed(op.kind) || op.len <= kPieceLength) return {op};
  std::vector<Op> v;
  for (uint64_t done = 0; done < op.len; done += kPieceLength) {
    Op piece = op;
    piece.off = op.off + done;  // the parser refused an end past 2^63 - 1
    piece.len = std::min(kPieceLength, op.len - done);
    v.push_back(piece);
  }
  return v;
}

bool has_dest(OpKind k) {
  return k == OpKind::copy_range || k == OpKind::clone_range || k == OpKind::dedupe_range ||
         k == OpKind::exchange_range;
}

std::vector<Op> parse_oplog(std::istream& in) {
  std::vector<Op> ops;
  std::string text;
  int line = 0;
  while (std::getline(in, text)) {
    // A line ends at LF, CR LF or a lone CR (old Mac, or a log passed
    // through a tool that wrote one): each CR-separated piece is a line.
    if (!text.empty() && text.back() == '\r') text.pop_back();
    std::string_view rest = text;
    for (bool more = true; more;) {
      size_t cr = rest.find('\r');
      more = cr != std::string_view::npos;
      std::string piece(rest.substr(0, cr));
      if (more) rest.remove_prefix(cr + 1);
      ++line;
      if (auto hash = piece.find('#'); hash != std::string::npos) piece.resize(hash);
      std::istringstream words(piece);
      std::string word;
      if (words >> word) ops.push_back(parse_line(words, word, line));
    }
  }
  return ops;
}

std::string format_op(const Op& op) {
  std::string s = fmt::format("{}{} {:#x} {:#x}", op.skip ? "skip " : "", op_name(op.kind), op.off, op.len);
  if (has_dest(op.kind)) s += fmt::format(" {:#x}", op.dest);
  s += fmt::format(" {:#x}", op.size);
  if (op.keep_size) s += " keep_size";
  if (op.close_open) s += " close_open";
  if (op.unshare) s += " unshare";
  if (op.marked) s += " *";
  return s;
}

}  // namespace faultline::replay
