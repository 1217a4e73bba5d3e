// src/protocol/protocol.h — the seam between the engine and a protocol.
//
// A protocol answers two questions (docs/protocols.md):
//   - the map guard: how does a fault that found a folio in the cache make
//     sure it does not map a folio that a killer is removing?
//   - the creation guard: how are folios kept from being created in a range
//     that a killer has evicted but whose blocks it has not yet freed?
// The engine calls these hooks at fixed points of the fault and kill paths
// and knows nothing else about the protocol. A guard is one file of this
// directory: its class, its per-file state and the line that registers it
// (FAULTLINE_MAP_GUARD / FAULTLINE_CREATION_GUARD below); the build finds
// that line and lists the guard (cmake/protocols.cmake). docs/protocols.md
// walks through writing one (examples/protocols/seqcount.cc).
//
// Fault side, for one folio (the caller holds a reference on it):
//   map_begin(a)   -> false: the folio is being killed; drop it and retry
//   [engine: take the PTL, check i_size, take the map counts (rmap)]
//   map_commit(a)  -> under the PTL, map counts taken, PTEs not yet
//                     written; false: the engine gives the map counts back
//                     and retries
//   [engine: write the PTEs, drop the PTL]
//   map_end(a)
// `a` (MapAttempt) is the one fault's: whether it may sleep, and a word the
// guard keeps from map_begin to map_end. map_begin comes after the page
// cache lookup and the reference, so a guard sees a folio that was in the
// cache a moment ago. A write fault on a shared mapping also holds the
// folio lock around all of this (page_mkwrite), taken before map_begin
// unless the guard holds it. A write fault on a private mapping
// (do_cow_fault) maps a copy of the folio, not the folio: map_begin/map_end
// around the copy, no commit; so does a write to a read-only PTE of a
// shared mapping, whose PTE exists already.
// Kill side, for each folio a killer removes (folio locked): kill_folio(),
// which unmaps and removes it through KillOps in the order the protocol
// needs. KillOps::unmap zaps under each PTL (so it waits for a fault
// between map_commit and its PTE write, and sees that PTE), gathering the
// TLB shootdown for the end of the kill; KillOps::remove clears ->mapping
// under the i_pages lock. Nothing else orders a guard's own words: a kill
// that writes one word and then reads one the fault writes (the
// store-buffering pattern) needs its own full barrier, sync::mb(), as
// does the fault's map_commit. Reclaim and
// migration need no hook: they freeze the reference count, which fails
// while a fault holds its reference.
// Creation: create_begin/create_end around creating and reading in folios
// (fault, read(), readahead, write()); evict_begin/evict_end around a
// killer's eviction up to the freeing of the blocks.
#pragma once

#include <cstdint>
#include <functional>
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

// One fault's pass through a map guard, from map_begin to map_end.
struct MapAttempt {
  bool wait = true;     // false in fault-around, which must not sleep
  uint64_t cookie = 0;  // the guard's own: a sequence count read in map_begin, say
};

// Gives a sync word of a guard's state a name for the checker's traces
// ("seqcount"); the checker adds which file it belongs to.
using WordNamer = std::function<void(const void* word, std::string name)>;

// A guard's per-file state (a lock, a sequence count): one per
// address_space, made when the inode is, reached with guard_state<T>().
class GuardState {
 public:
  virtual ~GuardState() = default;
  // Names the state's sync words, so that a trace shows "seqcount", not a
  // nameless load. Called only when a trace is printed.
  virtual void name_words(const WordNamer&) const {}
};

// What a map guard claims besides G1-G6 (docs/guarantees.md), each checked
// only for the guards that claim it: a failure of a property a guard does
// not claim is not its bug.
enum Claim : unsigned {
  // No fault maps a folio that someone else holds locked, even for a
  // moment: what the page lock gave, and what khugepaged's collapse_file
  // relied on until 2022 (VM_BUG_ON_PAGE(page_mapped(page)) after it had
  // locked and unmapped a folio).
  claim_locked_folios_stay_unmapped = 1u << 0,
};

class MapGuard {
 public:
  virtual ~MapGuard() = default;
  virtual std::string_view name() const = 0;
  // map_begin(a.wait = true) holds the folio lock until map_end (page_lock).
  virtual bool holds_folio_lock() const { return false; }
  // Claim bits; by default, a guard that holds the folio lock claims what
  // the page lock gave (and is checked for it), any other claims nothing.
  virtual unsigned claims() const { return holds_folio_lock() ? claim_locked_folios_stay_unmapped : 0u; }
  // How folio locks pass between threads (mm/folio.h): by default as in
  // Linux since 5.9, handed over to a waiter after five vain wake-ups.
  virtual FolioLockKind folio_lock_kind() const;
  // This guard's state for one file; none by default.
  virtual std::unique_ptr<GuardState> new_state() const { return nullptr; }
  virtual bool map_begin(AddressSpace& mapping, Folio& folio, MapAttempt& a) = 0;
  virtual bool map_commit(AddressSpace& mapping, Folio& folio, MapAttempt& a) = 0;
  virtual void map_end(AddressSpace& mapping, Folio& folio, MapAttempt& a) = 0;
  virtual void kill_folio(AddressSpace& mapping, Folio& folio, KillOps& ops) = 0;
};

// The folio is still in `mapping`'s cache and uptodate.
bool folio_is_live(const AddressSpace& mapping, const Folio& folio);

class CreationGuard {
 public:
  virtual ~CreationGuard() = default;
  virtual std::string_view name() const = 0;
  virtual std::unique_ptr<GuardState> new_state() const { return nullptr; }
  virtual void create_begin(AddressSpace& mapping) = 0;
  virtual void create_end(AddressSpace& mapping) = 0;
  virtual void evict_begin(AddressSpace& mapping) = 0;
  virtual void evict_end(AddressSpace& mapping) = 0;
};

// The state the file's map guard (creation guard) made, as its own type.
template <class T>
T& map_guard_state(AddressSpace& mapping);
template <class T>
T& creation_guard_state(AddressSpace& mapping);

struct Protocol {
  std::string name;  // canonical: MAPGUARD+CREATIONGUARD or MAPGUARD alone
  std::unique_ptr<MapGuard> map;
  std::unique_ptr<CreationGuard> create;
};

// Parses MAPGUARD[+CREATIONGUARD]; a creation guard alone names the default
// map guard with it ("invalidate_lock" = "page_lock+invalidate_lock").
// Throws Error(unknown_protocol) naming the bad part and the known names.
Protocol make_protocol(std::string_view name);
// One map guard by name (a guard made of others makes them so); throws as
// make_protocol, naming `in_protocol` as the whole name if given.
std::unique_ptr<MapGuard> make_map_guard(std::string_view name, std::string_view in_protocol = {});
// The registered names, in the order of their files' names.
std::vector<std::string> map_guard_names();
std::vector<std::string> creation_guard_names();

}  // namespace faultline::detail

// Registers a guard: one line in the guard's file, inside namespace
// faultline::detail, whose NAME (an identifier) is the name users give
// and whose expression makes one:
//   FAULTLINE_MAP_GUARD(seqcount, std::make_unique<SeqcountGuard>())
// The build (cmake/protocols.cmake) finds these lines in src/protocol/*.cc
// and in FAULTLINE_EXTRA_PROTOCOLS and lists each guard once; the line
// must start the line it is on.
#define FAULTLINE_MAP_GUARD(NAME, ...) \
  std::unique_ptr<MapGuard> make_map_guard_##NAME() { return __VA_ARGS__; }
#define FAULTLINE_CREATION_GUARD(NAME, ...) \
  std::unique_ptr<CreationGuard> make_creation_guard_##NAME() { return __VA_ARGS__; }
