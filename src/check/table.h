// src/check/table.h — the verdict table of `faultline check`: its text,
// its JSON, and the merge of shards' JSON into the one table an unsharded
// run prints.
//
// The JSON of a cell carries every field of Cell, and its place in the
// whole table ("cell", of "cells"), so that shards run anywhere — worker
// processes, the jobs of a Slurm array — merge back in order.
#pragma once

#include <nlohmann/json.hpp>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include "check/check.h"

namespace faultline_check {

nlohmann::json cell_json(const Cell& c);
// Throws std::invalid_argument naming a missing or mistyped field.
Cell cell_from_json(const nlohmann::json& j);
// The table: a row per cell, the totals line (`seconds` of wall time),
// then each distinct bug (BUG cells of one protocol with the same
// guarantee and site) once with its cells, and its replay command and
// shortest trace (`traces`: "first"; "none": no trace; "all": every BUG
// cell's), then the properties cells saw broken that their protocol does
// not claim. Returns whether any cell is a BUG.
bool print_table(const std::vector<Cell>& cells, double seconds, const std::string& traces, std::ostream& out);

// --json as the cells finish: a JSON array with one cell to a line, each
// line written whole, so that the file shows every cell finished so far
// (a run stopped half-way leaves them, one to a line, without the "]").
// An empty path writes nothing. Throws std::invalid_argument if the file
// cannot be opened, std::runtime_error if a write fails.
class JsonStream {
 public:
  explicit JsonStream(const std::string& path);
  void add(const Cell& c);
  void finish();

 private:
  std::string path_;
  std::ofstream out_;
  bool first_ = true;
};

}  // namespace faultline_check
