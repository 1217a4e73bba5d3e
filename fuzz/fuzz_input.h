// fuzz/fuzz_input.h — the fuzzers' input as an op log.
//
// Both harnesses read libFuzzer's bytes as a log: either they parse, or
// parse_oplog raises a ParseError naming a line (>= 1), and nothing else
// may escape; a ParseError without a line traps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "replay/oplog.h"

// `max_ops`: the replaying harnesses keep the first ones only (enough to
// reach deep states, few enough for thousands of runs a second).
inline std::optional<std::vector<faultline::replay::Op>> parse_fuzz_input(const uint8_t* data, size_t size,
                                                                          size_t max_ops = SIZE_MAX) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    auto ops = faultline::replay::parse_oplog(in);
    if (ops.size() > max_ops) ops.resize(max_ops);
    return ops;
  } catch (const faultline::replay::ParseError& e) {
    if (e.line() < 1) __builtin_trap();
    return std::nullopt;
  }
}
