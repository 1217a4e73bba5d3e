// src/store/memory_store.cc — a store whose blocks live in memory.
//
// Owns: a sparse map of 4 KiB blocks and the data size. Block operations
// free or shift blocks exactly as a filesystem's extent tree would, so a
// test can see that a punch freed its blocks (allocated_blocks()); a clone
// shares blocks, and a write to a shared block copies it first (CoW). One
// mutex guards everything: the store is not on the engine's hot path (a
// cache hit never reaches it).
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

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
  explicit Impl(AtomicWriteUnit u) : atomic(u) {}
  const AtomicWriteUnit atomic;
  mutable sync::Mutex lock{sync::LockClass::store};
  std::map<uint64_t, std::shared_ptr<Block>> blocks;  // by block number; shared by clones
  uint64_t size = 0;

  // Block `n` for writing: allocated if missing, copied if shared.
  Block* writable(uint64_t n) {
    auto& blk = blocks[n];
    if (!blk) blk = std::make_shared<Block>(Block{});
    else if (blk.use_count() > 1) blk = std::make_shared<Block>(*blk);
    return blk.get();
  }
  // Zeroes [off, off+len) inside one block, if it is allocated.
  void zero_in_block(uint64_t off, uint64_t len) {
    if (blocks.count(off / B)) std::memset(writable(off / B)->data() + off % B, 0, len);
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
  // Moves block `n`, if allocated, to `to` in `into`: the map's node moves,
  // so nothing is allocated and nothing can be lost half way.
  void move(uint64_t n, uint64_t to, std::map<uint64_t, std::shared_ptr<Block>>& into) {
    auto node = blocks.extract(n);
    if (!node) return;
    node.key() = to;
    into.insert(std::move(node));
  }
  // Moves every block numbered >= from by delta blocks (either direction).
  void shift(uint64_t from, int64_t delta) {
    std::map<uint64_t, std::shared_ptr<Block>> moved;
    while (!blocks.empty() && blocks.rbegin()->first >= from) {
      uint64_t n = blocks.rbegin()->first;
      move(n, n + static_cast<uint64_t>(delta), moved);
    }
    blocks.merge(moved);
  }
};

MemoryStore::MemoryStore(AtomicWriteUnit atomic) : impl_(std::make_unique<Impl>(atomic)) {}
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
    std::memcpy(impl_->writable(pos / B)->data() + pos % B, buf.data() + done, n);
    done += n;
  }
  impl_->size = std::max<uint64_t>(impl_->size, off + buf.size());
}

AtomicWriteUnit MemoryStore::atomic_write_unit() const { return impl_->atomic; }

// All new blocks are made before any is put in place: a failed allocation
// leaves the range as it was (the map's own nodes are the only allocation
// left in the second loop, one per block that was a hole).
void MemoryStore::write_atomic(uint64_t off, std::span<const std::byte> buf) {
  sync::Guard<sync::Mutex> g(impl_->lock);
  std::vector<std::pair<uint64_t, std::shared_ptr<Block>>> fresh;
  for (size_t done = 0; done < buf.size();) {
    uint64_t pos = off + done;
    size_t n = std::min<uint64_t>(buf.size() - done, B - pos % B);
    auto it = impl_->blocks.find(pos / B);
    auto blk = it != impl_->blocks.end() ? std::make_shared<Block>(*it->second) : std::make_shared<Block>(Block{});
    std::memcpy(blk->data() + pos % B, buf.data() + done, n);
    fresh.emplace_back(pos / B, std::move(blk));
    done += n;
  }
  for (auto& [n, blk] : fresh) impl_->blocks[n] = std::move(blk);
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
  // The store's size may lag the file's (a truncate up whose store call
  // failed; data only in the page cache): what lies past it is a hole,
  // and shifts as one.
  if (impl_->size > off) impl_->size = std::max(off, impl_->size - std::min(len, impl_->size));
}

void MemoryStore::insert_range(uint64_t off, uint64_t len) {
  sync::Guard<sync::Mutex> g(impl_->lock);
  impl_->shift(off / B, static_cast<int64_t>(len / B));
  if (impl_->size > off) impl_->size += len;  // past the store's size: a hole moves a hole
}

void MemoryStore::sync() {}

void MemoryStore::clone_range(uint64_t src, uint64_t dst, uint64_t len) {
  sync::Guard<sync::Mutex> g(impl_->lock);
  uint64_t nblocks = (len + B - 1) / B;
  for (uint64_t i = 0; i < nblocks; ++i) {
    auto from = impl_->blocks.find(src / B + i);
    if (from == impl_->blocks.end()) impl_->blocks.erase(dst / B + i);
    else impl_->blocks[dst / B + i] = from->second;
  }
  impl_->size = std::max(impl_->size, dst + len);
}

void MemoryStore::exchange_range(uint64_t a, uint64_t b, uint64_t len) {
  sync::Guard<sync::Mutex> g(impl_->lock);
  std::map<uint64_t, std::shared_ptr<Block>> moved;
  // Nodes move, blocks are not copied: a hole costs no memory.
  for (uint64_t i = 0; i < len / B; ++i) {
    impl_->move(a / B + i, b / B + i, moved);
    impl_->move(b / B + i, a / B + i, moved);
  }
  impl_->blocks.merge(moved);
  // Both ranges lie inside the file, whose size may run ahead of the
  // store's (dirty pages not yet written back): what moved there is data.
  impl_->size = std::max({impl_->size, a + len, b + len});
}

uint64_t MemoryStore::allocated_blocks() const {
  sync::Guard<sync::Mutex> g(impl_->lock);
  return impl_->blocks.size();
}

}  // namespace faultline
