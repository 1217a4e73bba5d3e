// src/bench/document.h — the report as a document, rendered twice.
//
// Owns: Document, a list of blocks (headings, paragraphs, bullet lists,
// tables, figures) that the report builds once and renders as Markdown
// (report.md) and as one self-contained HTML page (report.html, with each
// figure's SVG inlined), so the two can never say different things.
#pragma once

#include <string>
#include <vector>

namespace faultline::bench {

class Document {
 public:
  void heading(int level, std::string text);
  void paragraph(std::string text);
  void bullets(std::vector<std::string> items);
  void table(std::vector<std::string> header, std::vector<std::vector<std::string>> rows);
  // A plot: `stem`.png and `stem`.svg in the output directory.
  void figure(std::string stem, std::string caption);
  void code(std::string text);

  std::string markdown() const;
  // `dir` is where the figures' SVG files are, to inline them.
  std::string html(const std::string& dir, const std::string& title) const;

 private:
  struct Block {
    enum Kind { heading, paragraph, bullets, table, figure, code } kind;
    int level = 0;
    std::string text;
    std::vector<std::string> items;
    std::vector<std::vector<std::string>> rows;
  };
  std::vector<Block> blocks_;
};

}  // namespace faultline::bench
