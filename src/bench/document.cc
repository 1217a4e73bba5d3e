// src/bench/document.cc — Markdown and HTML renderings of a Document.
#include "bench/document.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace faultline::bench {

void Document::heading(int level, std::string text) { blocks_.push_back({Block::heading, level, std::move(text), {}, {}}); }
void Document::paragraph(std::string text) { blocks_.push_back({Block::paragraph, 0, std::move(text), {}, {}}); }
void Document::bullets(std::vector<std::string> items) { blocks_.push_back({Block::bullets, 0, "", std::move(items), {}}); }
void Document::table(std::vector<std::string> header, std::vector<std::vector<std::string>> rows) {
  blocks_.push_back({Block::table, 0, "", std::move(header), std::move(rows)});
}
void Document::figure(std::string stem, std::string caption) {
  blocks_.push_back({Block::figure, 0, std::move(caption), {std::move(stem)}, {}});
}
void Document::code(std::string text) { blocks_.push_back({Block::code, 0, std::move(text), {}, {}}); }

namespace {

std::string md_row(const std::vector<std::string>& cells) {
  std::string s = "|";
  for (const auto& c : cells) s += " " + c + " |";
  return s + "\n";
}

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else o += c;
  }
  return o;
}

// `text` with Markdown's `code` spans as <code>.
std::string inline_html(const std::string& s) {
  std::string e = escape(s), o;
  bool open = false;
  for (char c : e) {
    if (c == '`') {
      o += open ? "</code>" : "<code>";
      open = !open;
    } else {
      o += c;
    }
  }
  return open ? o + "</code>" : o;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// gnuplot's SVG starts with an XML prolog that must not be inlined.
std::string inline_svg(const std::string& path) {
  std::string svg = read_file(path);
  size_t at = svg.find("<svg");
  return at == std::string::npos ? "<p>(figure missing)</p>" : svg.substr(at);
}

}  // namespace

std::string Document::markdown() const {
  std::string o;
  for (const Block& b : blocks_) {
    switch (b.kind) {
      case Block::heading: o += std::string(b.level, '#') + " " + b.text + "\n\n"; break;
      case Block::paragraph: o += b.text + "\n\n"; break;
      case Block::bullets:
        for (const auto& i : b.items) o += "- " + i + "\n";
        o += "\n";
        break;
      case Block::table: {
        o += md_row(b.items);
        o += md_row(std::vector<std::string>(b.items.size(), "---"));
        for (const auto& r : b.rows) o += md_row(r);
        o += "\n";
        break;
      }
      case Block::figure: o += fmt::format("![{}]({}.png)\n\n*{}*\n\n", b.text, b.items[0], b.text); break;
      case Block::code: o += "```\n" + b.text + "\n```\n\n"; break;
    }
  }
  return o;
}

std::string Document::html(const std::string& dir, const std::string& title) const {
  std::string o = fmt::format(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title><style>"
      "body{{font-family:sans-serif;max-width:75em;margin:2em auto;padding:0 1em}}"
      "table{{border-collapse:collapse;margin:1em 0;font-size:90%}}td,th{{border:1px solid #bbb;padding:2px 6px;"
      "text-align:right}}td:first-child,th:first-child{{text-align:left}}pre{{background:#f4f4f4;padding:.5em;"
      "overflow-x:auto}}figure{{margin:1em 0}}svg{{max-width:100%;height:auto}}</style></head><body>\n",
      escape(title));
  for (const Block& b : blocks_) {
    switch (b.kind) {
      case Block::heading: o += fmt::format("<h{0}>{1}</h{0}>\n", b.level, inline_html(b.text)); break;
      case Block::paragraph: o += "<p>" + inline_html(b.text) + "</p>\n"; break;
      case Block::bullets:
        o += "<ul>\n";
        for (const auto& i : b.items) o += "<li>" + inline_html(i) + "</li>\n";
        o += "</ul>\n";
        break;
      case Block::table: {
        o += "<table><tr>";
        for (const auto& h : b.items) o += "<th>" + inline_html(h) + "</th>";
        o += "</tr>\n";
        for (const auto& r : b.rows) {
          o += "<tr>";
          for (const auto& c : r) o += "<td>" + inline_html(c) + "</td>";
          o += "</tr>\n";
        }
        o += "</table>\n";
        break;
      }
      case Block::figure:
        o += "<figure>" + inline_svg(dir + "/" + b.items[0] + ".svg") + "<figcaption>" + inline_html(b.text) +
             "</figcaption></figure>\n";
        break;
      case Block::code: o += "<pre>" + escape(b.text) + "</pre>\n"; break;
    }
  }
  return o + "</body></html>\n";
}

}  // namespace faultline::bench
