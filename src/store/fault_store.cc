// src/store/fault_store.cc — FaultInjectingStore: a store that fails.
//
// Owns: the fault rules, the random stream that draws from them, and the
// count of faults injected per call. One mutex guards all three; it is held
// only to decide whether a call fails, never across the inner store's call,
// so a slow inner store does not serialize the engine's I/O.
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <random>
#include <vector>

#include "faultline/error.h"
#include "faultline/store.h"
#include "sync/rwsem.h"
#include "sync/spinlock.h"

namespace faultline {

const char* store_call_name(StoreCall call) noexcept {
  constexpr const char* kNames[kStoreCalls] = {"read",         "write", "truncate",    "punch_hole",    "zero_range",
                                               "collapse_range", "insert_range", "sync", "clone_range", "exchange_range",
                                               "write_atomic"};
  auto i = static_cast<unsigned>(call);
  return i < kStoreCalls ? kNames[i] : "?";
}

struct FaultInjectingStore::Impl {
  Impl(std::unique_ptr<Store> s, uint64_t seed) : inner(std::move(s)), rng(seed) {}
  std::unique_ptr<Store> inner;
  mutable sync::Mutex lock{sync::LockClass::store};
  std::vector<FaultRule> rules;  // guarded by lock
  std::mt19937_64 rng;           // guarded by lock
  uint64_t injected[kStoreCalls] = {};

  // Throws the fault this call draws, if it draws one.
  void fail_if_drawn(StoreCall call, uint64_t off);
  // The rule that fails this call, if one does (a copy: rules may change).
  bool draw(StoreCall call, FaultRule* hit) {
    sync::Guard<sync::Mutex> g(lock);
    for (FaultRule& r : rules) {
      if (r.call != call) continue;
      bool fails = r.next > 0 || (r.probability > 0 && std::uniform_real_distribution<double>(0, 1)(rng) < r.probability);
      if (!fails) continue;
      if (r.next > 0) --r.next;
      ++injected[static_cast<unsigned>(call)];
      *hit = r;
      return true;
    }
    return false;
  }
};

namespace {

// ENOMEM comes as an allocation that failed inside the store would: a
// std::bad_alloc, which the engine must unwind from like any error.
[[noreturn]] void fail(const FaultRule& r, uint64_t off) {
  if (r.err == ENOMEM) throw std::bad_alloc();
  throw Error(Errc::io_error,
              fmt::format("injected fault: {} at {:#x} failed with {}", store_call_name(r.call), off, std::strerror(r.err)),
              r.err);
}

}  // namespace

void FaultInjectingStore::Impl::fail_if_drawn(StoreCall call, uint64_t off) {
  if (FaultRule r; draw(call, &r)) fail(r, off);
}

FaultInjectingStore::FaultInjectingStore(std::unique_ptr<Store> inner, uint64_t seed)
    : impl_(std::make_unique<Impl>(std::move(inner), seed)) {
  if (!impl_->inner) throw Error(Errc::invalid_argument, "FaultInjectingStore: the inner store is null");
}

FaultInjectingStore::~FaultInjectingStore() = default;

void FaultInjectingStore::add_rule(const FaultRule& rule) {
  if (!(rule.probability >= 0 && rule.probability <= 1))
    throw Error(Errc::invalid_argument, fmt::format("fault rule: probability {} is outside [0, 1]", rule.probability));
  if (rule.err <= 0 || rule.err >= 4096)
    throw Error(Errc::invalid_argument, fmt::format("fault rule: errno {} is outside (0, 4096)", rule.err));
  if (static_cast<unsigned>(rule.call) >= kStoreCalls)
    throw Error(Errc::invalid_argument, fmt::format("fault rule: call {} is no store call", static_cast<unsigned>(rule.call)));
  if (rule.short_write && rule.call != StoreCall::write)
    throw Error(Errc::invalid_argument, fmt::format("fault rule: a short write on {}", store_call_name(rule.call)));
  sync::Guard<sync::Mutex> g(impl_->lock);
  impl_->rules.push_back(rule);
}

void FaultInjectingStore::clear_rules() {
  sync::Guard<sync::Mutex> g(impl_->lock);
  impl_->rules.clear();
}

Store& FaultInjectingStore::inner() { return *impl_->inner; }

uint64_t FaultInjectingStore::injected(StoreCall call) const {
  sync::Guard<sync::Mutex> g(impl_->lock);
  return impl_->injected[static_cast<unsigned>(call) % kStoreCalls];
}

uint64_t FaultInjectingStore::size() const { return impl_->inner->size(); }

void FaultInjectingStore::read(uint64_t off, std::span<std::byte> buf) {
  impl_->fail_if_drawn(StoreCall::read, off);
  impl_->inner->read(off, buf);
}

void FaultInjectingStore::write(uint64_t off, std::span<const std::byte> buf) {
  if (FaultRule r; impl_->draw(StoreCall::write, &r)) {
    if (r.short_write && buf.size() >= 1024) impl_->inner->write(off, buf.first(buf.size() / 2 & ~size_t{511}));
    fail(r, off);
  }
  impl_->inner->write(off, buf);
}

void FaultInjectingStore::truncate(uint64_t size) {
  impl_->fail_if_drawn(StoreCall::truncate, size);
  impl_->inner->truncate(size);
}

void FaultInjectingStore::punch_hole(uint64_t off, uint64_t len) {
  impl_->fail_if_drawn(StoreCall::punch_hole, off);
  impl_->inner->punch_hole(off, len);
}

void FaultInjectingStore::zero_range(uint64_t off, uint64_t len) {
  impl_->fail_if_drawn(StoreCall::zero_range, off);
  impl_->inner->zero_range(off, len);
}

void FaultInjectingStore::collapse_range(uint64_t off, uint64_t len) {
  impl_->fail_if_drawn(StoreCall::collapse_range, off);
  impl_->inner->collapse_range(off, len);
}

void FaultInjectingStore::insert_range(uint64_t off, uint64_t len) {
  impl_->fail_if_drawn(StoreCall::insert_range, off);
  impl_->inner->insert_range(off, len);
}

void FaultInjectingStore::clone_range(uint64_t src, uint64_t dst, uint64_t len) {
  impl_->fail_if_drawn(StoreCall::clone_range, dst);
  impl_->inner->clone_range(src, dst, len);
}

void FaultInjectingStore::exchange_range(uint64_t a, uint64_t b, uint64_t len) {
  impl_->fail_if_drawn(StoreCall::exchange_range, a);
  impl_->inner->exchange_range(a, b, len);
}

AtomicWriteUnit FaultInjectingStore::atomic_write_unit() const { return impl_->inner->atomic_write_unit(); }

// A failing atomic write writes nothing: that is its promise.
void FaultInjectingStore::write_atomic(uint64_t off, std::span<const std::byte> buf) {
  impl_->fail_if_drawn(StoreCall::write_atomic, off);
  impl_->inner->write_atomic(off, buf);
}

void FaultInjectingStore::sync() {
  impl_->fail_if_drawn(StoreCall::sync, 0);
  impl_->inner->sync();
}

}  // namespace faultline
