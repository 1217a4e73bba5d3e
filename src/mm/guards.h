// src/mm/guards.h — scoped holders for the protocol's creation guard.
//
// CreateScope wraps create_begin/create_end (fault, read(), readahead,
// write() creating or reading in folios); EvictScope wraps evict_begin/
// evict_end (a killer from eviction until its blocks are freed). Scoped so
// that an error thrown in between (out of memory, a store failure) releases
// them.
#pragma once

#include "mm/fs.h"
#include "mm/kernel.h"

namespace faultline::detail {

template <void (CreationGuard::*Begin)(AddressSpace&), void (CreationGuard::*End)(AddressSpace&)>
class GuardScope {
 public:
  explicit GuardScope(Inode* inode) : g_(*inode->kernel->protocol.create), m_(inode->i_mapping) { (g_.*Begin)(m_); }
  ~GuardScope() { (g_.*End)(m_); }
  GuardScope(const GuardScope&) = delete;
  GuardScope& operator=(const GuardScope&) = delete;

 private:
  CreationGuard& g_;
  AddressSpace& m_;
};

using CreateScope = GuardScope<&CreationGuard::create_begin, &CreationGuard::create_end>;
using EvictScope = GuardScope<&CreationGuard::evict_begin, &CreationGuard::evict_end>;

}  // namespace faultline::detail
