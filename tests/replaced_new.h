// tests/replaced_new.h — the global allocator of the one test binary that
// includes it (from one file): malloc and free underneath, and before each
// allocation a hook that binary defines, which may count the allocation
// or throw std::bad_alloc in its place.
#pragma once

#include <cstdlib>
#include <new>

void on_allocation();

void* operator new(size_t n) {
  on_allocation();
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
// malloc and free underneath, which GCC cannot tell from a mismatched pair.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
