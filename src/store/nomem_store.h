// src/store/nomem_store.h — the engine's view of a user's store: a store
// that runs out of memory says so as an Error, not as std::bad_alloc.
//
// Owns: nothing but the store it wraps. The engine calls stores with
// folios locked and ranges half evicted; its unwinding paths (the
// writeback that keeps a folio dirty, the read that fails a fault) catch
// faultline::Error. A std::bad_alloc from a store becomes
// Error(out_of_memory, ENOMEM) naming the call and its range, and takes
// those same paths: no lock stays held, no dirty data is dropped.
#pragma once

#include <memory>

#include "faultline/store.h"

namespace faultline::detail {

std::unique_ptr<Store> nomem_store(std::unique_ptr<Store> inner);

}  // namespace faultline::detail
