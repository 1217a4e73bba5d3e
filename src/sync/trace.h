// src/sync/trace.h — notes from engine code in the model checker's traces.
//
// Owns: trace_note(), which puts a line, attributed to the running CPU,
// into the trace of the execution the checker is running (the store's
// reads and writes, which are plain memory and no synchronization step).
// The line is formatted only if the trace is printed; the native backend
// compiles the call away.
#pragma once

#include <cstdint>

#ifdef FAULTLINE_SYNC_MODEL
#include "sync/model/model.h"
#endif

namespace faultline::sync {

// `format`: a string literal in fmt's syntax, with up to three numbers.
inline void trace_note([[maybe_unused]] const char* format, [[maybe_unused]] uint64_t a,
                       [[maybe_unused]] uint64_t b = 0, [[maybe_unused]] uint64_t c = 0) {
#ifdef FAULTLINE_SYNC_MODEL
  model::note_lazy(format, a, b, c);
#endif
}

}  // namespace faultline::sync
