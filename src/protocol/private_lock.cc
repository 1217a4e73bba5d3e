// src/protocol/private_lock.cc — map guard `private_lock`.
//
// Source: the seed (the linux-mm thread this project grew from): Linus Torvalds, 2020-09-17, "The other
// alternative might be just the mapping->private_lock ... if we don't need
// to sleep (and I don't think the final 'check ->mapping' can sleep anyway
// since it has to be done together with the page table lock), a spinlock
// would be fine."
// Rules:
//   fault:  under the PTL, with the map count taken and before the PTE is
//           written, take the private_lock spinlock and check
//           folio->mapping; if it is gone, give the map count back and
//           retry. No folio lock on a read fault.
//   killer: clear ->mapping (remove the folio) under private_lock, then
//           unmap the folio if mapped.
// Why it works: a fault that saw ->mapping under private_lock did so before
// the killer cleared it, with its map count already up, so the killer
// unmaps, and its unmap waits on the PTL for the PTE; a fault after the
// clearing backs out before any PTE exists.
#include "mm/folio.h"
#include "mm/fs.h"
#include "protocol/protocol.h"

namespace faultline::detail {
namespace {

class PrivateLockGuard final : public MapGuard {
 public:
  std::string_view name() const override { return "private_lock"; }

  bool map_begin(AddressSpace& mapping, Folio& folio, MapAttempt&) override { return folio_is_live(mapping, folio); }
  bool map_commit(AddressSpace& mapping, Folio& folio, MapAttempt&) override {
    sync::Guard<sync::SpinLock> g(mapping.private_lock);
    return folio.mapping.load(sync::relaxed) == &mapping;
  }
  void map_end(AddressSpace&, Folio&, MapAttempt&) override {}

  void kill_folio(AddressSpace& mapping, Folio& folio, KillOps& ops) override {
    {
      sync::Guard<sync::SpinLock> g(mapping.private_lock);
      ops.remove();
    }
    if (folio_mapped(&folio)) ops.unmap(false);
  }
};

}  // namespace

FAULTLINE_MAP_GUARD(private_lock, std::make_unique<PrivateLockGuard>())

}  // namespace faultline::detail
