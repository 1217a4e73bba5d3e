// src/protocol/protocol.h — the seam between the engine and a protocol.
//
// A protocol answers two questions (docs/protocols.md):
//   - the map guard: how does a fault that found a folio in the cache make
//     sure it does not map a folio that a killer is removing?
//   - the creation guard: how are folios kept from being created in a range
//     that a killer has evicted but whose blocks it has not yet freed?
// The engine calls these hooks at fixed points of the fault and kill paths
// and knows nothing else about the protocol. Each guard lives in one file of
// this directory; protocol.cc holds the registry of names.
//
// Fault side, for one folio (the caller holds a reference on it):
//   map_begin(wait)  -> false: the folio is being killed; drop it and retry
//   [engine: take the PTL, check i_size, take the map counts (rmap)]
//   map_commit(wait) -> under the PTL, map counts taken, PTEs not yet
//                       written; false: the engine gives the map counts
//                       back and retries
//   [engine: write the PTEs, drop the PTL]
//   map_end(wait)
// A write fault on a shared mapping also holds the folio lock around all
// of this (page_mkwrite), taken before map_begin unless the guard holds it.
// A write fault on a private mapping (do_cow_fault) maps a copy of the
// folio, not the folio: map_begin/map_end around the copy, no commit.
// Kill side, for each folio a killer removes (folio locked): kill_folio(),
// which unmaps and removes it through KillOps in the order the protocol
// needs. Reclaim and migration need no hook: they freeze the reference
// count, which fails while a fault holds its reference.
// Creation: create_begin/create_end around creating and reading in folios
// (fault, read(), readahead, write()); evict_begin/evict_end around a
// killer's eviction up to the freeing of the blocks.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace faultline::detail {

struct AddressSpace;
struct Folio;
enum class FolioLockKind : uint8_t;

// What the engine offers a killer's side of a map guard.
class KillOps {
 public:
  // Zaps every PTE that maps the folio (an rmap walk over the file's
  // i_mmap); `i_mmap_held`: the caller holds i_mmap_rwsem already.
  virtual void unmap(bool i_mmap_held) = 0;
  // Deletes the folio from the page cache, clearing folio->mapping.
  virtual void remove() = 0;

 protected:
  ~KillOps() = default;
};

class MapGuard {
 public:
  virtual ~MapGuard() = default;
  virtual std::string_view name() const = 0;
  // map_begin(wait = true) holds the folio lock until map_end (page_lock).
  virtual bool holds_folio_lock() const { return false; }
  // How folio locks pass between threads (mm/folio.h): by default as in
  // Linux since 5.9, handed over to a waiter after five vain wake-ups.
  virtual FolioLockKind folio_lock_kind() const;
  // `wait` is false in fault-around, which must not sleep.
  virtual bool map_begin(AddressSpace& mapping, Folio& folio, bool wait) = 0;
  // `wait`, here and in map_end: as given to map_begin.
  virtual bool map_commit(AddressSpace& mapping, Folio& folio, bool wait) = 0;
  virtual void map_end(AddressSpace& mapping, Folio& folio, bool wait) = 0;
  virtual void kill_folio(AddressSpace& mapping, Folio& folio, KillOps& ops) = 0;
};

// The folio is still in `mapping`'s cache and uptodate.
bool folio_is_live(const AddressSpace& mapping, const Folio& folio);

class CreationGuard {
 public:
  virtual ~CreationGuard() = default;
  virtual std::string_view name() const = 0;
  virtual void create_begin(AddressSpace& mapping) = 0;
  virtual void create_end(AddressSpace& mapping) = 0;
  virtual void evict_begin(AddressSpace& mapping) = 0;
  virtual void evict_end(AddressSpace& mapping) = 0;
};

struct Protocol {
  std::string name;  // canonical: MAPGUARD+CREATIONGUARD or MAPGUARD alone
  std::unique_ptr<MapGuard> map;
  std::unique_ptr<CreationGuard> create;
};

// Parses MAPGUARD[+CREATIONGUARD]; a creation guard alone names the default
// map guard with it ("invalidate_lock" = "page_lock+invalidate_lock").
// Throws Error(unknown_protocol) naming the bad part and the known names.
Protocol make_protocol(std::string_view name);
std::vector<std::string> map_guard_names();
std::vector<std::string> creation_guard_names();

// Factories, one per guard file.
std::unique_ptr<MapGuard> make_page_lock_guard();
std::unique_ptr<MapGuard> make_page_lock_fair_guard();
std::unique_ptr<MapGuard> make_page_lock_unfair_guard();
std::unique_ptr<MapGuard> make_i_mmap_rwsem_guard();
std::unique_ptr<MapGuard> make_i_mmap_rwsem_as_posted_guard();
std::unique_ptr<MapGuard> make_map_pages_lockless_guard();
std::unique_ptr<MapGuard> make_private_lock_guard();
std::unique_ptr<MapGuard> make_no_new_maps_guard();
std::unique_ptr<MapGuard> make_no_new_maps_as_posted_guard();
std::unique_ptr<MapGuard> make_unlocked_guard();
std::unique_ptr<CreationGuard> make_invalidate_lock_guard();
std::unique_ptr<CreationGuard> make_no_creation_guard();

}  // namespace faultline::detail
