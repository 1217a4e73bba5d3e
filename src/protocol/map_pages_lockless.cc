// src/protocol/map_pages_lockless.cc — map guard `map_pages_lockless`.
//
// Source: Linus Torvalds, "Some more lock_page work" (linux-mm, October
// 2020): filemap_map_pages (fault-around) mapping cached pages without
// the page trylock — raise the map count, then re-check — and Hugh
// Dickins' reply: khugepaged's collapse_file() relies on the page lock to
// keep new maps out of the small pages it is about to replace, and hit its
// VM_BUG_ON_PAGE(page_mapped(page)).
// Rules:
//   fault:        as `page_lock`: lock the folio, check, map, unlock.
//   fault-around: no lock: take the map count (under the PTL, PTEs not yet
//                 written), full barrier, re-check that the folio is
//                 uptodate and still this file's; if not, give the map
//                 count back. (It still skips a folio it sees locked, as
//                 next_uptodate_folio does: a racy test, not a lock.)
//   killer:       with the folio locked, clear uptodate, full barrier,
//                 unmap if mapped, remove: the fault-around's re-check
//                 and the killer's are no_new_maps' pair.
// Against the page killers this holds. What it breaks is what the page
// lock promised besides: that nobody maps a folio someone else holds
// locked. collapse_file locks the small folios, unmaps them and then
// counts on them staying unmapped; a fault-around that passed its skip
// test just before the lock maps one anyway. `page_lock` maps nothing
// without the lock, and its row stays VERIFIED.
#include "mm/folio.h"
#include "protocol/page_lock.h"

namespace faultline::detail {
namespace {

// The two guards it is made of: page_lock's for a fault, no_new_maps' for
// fault-around and for every kill.
class MapPagesLocklessGuard final : public MapGuard {
 public:
  std::string_view name() const override { return "map_pages_lockless"; }
  // A fault (wait) holds the folio lock from map_begin to map_end, as
  // page_lock's; fault-around holds nothing.
  bool holds_folio_lock() const override { return true; }

  bool map_begin(AddressSpace& mapping, Folio& folio, MapAttempt& a) override {
    return of(a).map_begin(mapping, folio, a);
  }
  bool map_commit(AddressSpace& mapping, Folio& folio, MapAttempt& a) override {
    return of(a).map_commit(mapping, folio, a);
  }
  void map_end(AddressSpace& mapping, Folio& folio, MapAttempt& a) override { of(a).map_end(mapping, folio, a); }
  // With the folio locked: no_new_maps' kill (clear uptodate, full
  // barrier, unmap if mapped, remove), which fault-around's re-check pairs
  // with; a fault holds the lock and never meets it.
  void kill_folio(AddressSpace& mapping, Folio& folio, KillOps& ops) override {
    lockless_->kill_folio(mapping, folio, ops);
  }

 private:
  MapGuard& of(const MapAttempt& a) { return a.wait ? static_cast<MapGuard&>(locked_) : *lockless_; }

  PageLockGuard locked_{FolioLockKind::handoff};
  std::unique_ptr<MapGuard> lockless_ = make_map_guard("no_new_maps");
};

}  // namespace

FAULTLINE_MAP_GUARD(map_pages_lockless, std::make_unique<MapPagesLocklessGuard>())

}  // namespace faultline::detail
