// src/mm/xarray.h — the page-cache index (i_pages): file index -> folio.
//
// Owns: an RCU radix tree of 64-way nodes. Readers (load, find) run under
// rcu_read_lock with no lock; writers (store, erase) hold `lock`, the
// i_pages lock. A folio of order n occupies its 2^n slots, all pointing at
// the folio, so that any index inside it finds it; the tree is ordered, so
// killers and fault-around walk ranges with find().
//
// Nodes removed by erase are freed after a grace period, so a reader may
// keep walking a node that was just unlinked.
#pragma once

#include <cstdint>
#include <vector>

#include "mm/folio.h"
#include "sync/atomic.h"
#include "sync/spinlock.h"

namespace faultline::detail {

class XArray {
 public:
  XArray() = default;
  ~XArray();
  XArray(const XArray&) = delete;
  XArray& operator=(const XArray&) = delete;

  // RCU read side.
  Folio* load(pgoff_t index) const;
  // The first entry at an index in [*index, max]; sets *index to it.
  Folio* find(pgoff_t* index, pgoff_t max) const;

  // Under `lock`. store(nullptr) erases; erasing never fails. Storing
  // may throw std::bad_alloc (a new node), leaving the slot as it was.
  void store(pgoff_t index, Folio* folio);
  // The `nr` slots from `first`, all or nothing: if a node cannot be
  // allocated, the slots already set are erased before the exception
  // leaves (xas_store over a multi-index entry, without xas_nomem's
  // preallocation).
  void store_range(pgoff_t first, uint64_t nr, Folio* folio);
  bool empty() const { return root_.load(sync::relaxed) == nullptr; }
  // For the checker's traces, with the world stopped: the words a lookup
  // of `index` reads (the root pointer first, then one slot per level) and
  // the nodes it walks through, root first.
  struct Path {
    std::vector<const void*> words, nodes;
  };
  Path path(pgoff_t index) const;

  sync::SpinLock lock{sync::LockClass::i_pages};  // the i_pages lock (xa_lock)

 private:
  struct Node;
  static uint64_t node_max(const Node* n);
  Node* grow_to(pgoff_t index);
  void shrink(Node* leaf);
  Folio* find_in(const Node* n, pgoff_t base, pgoff_t from, pgoff_t max, pgoff_t* out) const;

  sync::Atomic<Node*> root_{nullptr};
};

}  // namespace faultline::detail
