// tests/test_util.h — helpers shared by the engine tests.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "faultline/faultline.h"

namespace faultline::test {

inline std::vector<std::byte> bytes(size_t n, uint8_t fill) { return std::vector<std::byte>(n, std::byte{fill}); }

inline std::vector<std::byte> pattern(size_t n, uint32_t seed) {
  std::vector<std::byte> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v) {
    x = x * 1103515245u + 12345u;
    b = std::byte(x >> 24);
  }
  return v;
}

inline std::vector<std::byte> read_file(File& f, uint64_t off, size_t n) {
  std::vector<std::byte> v(n);
  v.resize(f.read(off, v));
  return v;
}

inline std::vector<std::byte> load(Mm& mm, uint64_t addr, size_t n) {
  std::vector<std::byte> v(n);
  mm.load(addr, v);
  return v;
}

inline bool all_equal(const std::vector<std::byte>& v, uint8_t b) {
  for (auto x : v)
    if (x != std::byte{b}) return false;
  return true;
}

// Runs fn and expects it to throw Error(code) whose message mentions `mentions`.
template <class Fn>
void expect_error(Errc code, const std::string& mentions, Fn fn) {
  try {
    fn();
    ADD_FAILURE() << "no error; wanted " << errc_name(code);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(mentions), std::string::npos) << e.what();
  }
}

// A small engine with an in-memory file of `size` bytes of pattern(seed 1).
struct Fixture {
  explicit Fixture(uint64_t size = 16 * kPageSize, Config c = small_config())
      : engine(c), store_ptr(new MemoryStore), file(engine.open(std::unique_ptr<Store>(store_ptr))),
        mm(engine.create_mm()) {
    if (size) {
      auto data = pattern(size, 1);
      store_ptr->write(0, data);
      file.truncate(size);
    }
  }
  static Config small_config() {
    Config c;
    c.frames = 1024;
    return c;
  }
  Engine engine;
  MemoryStore* store_ptr;
  File file;
  Mm mm;
};

// small_config() with faults under per-VMA locks.
inline Config per_vma_config() {
  Config c = Fixture::small_config();
  c.per_vma_lock = true;
  return c;
}

// A protocol name as a test name: "page_lock+invalidate_lock" ->
// "page_lock_invalidate_lock".
inline std::string param_name(std::string name) {
  for (char& c : name)
    if (c == '+') c = '_';
  return name;
}

}  // namespace faultline::test
