// src/store/nomem_store.cc — a store's std::bad_alloc as Error(out_of_memory).
//
// Owns: the forwarding of each Store call to the wrapped store. No lock:
// the wrapped store guards itself.
#include "store/nomem_store.h"

#include <fmt/format.h>

#include <cerrno>
#include <new>

#include "faultline/error.h"

namespace faultline::detail {

namespace {

class NomemStore final : public Store {
 public:
  explicit NomemStore(std::unique_ptr<Store> inner) : inner_(std::move(inner)) {}
  uint64_t size() const override { return inner_->size(); }
  void read(uint64_t off, std::span<std::byte> buf) override {
    guarded("read", off, buf.size(), [&] { inner_->read(off, buf); });
  }
  void write(uint64_t off, std::span<const std::byte> buf) override {
    guarded("write", off, buf.size(), [&] { inner_->write(off, buf); });
  }
  void truncate(uint64_t size) override {
    guarded("truncate", size, 0, [&] { inner_->truncate(size); });
  }
  void punch_hole(uint64_t off, uint64_t len) override {
    guarded("punch_hole", off, len, [&] { inner_->punch_hole(off, len); });
  }
  void zero_range(uint64_t off, uint64_t len) override {
    guarded("zero_range", off, len, [&] { inner_->zero_range(off, len); });
  }
  void collapse_range(uint64_t off, uint64_t len) override {
    guarded("collapse_range", off, len, [&] { inner_->collapse_range(off, len); });
  }
  void insert_range(uint64_t off, uint64_t len) override {
    guarded("insert_range", off, len, [&] { inner_->insert_range(off, len); });
  }
  void sync() override {
    guarded("sync", 0, 0, [&] { inner_->sync(); });
  }
  void clone_range(uint64_t src, uint64_t dst, uint64_t len) override {
    guarded("clone_range", dst, len, [&] { inner_->clone_range(src, dst, len); });
  }
  void exchange_range(uint64_t a, uint64_t b, uint64_t len) override {
    guarded("exchange_range", a, len, [&] { inner_->exchange_range(a, b, len); });
  }
  AtomicWriteUnit atomic_write_unit() const override { return inner_->atomic_write_unit(); }
  void write_atomic(uint64_t off, std::span<const std::byte> buf) override {
    guarded("write_atomic", off, buf.size(), [&] { inner_->write_atomic(off, buf); });
  }

 private:
  template <class F>
  static void guarded(const char* call, uint64_t off, uint64_t len, F&& f) {
    try {
      f();
    } catch (const std::bad_alloc&) {
      throw Error(Errc::out_of_memory,
                  fmt::format("the store ran out of memory in {} at {:#x} (length {:#x})", call, off, len), ENOMEM);
    }
  }

  std::unique_ptr<Store> inner_;
};

}  // namespace

std::unique_ptr<Store> nomem_store(std::unique_ptr<Store> inner) {
  return std::make_unique<NomemStore>(std::move(inner));
}

}  // namespace faultline::detail
