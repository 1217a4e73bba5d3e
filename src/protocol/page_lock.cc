// src/protocol/page_lock.cc — map guard `page_lock`: Linux up to today.
//
// Source: mm/filemap.c (filemap_fault, filemap_map_pages, next_uptodate_folio)
// and mm/truncate.c, every kernel since 2.6.
// Rules:
//   fault:  lock the folio (trylock in fault-around); check that
//           folio->mapping is still this file and the folio is uptodate;
//           the engine then checks i_size and maps under the PTL; unlock.
//   killer: lock each folio, unmap it, remove it (clearing ->mapping).
// Why it works: the killer holds the folio lock from before its final
// unmap until ->mapping is cleared, and the fault holds it from its check
// until the PTE is in: either the fault's PTE exists when the killer's
// unmap runs, or the fault sees ->mapping cleared and retries.
#include "mm/folio.h"
#include "mm/fs.h"
#include "protocol/protocol.h"

namespace faultline::detail {
namespace {

class PageLockGuard final : public MapGuard {
 public:
  std::string_view name() const override { return "page_lock"; }

  bool map_begin(AddressSpace& mapping, Folio& folio, bool wait) override {
    if (wait) folio_lock(&folio);
    else if (!folio_trylock(&folio)) return false;
    if (folio.mapping.load(sync::acquire) == &mapping && folio.test(PG_uptodate)) return true;
    folio_unlock(&folio);
    return false;
  }
  bool map_commit(AddressSpace&, Folio&) override { return true; }
  void map_end(AddressSpace&, Folio& folio) override { folio_unlock(&folio); }
  // The engine kills folios with their lock held already.
  void kill_begin(AddressSpace&, Folio&) override {}
  void kill_end(AddressSpace&, Folio&) override {}
};

}  // namespace

std::unique_ptr<MapGuard> make_page_lock_guard() { return std::make_unique<PageLockGuard>(); }

}  // namespace faultline::detail
