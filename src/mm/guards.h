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

class CreateScope {
 public:
  explicit CreateScope(Inode* inode) : g_(*inode->kernel->protocol.create), m_(inode->i_mapping) {
    g_.create_begin(m_);
  }
  ~CreateScope() { g_.create_end(m_); }
  CreateScope(const CreateScope&) = delete;
  CreateScope& operator=(const CreateScope&) = delete;

 private:
  CreationGuard& g_;
  AddressSpace& m_;
};

class EvictScope {
 public:
  explicit EvictScope(Inode* inode) : g_(*inode->kernel->protocol.create), m_(inode->i_mapping) {
    g_.evict_begin(m_);
  }
  ~EvictScope() { g_.evict_end(m_); }
  EvictScope(const EvictScope&) = delete;
  EvictScope& operator=(const EvictScope&) = delete;

 private:
  CreationGuard& g_;
  AddressSpace& m_;
};

}  // namespace faultline::detail
