// tests/model_util.h — running every execution a model strategy covers.
#pragma once

#include <cstdint>

#include "sync/model/model.h"

namespace faultline::sync::model {

// Calls one(e) for execution e = 0, 1, ... until `strategy` has covered
// what it covers (an exhaustive search: every execution within its
// bounds); returns how many ran.
template <class F>
uint64_t each_execution(Strategy& strategy, F one) {
  for (unsigned e = 0;; ++e) {
    strategy.begin(e);
    one(e);
    if (!strategy.next()) return e + 1;
  }
}

}  // namespace faultline::sync::model
