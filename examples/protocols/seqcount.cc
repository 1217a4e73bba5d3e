// examples/protocols/seqcount.cc — map guard `seqcount`: a worked example
// of a protocol in one file (docs/protocols.md walks through it).
//
// Source: the shape of mmu_interval_notifier (mm/mmu_notifier.c, Jason
// Gunthorpe, 5.5): a driver that mirrors pages reads a sequence count
// before it looks a page up, and installs its mapping only if the count
// has not moved since (mmu_interval_read_begin / _read_retry); an
// invalidation moves it. Here the mirror is the fault and the
// invalidation is the page killer.
// Rules:
//   state:  per file, two counts: kills `begun` and kills `ended`
//           (invalidate_seq is odd while any invalidation runs; two counts
//           say the same for killers that overlap, which need no lock
//           between them).
//   fault:  map_begin: read begun, then ended; if they differ a kill is
//           running: spin (fault-around gives up) and read again, as
//           read_seqcount_begin spins on an odd count. Keep begun as the cookie; check that the folio is
//           still this file's.
//           map_commit (map count up, under the PTL): full barrier, then
//           begun must still be the cookie, else give the map count back
//           and retry.
//   killer: begun++, full barrier, if the folio is mapped unmap it,
//           remove it, ended++ (release).
// Why it works: a fault whose commit read the old `begun` took its map
// count before that read and the killer read the map count after its
// increment, both behind full barriers (store buffering): the killer sees
// the count and unmaps, and its unmap waits on the PTL for the PTE. A kill
// that ended before the fault read `ended` (acquire) removed the folio
// before it, so the liveness check sees ->mapping cleared.
//
// Build it into the engine (it registers itself with the line at the end):
//   cmake --preset release -DFAULTLINE_EXTRA_PROTOCOLS=examples/protocols/seqcount.cc
//   faultline check --protocol seqcount+invalidate_lock
#include "mm/folio.h"
#include "mm/fs.h"
#include "protocol/protocol.h"
#include "sync/atomic.h"

namespace faultline::detail {
namespace {

// The per-file state: one per address_space, made by new_state().
struct SeqcountState final : GuardState {
  sync::Atomic<uint64_t> begun{0}, ended{0};
  void name_words(const WordNamer& name) const override {
    name(&begun, "seqcount begun");
    name(&ended, "seqcount ended");
  }
};

class SeqcountGuard final : public MapGuard {
 public:
  std::string_view name() const override { return "seqcount"; }
  std::unique_ptr<GuardState> new_state() const override { return std::make_unique<SeqcountState>(); }

  bool map_begin(AddressSpace& mapping, Folio& folio, MapAttempt& a) override {
    auto& s = map_guard_state<SeqcountState>(mapping);
    for (;;) {
      uint64_t begun = s.begun.load(sync::acquire);
      uint64_t ended = s.ended.load(sync::acquire);
      if (begun == ended) {
        a.cookie = begun;
        return folio_is_live(mapping, folio);
      }
      if (!a.wait) return false;
      sync::cpu_relax();  // as read_seqcount_begin spins while the count is odd
    }
  }

  bool map_commit(AddressSpace& mapping, Folio& folio, MapAttempt& a) override {
    sync::mb();  // pairs with the killer's: map count up before begun is read
    return map_guard_state<SeqcountState>(mapping).begun.load(sync::relaxed) == a.cookie &&
           folio_is_live(mapping, folio);
  }

  void map_end(AddressSpace&, Folio&, MapAttempt&) override {}

  void kill_folio(AddressSpace& mapping, Folio& folio, KillOps& ops) override {
    auto& s = map_guard_state<SeqcountState>(mapping);
    s.begun.fetch_add(1, sync::relaxed);
    sync::mb();  // pairs with map_commit's: begun up before the map count is read
    if (folio.mapcount.load(sync::relaxed) > 0) ops.unmap(false);
    ops.remove();
    s.ended.fetch_add(1, sync::release);
  }
};

}  // namespace

FAULTLINE_MAP_GUARD(seqcount, std::make_unique<SeqcountGuard>())

}  // namespace faultline::detail
