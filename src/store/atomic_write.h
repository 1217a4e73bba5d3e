// src/store/atomic_write.h — RWF_ATOMIC on a real file: the unit statx
// reports and the write itself (Linux 6.11+; Debian 12's headers predate
// both, so the flag and statx's fields are spelled out here).
//
// Owns nothing: free functions over a descriptor the caller keeps.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "faultline/store.h"

namespace faultline::detail {

inline constexpr int kRwfAtomic = 0x40;  // RWF_ATOMIC

// statx(STATX_WRITE_ATOMIC) of `fd`: {0, 0} where the filesystem, the
// device or the kernel has no atomic writes.
AtomicWriteUnit statx_atomic_write_unit(int fd);

// pwritev2(fd, {buf, len}, off, RWF_ATOMIC): fd must be O_DIRECT and buf
// aligned as O_DIRECT needs. Returns what pwritev2 returns (errno set).
ssize_t pwrite_atomic(int fd, const void* buf, size_t len, off_t off);

}  // namespace faultline::detail
