// src/sync/racy.h — data accesses to frame memory.
//
// Owns: copy_racy() and zero_racy(), the only way engine code touches the
// bytes of a frame that may be mapped. Loads and stores through mappings
// race with each other and with read()/write() exactly as they do on real
// memory, and the engine's guarantees are about which frame is accessed, not
// about byte-level atomicity. The native backend is memcpy/memset; under
// ThreadSanitizer the accesses are relaxed atomic words, so that TSan
// reports races on the engine's own structures and not on user data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace faultline::sync {

#if defined(FAULTLINE_TSAN) && !defined(FAULTLINE_SYNC_MODEL)
inline void copy_racy(void* dst, const void* src, size_t n) noexcept {
  auto* d = static_cast<unsigned char*>(dst);
  auto* s = static_cast<const unsigned char*>(src);
  size_t i = 0;
  if (((reinterpret_cast<uintptr_t>(d) | reinterpret_cast<uintptr_t>(s)) & 7) == 0)
    for (; i + 8 <= n; i += 8)
      __atomic_store_n(reinterpret_cast<uint64_t*>(d + i),
                       __atomic_load_n(reinterpret_cast<const uint64_t*>(s + i), __ATOMIC_RELAXED),
                       __ATOMIC_RELAXED);
  for (; i < n; ++i) __atomic_store_n(d + i, __atomic_load_n(s + i, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
}
inline void zero_racy(void* dst, size_t n) noexcept {
  auto* d = static_cast<unsigned char*>(dst);
  size_t i = 0;
  if ((reinterpret_cast<uintptr_t>(d) & 7) == 0)
    for (; i + 8 <= n; i += 8) __atomic_store_n(reinterpret_cast<uint64_t*>(d + i), 0, __ATOMIC_RELAXED);
  for (; i < n; ++i) __atomic_store_n(d + i, 0, __ATOMIC_RELAXED);
}
#else
// A few bytes (an 8-byte load through a mapping is the common access) are
// two overlapping word moves: GCC expands a memcpy of unknown size inline
// with `rep movs`, whose start-up costs more than the copy.
inline void copy_racy(void* dst, const void* src, size_t n) noexcept {
  auto* d = static_cast<unsigned char*>(dst);
  auto* s = static_cast<const unsigned char*>(src);
  if (n >= 8 && n <= 16) {
    uint64_t head, tail;
    std::memcpy(&head, s, 8);
    std::memcpy(&tail, s + n - 8, 8);
    std::memcpy(d, &head, 8);
    std::memcpy(d + n - 8, &tail, 8);
  } else if (n >= 4 && n < 8) {
    uint32_t head, tail;
    std::memcpy(&head, s, 4);
    std::memcpy(&tail, s + n - 4, 4);
    std::memcpy(d, &head, 4);
    std::memcpy(d + n - 4, &tail, 4);
  } else if (n < 4) {
    for (size_t i = 0; i < n; ++i) d[i] = s[i];
  } else {
    std::memcpy(d, s, n);
  }
}
inline void zero_racy(void* dst, size_t n) noexcept { std::memset(dst, 0, n); }
#endif

}  // namespace faultline::sync
