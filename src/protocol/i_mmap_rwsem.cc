// src/protocol/i_mmap_rwsem.cc — map guard `i_mmap_rwsem`.
//
// Source: the seed (the linux-mm thread this project grew from): Linus Torvalds, 2020-09-17, "It would
// be much more natural to use the mapping->i_mmap_rwsem", and Matthew
// Wilcox's sketch of taking i_mmap_lock_read in filemap_fault with a
// VM_FAULT_I_MMAP_LOCKED bit telling do_read_fault to drop it.
// Rules:
//   fault:  take i_mmap_rwsem shared (try-lock in fault-around); check
//           folio->mapping and uptodate; map under the PTL; release. No
//           folio lock on a read fault.
//   killer: with the folio locked, take i_mmap_rwsem exclusive, unmap,
//           remove, release.
// Why it works: the check-and-map of a fault and the unmap-and-remove of a
// killer exclude each other on the rwsem. The cost Wilcox feared: a
// file-wide lock, shared, taken by every fault ("weirdos with giant
// databases mmap the whole thing"), and written by every killed folio.
//
// Map guard `i_mmap_rwsem_as_posted`: the fault as sketched, the killers
// as they were. truncate_cleanup_page() unmapped through
// unmap_mapping_pages(), which takes i_mmap_rwsem shared for its rmap walk
// only, and delete_from_page_cache() cleared ->mapping after that, under
// the i_pages lock alone. A fault holding the rwsem shared excludes
// neither step: it can check ->mapping after the unmap and map the folio
// before its removal, leaving a PTE to a folio the cache no longer holds
// (G1). The checker finds it; the rules above are the fix: the killer's
// unmap and removal both under the rwsem, taken exclusive.
#include "mm/folio.h"
#include "mm/fs.h"
#include "protocol/protocol.h"

namespace faultline::detail {
namespace {

class IMmapRwsemGuard final : public MapGuard {
 public:
  explicit IMmapRwsemGuard(bool as_posted) : as_posted_(as_posted) {}
  std::string_view name() const override { return as_posted_ ? "i_mmap_rwsem_as_posted" : "i_mmap_rwsem"; }

  bool map_begin(AddressSpace& mapping, Folio& folio, MapAttempt& a) override {
    if (a.wait) mapping.i_mmap_rwsem.down_read();
    else if (!mapping.i_mmap_rwsem.down_read_trylock()) return false;
    if (folio_is_live(mapping, folio)) return true;
    mapping.i_mmap_rwsem.up_read();
    return false;
  }
  bool map_commit(AddressSpace&, Folio&, MapAttempt&) override { return true; }
  void map_end(AddressSpace& mapping, Folio&, MapAttempt&) override { mapping.i_mmap_rwsem.up_read(); }

  void kill_folio(AddressSpace& mapping, Folio&, KillOps& ops) override {
    if (as_posted_) {
      ops.unmap(false);  // the rmap walk takes i_mmap_rwsem shared, and drops it
      ops.remove();
      return;
    }
    sync::WriteGuard g(mapping.i_mmap_rwsem);
    ops.unmap(true);
    ops.remove();
  }

 private:
  bool as_posted_;
};

}  // namespace

FAULTLINE_MAP_GUARD(i_mmap_rwsem, std::make_unique<IMmapRwsemGuard>(false))
FAULTLINE_MAP_GUARD(i_mmap_rwsem_as_posted, std::make_unique<IMmapRwsemGuard>(true))

}  // namespace faultline::detail
