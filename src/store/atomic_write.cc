// src/store/atomic_write.cc — statx's atomic write unit and
// pwritev2(RWF_ATOMIC), read and called without the 6.11 headers.
#include "store/atomic_write.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <cstdint>
#include <cstring>

namespace faultline::detail {

namespace {
// include/uapi/linux/stat.h since 6.11: the request bit, the attribute,
// and where stx_atomic_write_unit_min and _max sit in struct statx (after
// stx_subvol, which ends at byte 0xa8).
constexpr unsigned kStatxWriteAtomic = 0x00010000U;
constexpr uint64_t kStatxAttrWriteAtomic = 0x00400000ULL;
constexpr size_t kUnitMinOffset = 0xa8, kUnitMaxOffset = 0xac;
static_assert(sizeof(struct statx) >= kUnitMaxOffset + 4);
}  // namespace

AtomicWriteUnit statx_atomic_write_unit(int fd) {
  struct statx stx {};
  if (::statx(fd, "", AT_EMPTY_PATH, kStatxWriteAtomic, &stx) != 0) return {};
  if (!(stx.stx_mask & kStatxWriteAtomic) || !(stx.stx_attributes & kStatxAttrWriteAtomic)) return {};
  uint32_t min = 0, max = 0;
  std::memcpy(&min, reinterpret_cast<const char*>(&stx) + kUnitMinOffset, sizeof min);
  std::memcpy(&max, reinterpret_cast<const char*>(&stx) + kUnitMaxOffset, sizeof max);
  if (min == 0 || max < min) return {};
  return {min, max};
}

ssize_t pwrite_atomic(int fd, const void* buf, size_t len, off_t off) {
  struct iovec iov {const_cast<void*>(buf), len};
  return ::pwritev2(fd, &iov, 1, off, kRwfAtomic);
}

}  // namespace faultline::detail
