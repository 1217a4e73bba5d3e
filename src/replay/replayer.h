// src/replay/replayer.h — replaying an op log against the engine, the
// kernel, or both side by side.
//
// Against one target, every observation is checked against the model
// (replay/model.h). Against both, the engine is checked against the kernel:
// the bytes of every read, every bus error, every errno, the EOF-page tail
// after every mapped access, the size after every op, and the final
// contents. The first difference stops the replay with the op's line, the
// op and a hex dump of the differing bytes.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "faultline/engine.h"
#include "replay/oplog.h"
#include "replay/target.h"

namespace faultline::replay {

enum class Against { engine, kernel, both };

struct ReplayOptions {
  Against against = Against::both;
  Config config;           // for the engine
  std::string tmpdir;      // for the kernel; empty: $TMPDIR or /tmp
  bool engine_on_file = false;  // the engine over a real file (PosixStore) in tmpdir
  bool xfs = false;             // the kernel's file on a scratch loop-mounted XFS (scratch_xfs.h)
  bool direct = false;          // read and write as O_DIRECT (dread, dwrite): fsx -Z logs
};

struct ReplayReport {
  bool agreed = false;
  bool size_column = false;  // the difference was with the log's SIZE column
  uint64_t ops = 0, executed = 0, skipped = 0, bytes_compared = 0;
};

// `given`, or $TMPDIR, or /tmp.
std::string default_tmpdir(const std::string& given = {});

// Whether two byte strings are equal; if not, prints where they first
// differ (`base` is the file offset of their first byte) with a hex dump.
bool same_bytes(std::ostream& out, const char* what, const char* a_name, const std::vector<std::byte>& a,
                const char* b_name, const std::vector<std::byte>& b, uint64_t base);

// Replays `ops` on `target`, checking each outcome against `reference`.
// A log that begins at a non-empty file (fsx keeps only its last 10,000
// ops) starts both from a file of the first line's SIZE with the same
// contents, and says so. After every op the reference's size must be the
// SIZE column of the next line.
// Prints the difference (if any) to `out`; never throws for a difference.
ReplayReport replay_against(Target& target, Target& reference, const std::vector<Op>& ops, std::ostream& out);
// Throws ParseError for an op it cannot execute, std::runtime_error when the
// kernel's file cannot be made, Error for a bad engine Config.
ReplayReport replay_ops(const std::vector<Op>& ops, const ReplayOptions& opts, std::ostream& out);
std::string summary_line(const ReplayReport& r, Against against);

}  // namespace faultline::replay
