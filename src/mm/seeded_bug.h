// src/mm/seeded_bug.h — bugs the checker's tests plant in the engine.
//
// Owns: the switch that turns on one known bug in the model build, so that
// tests can show the model checker catches each kind: a missing unmap, two
// steps of truncate swapped, a dropped barrier. In the native build
// FL_SEEDED() is the constant false and the branches compile away.
#pragma once

namespace faultline::detail {

enum class SeededBug {
  none,
  kill_without_unmap,   // the killer removes a mapped folio without unmapping it
  truncate_size_last,   // truncate empties the cache before it shrinks i_size
  commit_without_mb,    // no_new_maps' fault drops its smp_mb()
  commit_wmb,           // no_new_maps' fault has smp_wmb() where smp_mb() is needed
  try_get_relaxed,      // folio_try_get()'s cmpxchg is relaxed, not acquire
  fault_leaks_ref,      // a read fault keeps the reference it looked the folio up with
  pmd_ignores_eof,      // do_set_pmd maps a PMD-sized folio that EOF cuts through
  whole_folio_past_eof,   // whole-folio mapping without the EOF clamp (generic/749, before its fix)
  no_tlb_flush,         // flush_tlb_mm does not bump tlb_gen: TLB entries outlive their PTEs
  munmap_skips_vma_lock,  // munmap detaches a VMA without waiting for the faults under its lock
  lookup_recheck_head,  // a lookup re-checks its folio's first slot, not its own (early 2026's split race)
};

#ifdef FAULTLINE_SYNC_MODEL
extern SeededBug seeded_bug;
#define FL_SEEDED(b) (::faultline::detail::seeded_bug == ::faultline::detail::SeededBug::b)
#else
#define FL_SEEDED(b) false
#endif

}  // namespace faultline::detail
