// src/protocol/page_lock_fair.cc — map guard `page_lock_fair`.
//
// Source: Linux 5.9-rc, "mm: rewrite wait_on_page_bit_common() logic"
// (Linus Torvalds, 2020): the page lock handed to the first waiter on
// unlock instead of being released for anyone to grab, which cured
// starvation and, under heavy contention, convoyed.
// Rules: those of `page_lock` (page_lock.cc), with every folio lock of the
// engine a FIFO ticket lock (src/sync/ticket_lock.h): an unlocking thread
// cannot take the lock back before the threads already waiting for it.
#include "mm/folio.h"
#include "protocol/page_lock.h"

namespace faultline::detail {

FAULTLINE_MAP_GUARD(page_lock_fair, std::make_unique<PageLockGuard>(FolioLockKind::fair))

}  // namespace faultline::detail
