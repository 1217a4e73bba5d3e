// src/store/store.cc — the Store interface's default block operations.
//
// Owns: clone_range and exchange_range for a store that cannot share
// blocks: they copy, a megabyte at a time, through read() and write(); and
// write_atomic for a store without atomic writes: refused.
// The engine holds the file's i_rwsem and invalidate_lock around them, so
// nothing else touches the ranges meanwhile.
#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "faultline/error.h"
#include "faultline/store.h"

namespace faultline {

namespace {
constexpr uint64_t kChunk = uint64_t{1} << 20;
}  // namespace

void Store::clone_range(uint64_t src, uint64_t dst, uint64_t len) {
  std::vector<std::byte> buf(std::min(len, kChunk));
  // Front to back is safe: the ranges do not overlap (the caller checked).
  for (uint64_t done = 0; done < len;) {
    uint64_t n = std::min(kChunk, len - done);
    read(src + done, std::span(buf).first(n));
    write(dst + done, std::span(buf).first(n));
    done += n;
  }
}

void Store::exchange_range(uint64_t a, uint64_t b, uint64_t len) {
  std::vector<std::byte> x(std::min(len, kChunk)), y(x.size());
  for (uint64_t done = 0; done < len;) {
    uint64_t n = std::min(kChunk, len - done);
    read(a + done, std::span(x).first(n));
    read(b + done, std::span(y).first(n));
    write(a + done, std::span(y).first(n));
    write(b + done, std::span(x).first(n));
    done += n;
  }
}

void Store::write_atomic(uint64_t off, std::span<const std::byte> buf) {
  throw Error(Errc::not_supported,
              fmt::format("write_atomic: [{:#x}, +{:#x}): the store has no atomic writes", off, buf.size()), EOPNOTSUPP);
}

}  // namespace faultline
