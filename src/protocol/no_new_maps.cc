// src/protocol/no_new_maps.cc — map guards `no_new_maps` and
// `no_new_maps_as_posted`.
//
// Source: the seed (the linux-mm thread this project grew from): Matthew Wilcox, 2020-09-17, "mark the
// page as being no-new-maps-allowed before the page-killer checks
// page_mapped(), and the map-page path checks that the page isn't
// no-new-maps-allowed after incrementing page_mapped()", wrapped as
//     page_kill_mappings(page): ClearPageUptodate(page);
//                               smp_mb__before_atomic();
//                               if (!page_mapped(page)) return;
//                               unmap_mapping_pages(...);
// Rules:
//   fault:  take the map count (under the PTL, before the PTE is written),
//           full barrier, re-check uptodate (and ->mapping); if cleared,
//           give the map count back and retry; else write the PTE. No lock
//           at all on a read fault.
//   killer: clear uptodate, barrier, if mapped unmap, remove.
// `no_new_maps` puts a full barrier (smp_mb) on both sides: the
// store-buffering pattern (W uptodate; R mapcount || W mapcount; R
// uptodate) then cannot lose both stores. `no_new_maps_as_posted` keeps the
// killer's barriers exactly as written: ClearPageUptodate is clear_bit, an
// atomic that returns nothing and so orders nothing in the Linux-kernel
// memory model, smp_mb__before_atomic() orders only against the atomic
// *after* it, and page_mapped() is a plain read. Under a weak memory model
// the read can pass the clear, and a new mapping survives the killer.
#include "mm/folio.h"
#include "mm/fs.h"
#include "mm/seeded_bug.h"
#include "protocol/protocol.h"

namespace faultline::detail {
namespace {

class NoNewMapsGuard final : public MapGuard {
 public:
  explicit NoNewMapsGuard(bool as_posted) : as_posted_(as_posted) {}
  std::string_view name() const override { return as_posted_ ? "no_new_maps_as_posted" : "no_new_maps"; }

  bool map_begin(AddressSpace& mapping, Folio& folio, MapAttempt&) override { return folio_is_live(mapping, folio); }
  // The map count is up; the PTE is not written yet (under the PTL).
  bool map_commit(AddressSpace& mapping, Folio& folio, MapAttempt&) override {
    if (FL_SEEDED(commit_wmb)) sync::wmb();
    else if (!FL_SEEDED(commit_without_mb)) sync::mb();
    return folio_is_live(mapping, folio);
  }
  void map_end(AddressSpace&, Folio&, MapAttempt&) override {}

  void kill_folio(AddressSpace&, Folio& folio, KillOps& ops) override {
    if (page_kill_mappings(folio)) ops.unmap(false);
    ops.remove();
  }

 private:
  // Returns whether the folio may be mapped and must be unmapped.
  bool page_kill_mappings(Folio& folio) const {
    folio.flags.clear_bits(PG_uptodate, sync::relaxed);  // ClearPageUptodate: clear_bit, returns nothing
    if (as_posted_) sync::mb_before_atomic();
    else sync::mb();
    return folio.mapcount.load(sync::relaxed) > 0;  // page_mapped(): a plain read
  }

  bool as_posted_;
};

}  // namespace

FAULTLINE_MAP_GUARD(no_new_maps, std::make_unique<NoNewMapsGuard>(false))
FAULTLINE_MAP_GUARD(no_new_maps_as_posted, std::make_unique<NoNewMapsGuard>(true))

}  // namespace faultline::detail
