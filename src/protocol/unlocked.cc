// src/protocol/unlocked.cc — map guard `unlocked`: the negative control.
//
// Source: the seed (the linux-mm thread this project grew from): Wilcox's "just check for uptodate
// without any lock" patch, which Torvalds rejected: "a page-in requires
// fundamentally stronger locking than a read() does".
// Rules:
//   fault:  check uptodate, map. Nothing else.
//   killer: clear uptodate, unmap if mapped, remove. No barrier.
// The bug: the fault checks uptodate, the killer clears it, sees the folio
// unmapped and removes it, the fault installs its PTE: a stale page stays
// mapped after the killer returned (G1). The checker must find it.
#include "mm/folio.h"
#include "mm/fs.h"
#include "protocol/protocol.h"

namespace faultline::detail {
namespace {

class UnlockedGuard final : public MapGuard {
 public:
  std::string_view name() const override { return "unlocked"; }
  bool map_begin(AddressSpace&, Folio& folio, MapAttempt&) override {
    return folio.flags.load(sync::relaxed) & PG_uptodate;
  }
  bool map_commit(AddressSpace&, Folio&, MapAttempt&) override { return true; }
  void map_end(AddressSpace&, Folio&, MapAttempt&) override {}
  void kill_folio(AddressSpace&, Folio& folio, KillOps& ops) override {
    folio.flags.clear_bits(PG_uptodate, sync::relaxed);
    if (folio.mapcount.load(sync::relaxed) > 0) ops.unmap(false);
    ops.remove();
  }
};

}  // namespace

FAULTLINE_MAP_GUARD(unlocked, std::make_unique<UnlockedGuard>())

}  // namespace faultline::detail
