// src/mm/xarray.cc — the RCU radix tree behind i_pages (see xarray.h).
#include "mm/xarray.h"

#include "sync/rcu.h"

namespace faultline::detail {

namespace {
constexpr unsigned kBits = 6;
constexpr unsigned kSlots = 1u << kBits;
constexpr unsigned kMask = kSlots - 1;
}  // namespace

// shift, parent, offset and count are written only under the i_pages lock;
// readers use shift (fixed at creation), present and slots. Bit i of
// `present` is set while slot i is, so that find() visits only the slots
// in use (one load for an empty stretch, not one per slot). A writer sets
// the slot before its bit and clears the bit before the slot; a reader
// that sees a bit whose slot is already empty skips it, and one that
// misses a bit being set missed an insert that raced with it anyway.
// A node is its own rcu_head: freeing it after a grace period allocates
// nothing, so erasing (which may free nodes) cannot fail.
struct XArray::Node : sync::RcuHead {
  explicit Node(unsigned s) : RcuHead{}, shift(s) {}
  unsigned shift;
  unsigned offset = 0;
  unsigned count = 0;
  Node* parent = nullptr;
  sync::Atomic<uint64_t> present{0};
  sync::Atomic<void*> slots[kSlots];

  void set(unsigned i, void* e) {
    if (e) {
      slots[i].store(e, sync::release);
      present.fetch_or(uint64_t{1} << i, sync::release);
    } else {
      present.fetch_and(~(uint64_t{1} << i), sync::release);
      slots[i].store(nullptr, sync::release);
    }
  }
};

XArray::~XArray() {
  // Only called with the tree empty or when the whole Engine goes away:
  // free what is left without waiting for readers (there are none).
  struct Freer {
    static void go(Node* n) {
      if (!n) return;
      if (n->shift > 0)
        for (auto& s : n->slots) go(static_cast<Node*>(s.load(sync::relaxed)));
      delete n;
    }
  };
  Freer::go(root_.load(sync::relaxed));
}

uint64_t XArray::node_max(const Node* n) {
  unsigned bits = n->shift + kBits;
  return bits >= 64 ? UINT64_MAX : (uint64_t{1} << bits) - 1;
}

Folio* XArray::load(pgoff_t index) const {
  const Node* n = root_.load(sync::acquire);
  if (!n || index > node_max(n)) return nullptr;
  for (;;) {
    void* e = n->slots[(index >> n->shift) & kMask].load(sync::acquire);
    if (n->shift == 0 || !e) return static_cast<Folio*>(e);
    n = static_cast<const Node*>(e);
  }
}

XArray::Path XArray::path(pgoff_t index) const {
  Path p{{&root_}, {}};
  const Node* n = root_.load(sync::relaxed);
  if (!n || index > node_max(n)) return p;
  for (;;) {
    p.nodes.push_back(n);
    const auto& slot = n->slots[(index >> n->shift) & kMask];
    p.words.push_back(&slot);
    void* e = slot.load(sync::relaxed);
    if (n->shift == 0 || !e) return p;
    n = static_cast<const Node*>(e);
  }
}

Folio* XArray::find(pgoff_t* index, pgoff_t max) const {
  const Node* n = root_.load(sync::acquire);
  if (!n || *index > max || *index > node_max(n)) return nullptr;
  return find_in(n, 0, *index, max, index);
}

Folio* XArray::find_in(const Node* n, pgoff_t base, pgoff_t from, pgoff_t max, pgoff_t* out) const {
  uint64_t span = uint64_t{1} << n->shift;
  unsigned first = from > base ? static_cast<unsigned>((from - base) >> n->shift) : 0;
  uint64_t bits = first < kSlots ? n->present.load(sync::acquire) & (~uint64_t{0} << first) : 0;
  for (; bits; bits &= bits - 1) {
    unsigned i = static_cast<unsigned>(__builtin_ctzll(bits));
    pgoff_t start = base + i * span;
    if (start > max) return nullptr;
    void* e = n->slots[i].load(sync::acquire);
    if (!e) continue;
    if (n->shift == 0) {
      *out = start;
      return static_cast<Folio*>(e);
    }
    if (Folio* f = find_in(static_cast<const Node*>(e), start, from > start ? from : start, max, out)) return f;
  }
  return nullptr;
}

// Adds levels on top until the root covers `index`; returns the root.
XArray::Node* XArray::grow_to(pgoff_t index) {
  Node* root = root_.load(sync::relaxed);
  if (!root) {
    unsigned shift = 0;
    while (index > ((uint64_t{1} << (shift + kBits)) - 1)) shift += kBits;
    root = new Node(shift);
    root_.store(root, sync::release);
    return root;
  }
  while (index > node_max(root)) {
    Node* top = new Node(root->shift + kBits);
    top->set(0, root);
    top->count = 1;
    root->parent = top;
    root->offset = 0;
    root_.store(top, sync::release);
    root = top;
  }
  return root;
}

void XArray::store(pgoff_t index, Folio* folio) {
  Node* n = folio ? grow_to(index) : root_.load(sync::relaxed);
  if (!n || index > node_max(n)) return;  // erasing what is not there
  while (n->shift > 0) {
    auto& slot = n->slots[(index >> n->shift) & kMask];
    Node* child = static_cast<Node*>(slot.load(sync::relaxed));
    if (!child) {
      if (!folio) return;
      child = new Node(n->shift - kBits);
      child->parent = n;
      child->offset = (index >> n->shift) & kMask;
      ++n->count;
      n->set((index >> n->shift) & kMask, child);
    }
    n = child;
  }
  void* old = n->slots[index & kMask].load(sync::relaxed);
  n->set(index & kMask, folio);
  if (!old && folio) ++n->count;
  if (old && !folio && --n->count == 0) shrink(n);
}

void XArray::store_range(pgoff_t first, uint64_t nr, Folio* folio) {
  uint64_t k = 0;
  try {
    for (; k < nr; ++k) store(first + k, folio);
  } catch (...) {
    while (k-- > 0) store(first + k, nullptr);
    throw;
  }
}

// Unlinks empty nodes bottom up and frees them after a grace period.
void XArray::shrink(Node* n) {
  while (n && n->count == 0) {
    Node* parent = n->parent;
    if (parent) {
      parent->set(n->offset, nullptr);
      --parent->count;
    } else {
      root_.store(nullptr, sync::release);
    }
    sync::call_rcu(n, [](sync::RcuHead* h) { delete static_cast<Node*>(h); });
    n = parent;
  }
}

}  // namespace faultline::detail
