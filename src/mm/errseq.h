// src/mm/errseq.h — errseq_t: a writeback error that every open file hears
// of once.
//
// Owns: the encoding of a mapping's wb_err and the three operations on it,
// as lib/errseq.c: the low 12 bits hold the latest errno, bit 12 says
// whether any opener has seen it, the bits above count errors. errseq_set
// records an error (the counter moves only if the previous one was seen,
// so an error nobody has looked at yet is not counted twice); errseq_sample
// gives a new opener its starting point (0 if the current error is unseen,
// so that the new opener reports it too); errseq_check_and_advance reports
// an error an opener has not seen and moves its cursor past it. Lock-free:
// one word, updated by compare-and-swap.
#pragma once

#include <cstdint>

#include "sync/atomic.h"

namespace faultline::detail {

using errseq_t = uint64_t;

inline constexpr errseq_t ERRSEQ_ERRNO_MASK = (1u << 12) - 1;
inline constexpr errseq_t ERRSEQ_SEEN = 1u << 12;
inline constexpr errseq_t ERRSEQ_CTR_INC = 1u << 13;

inline void errseq_set(sync::Atomic<errseq_t>& eseq, int err) {
  errseq_t old = eseq.load(sync::relaxed);
  for (;;) {
    errseq_t next = (old & ~(ERRSEQ_ERRNO_MASK | ERRSEQ_SEEN)) | (static_cast<errseq_t>(err) & ERRSEQ_ERRNO_MASK);
    if (old & ERRSEQ_SEEN) next += ERRSEQ_CTR_INC;
    if (next == old || eseq.cmpxchg(old, next, sync::acq_rel)) return;
  }
}

inline errseq_t errseq_sample(const sync::Atomic<errseq_t>& eseq) {
  errseq_t old = eseq.load(sync::acquire);
  return (old & ERRSEQ_SEEN) ? old : 0;
}

// The errno an opener at `*since` has not heard of (0 if none), marking it
// seen and moving `*since` past it.
inline int errseq_check_and_advance(sync::Atomic<errseq_t>& eseq, sync::Atomic<errseq_t>& since) {
  errseq_t old = eseq.load(sync::acquire);
  errseq_t mine = since.load(sync::relaxed);
  if (old == mine) return 0;
  errseq_t seen = old | ERRSEQ_SEEN;
  if (seen != old) {
    errseq_t expected = old;  // a newer error in between keeps its own unseen state
    eseq.cmpxchg(expected, seen, sync::acq_rel);
  }
  since.store(seen, sync::relaxed);
  return static_cast<int>(seen & ERRSEQ_ERRNO_MASK);
}

}  // namespace faultline::detail
