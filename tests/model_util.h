// tests/model_util.h — running every execution a model strategy covers.
#pragma once

#include <cstdint>

#include "sync/model/model.h"

namespace faultline::sync::model {

// Calls one(e) for execution e = 0, 1, ... until `strategy` has covered
// what it covers (an exhaustive search: every execution within its
// bounds); returns how many ran, less those a split search skipped (which
// one(e) can tell by Strategy::skipping()).
template <class F>
uint64_t each_execution(Strategy& strategy, F one) {
  uint64_t counted = 0;
  for (unsigned e = 0;; ++e) {
    strategy.begin(e);
    one(e);
    if (!strategy.skipping()) ++counted;
    if (!strategy.next()) return counted;
  }
}

}  // namespace faultline::sync::model
