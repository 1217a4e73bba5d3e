// src/store/memory_store.cc — a store whose blocks live in memory.
//
// Owns: a sparse map of 4 KiB blocks and the data size. Block operations
// free or shift blocks exactly as a filesystem's extent tree would, so a
// test can see that a punch freed its blocks (allocated_blocks()). One
// mutex guards everything: the store is not on the engine's hot path (a
// cache hit never reaches it).
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>

#include "faultline/engine.h"
#include "faultline/error.h"
#include "faultline/store.h"
#include "sync/rwsem.h"
#include "sync/spinlock.h"

namespace faultline {

namespace {
constexpr uint64_t B = kPageSize;
using Block = std::array<std::byte, B>;
}  // namespace

struct MemoryStore::Impl {
  mutable sync::Mutex lock{sync::LockClass::store};
  std::map<uint64_t, std::unique_ptr<Block>> blocks;  // by block number
  uint64_t size = 0;

  // Zeroes [off, off+len) inside one block, if it is allocated.
  void zero_in_block(uint64_t off, uint64_t len) {
    auto it = blocks.find(off / B);
    if (it != blocks.end()) std::memset(it->second->data() + off % B, 0, len);
  }
  // Zeroes [off, end): partial blocks in place, whole blocks freed.
  void zero(uint64_t off, uint64_t end) {
    while (off < end) {
      uint64_t bend = std::min(end, (off / B + 1) * B);
      if (off % B == 0 && bend - off == B) blocks.erase(off / B);
      else zero_in_block(off, bend - off);
      off = bend;
    }
  }
  // Moves every block numbered >= from by delta blocks (either direction).
  void shift(uint64_t from, int64_t delta) {
    std::map<uint64_t, std::unique_ptr<Block>> moved;
    for (auto it = blocks.lower_bound(from); it != blocks.end();) {
      moved.emplace(it->first + delta, std::move(it->second));
      it = blocks.erase(it);
    }
    for (auto& [n, b] : moved) blocks.emplace(n, std::move(b));
  }
};

MemoryStore::MemoryStore() : impl_(std::make_unique<Impl>()) {}
MemoryStore::~MemoryStore() = default;

uint64_t MemoryStore::size() const {
  sync::Guard<sync::Mutex> g(impl_->lock);
  return impl_->size;
}

void MemoryStore::read(uint64_t off, std::span<std::byte> buf) {
  sync::Guard<sync::Mutex> g(impl_->lock);
  for (size_t done = 0; done < buf.size();) {
    uint64_t pos = off + done;
    size_t n = std::min<uint64_t>(buf.size() - done, B - pos % B);
    auto it = impl_->blocks.find(pos / B);
    if (it == impl_->blocks.end() || pos >= impl_->size) std::memset(buf.data() + done, 0, n);
    else std::memcpy(buf.data() + done, it->second->data() + pos % B, n);
    done += n;
  }
}

void MemoryStore::write(uint64_t off, std::span<const std::byte> buf) {
  sync::Guard<sync::Mutex> g(impl_->lock);
  for (size_t done = 0; done < buf.size();) {
    uint64_t pos = off + done;
    size_t n = std::min<uint64_t>(buf.size() - done, B - pos % B);
    auto& blk = impl_->blocks[pos / B];
    if (!blk) blk = std::make_unique<Block>(Block{});
    std::memcpy(blk->data() + pos % B, buf.data() + done, n);
    done += n;
  }
  impl_->size = std::max<uint64_t>(impl_->size, off + buf.size());
}

void MemoryStore::truncate(uint64_t size) {
  sync::Guard<sync::Mutex> g(impl_->lock);
  if (size < impl_->size) impl_->zero(size, std::max(impl_->size, (impl_->size + B - 1) / B * B));
  impl_->blocks.erase(impl_->blocks.lower_bound((size + B - 1) / B), impl_->blocks.end());
  impl_->size = size;
}

void MemoryStore::punch_hole(uint64_t off, uint64_t len) {
  sync::Guard<sync::Mutex> g(impl_->lock);
  impl_->zero(off, std::min(off + len, impl_->size));
}

void MemoryStore::zero_range(uint64_t off, uint64_t len) {
  sync::Guard<sync::Mutex> g(impl_->lock);
  impl_->zero(off, std::min(off + len, impl_->size));
  impl_->size = std::max(impl_->size, off + len);
}

void MemoryStore::collapse_range(uint64_t off, uint64_t len) {
  sync::Guard<sync::Mutex> g(impl_->lock);
  impl_->zero(off, off + len);
  impl_->shift((off + len) / B, -static_cast<int64_t>(len / B));
  impl_->size -= std::min(len, impl_->size);
}

void MemoryStore::insert_range(uint64_t off, uint64_t len) {
  sync::Guard<sync::Mutex> g(impl_->lock);
  impl_->shift(off / B, static_cast<int64_t>(len / B));
  impl_->size += len;
}

void MemoryStore::sync() {}

uint64_t MemoryStore::allocated_blocks() const {
  sync::Guard<sync::Mutex> g(impl_->lock);
  return impl_->blocks.size();
}

}  // namespace faultline
