// src/protocol/page_lock.cc — map guard `page_lock`: Linux up to today.
//
// Source: mm/filemap.c (filemap_fault, filemap_map_pages, next_uptodate_folio)
// and mm/truncate.c, every kernel since 2.6; the folio lock as it has been
// since 5.9 (Linus Torvalds, "mm: allow a controlled amount of unfairness
// in the page lock"): unfair, except that a waiter woken five times
// (sysctl_page_lock_unfairness) without getting it is handed it at the
// next unlock.
// Rules:
//   fault:  lock the folio (trylock in fault-around); check that
//           folio->mapping is still this file and the folio is uptodate;
//           the engine then checks i_size and maps under the PTL; unlock.
//   killer: with the folio locked, unmap it if mapped, remove it (clearing
//           ->mapping).
// Why it works: the killer holds the folio lock from before its final
// unmap until ->mapping is cleared, and the fault holds it from its check
// until the PTE is in: either the fault's PTE exists when the killer's
// unmap runs, or the fault sees ->mapping cleared and retries.
#include "mm/folio.h"
#include "mm/fs.h"
#include "protocol/page_lock.h"

namespace faultline::detail {

bool PageLockGuard::map_begin(AddressSpace& mapping, Folio& folio, MapAttempt& a) {
  if (a.wait) folio_lock(&folio);
  else if (!folio_trylock(&folio)) return false;
  if (folio_is_live(mapping, folio)) return true;
  folio_unlock(&folio);
  return false;
}

void PageLockGuard::map_end(AddressSpace&, Folio& folio, MapAttempt&) { folio_unlock(&folio); }

std::string_view PageLockGuard::name() const {
  switch (kind_) {
    case FolioLockKind::unfair: return "page_lock_unfair";
    case FolioLockKind::fair: return "page_lock_fair";
    case FolioLockKind::handoff: break;
  }
  return "page_lock";
}

void PageLockGuard::kill_folio(AddressSpace&, Folio& folio, KillOps& ops) {
  if (folio_mapped(&folio)) ops.unmap(false);
  ops.remove();
}

FAULTLINE_MAP_GUARD(page_lock, std::make_unique<PageLockGuard>(FolioLockKind::handoff))

}  // namespace faultline::detail
