// src/protocol/page_lock_unfair.cc — map guard `page_lock_unfair`.
//
// Source: the page lock before Linux 5.9. An unlock cleared PG_locked and
// woke the waiters, and whoever came first took the lock — often the
// thread that had just let it go, so a waiter could be woken and lose for
// ever. 5.9-rc made it fair (page_lock_fair.cc); 5.9 settled on bounded
// unfairness (page_lock.cc).
// Rules: those of `page_lock` (page_lock.cc), with every folio lock of the
// engine the plain sleeping bit lock (sync::bit_lock).
#include "mm/folio.h"
#include "protocol/page_lock.h"

namespace faultline::detail {

FAULTLINE_MAP_GUARD(page_lock_unfair, std::make_unique<PageLockGuard>(FolioLockKind::unfair))

}  // namespace faultline::detail
