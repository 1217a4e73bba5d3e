// src/sync/trace.h — notes from engine code in the model checker's traces.
//
// Owns: trace_note(), which puts a line of text, attributed to the running
// CPU, into the trace of the execution the checker is running (the store's
// reads and writes, which are plain memory and no synchronization step).
// The native backend compiles it away: `make` is never called.
#pragma once

#include <string>

#ifdef FAULTLINE_SYNC_MODEL
#include "sync/model/model.h"
#endif

namespace faultline::sync {

template <class Make>
inline void trace_note([[maybe_unused]] Make&& make) {
#ifdef FAULTLINE_SYNC_MODEL
  model::note(make());
#endif
}

}  // namespace faultline::sync
