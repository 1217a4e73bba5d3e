// src/protocol/page_lock.h — the folio-lock map guard, shared by
// `page_lock` (page_lock.cc), `page_lock_unfair` (page_lock_unfair.cc) and
// `page_lock_fair` (page_lock_fair.cc), which differ only in how the folio
// lock passes between threads (FolioLockKind).
#pragma once

#include "protocol/protocol.h"

namespace faultline::detail {

class PageLockGuard final : public MapGuard {
 public:
  explicit PageLockGuard(FolioLockKind kind) : kind_(kind) {}
  std::string_view name() const override;
  bool holds_folio_lock() const override { return true; }
  FolioLockKind folio_lock_kind() const override { return kind_; }
  bool map_begin(AddressSpace& mapping, Folio& folio, MapAttempt& a) override;
  bool map_commit(AddressSpace&, Folio&, MapAttempt&) override { return true; }
  void map_end(AddressSpace& mapping, Folio& folio, MapAttempt& a) override;
  void kill_folio(AddressSpace& mapping, Folio& folio, KillOps& ops) override;

 private:
  FolioLockKind kind_;
};

}  // namespace faultline::detail
