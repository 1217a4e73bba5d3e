// src/mm/mm_types.h — struct mm_struct, struct vm_area_struct, page tables.
//
// Owns: an address space's mappings and its software page table: four
// levels of 512 entries over 48-bit addresses, as x86-64. Upper levels are
// published with release stores and never freed before the MmStruct; a
// leaf table that munmap leaves with no VMA over its 2 MiB is freed after a
// grace period (free_pgtables), so that a PMD mapping can go there later.
// Each leaf table has its own page-table lock (split PTL).
//
// Locks:
//   mmap_lock        the VMA tree (writers: mmap/munmap; readers: faults,
//                    which hold it across their sleeps: a fault's leaf
//                    table stays put until it returns)
//   page_table_lock  allocation of page-table pages, and every change of a
//                    PMD slot (a table put in or taken out, a PMD mapping
//                    made, write-protected, split or zapped)
//   PteTable::ptl    the 512 PTEs of that table and the map counts they hold
// A PTE holds one folio reference and one map count. The MMU (Mm::load and
// Mm::store) walks the table with no lock, inside an RCU read-side section:
// a killer that cleared a PTE waits for a grace period (the shootdown)
// before dropping the reference, so no access through the old PTE is still
// running when the frame is freed. The MMU caches translations in a per-CPU
// TLB tagged with tlb_gen: whoever takes a translation away or
// write-protects it bumps tlb_gen (flush_tlb_mm) before the grace period.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "mm/folio.h"
#include "sync/atomic.h"
#include "sync/rcu.h"
#include "sync/rwsem.h"
#include "sync/spinlock.h"

namespace faultline::detail {

class Kernel;
struct Inode;
struct MmStruct;

// PTE layout: bit 0 present, bit 1 writable, bit 2 migration entry (not
// present; faults wait for the migration to end); bits 12..43 the pfn of
// the folio's first frame, bits 44..53 the page within the folio.
using pte_t = uint64_t;
inline constexpr pte_t PTE_PRESENT = 1;
inline constexpr pte_t PTE_WRITE = 2;
inline constexpr pte_t PTE_MIGRATION = 4;
inline pte_t mk_pte(const Folio* f, uint64_t page, bool write) {
  return (uint64_t{f->pfn} << 12) | (page << 44) | PTE_PRESENT | (write ? PTE_WRITE : 0);
}
inline pte_t mk_migration_pte(const Folio* f, uint64_t page) {
  return (uint64_t{f->pfn} << 12) | (page << 44) | PTE_MIGRATION;
}
inline uint64_t pte_pfn(pte_t p) { return (p >> 12) & 0xffffffffu; }
inline uint64_t pte_page(pte_t p) { return (p >> 44) & 0x3ffu; }
inline bool pte_present(pte_t p) { return p & PTE_PRESENT; }
inline bool pte_write(pte_t p) { return p & PTE_WRITE; }
inline bool pte_migration(pte_t p) { return p & PTE_MIGRATION; }

inline constexpr unsigned kPtrsPerTable = 512;
inline constexpr unsigned PMD_ORDER = 9;  // a PMD maps 2^9 pages: 2 MiB
inline constexpr uint64_t PMD_SIZE = uint64_t{kPtrsPerTable} << PAGE_SHIFT;

// Freed after a grace period through its own rcu_head (no allocation).
struct PteTable : sync::RcuHead {
  sync::Atomic<pte_t> pte[kPtrsPerTable];
  sync::SpinLock ptl{sync::LockClass::ptl};
};

// A PMD slot holds a PteTable*, or a PMD mapping (Config::pmd_mapping): a
// PMD-sized folio mapped by the one entry, as do_set_pmd makes it. Tagged
// in bit 0 (tables are aligned): bits 12.. the folio's pfn, bit 1
// writable. It holds what its 512 PTEs would: 512 references and map
// counts, so that a split (__split_huge_pmd) only rewrites the entries.
inline constexpr uintptr_t PMD_HUGE = 1, PMD_WRITE = 2;
inline bool pmd_huge(const void* e) { return reinterpret_cast<uintptr_t>(e) & PMD_HUGE; }
inline bool pmd_write(const void* e) { return reinterpret_cast<uintptr_t>(e) & PMD_WRITE; }
inline uint64_t pmd_pfn(const void* e) { return reinterpret_cast<uintptr_t>(e) >> PAGE_SHIFT; }
inline void* mk_pmd(const Folio* f, bool write) {
  return reinterpret_cast<void*>((uintptr_t{f->pfn} << PAGE_SHIFT) | PMD_HUGE | (write ? PMD_WRITE : 0));
}

struct PtDir {
  sync::Atomic<void*> entry[kPtrsPerTable];
};

// A VMA never changes once an mm's lookups can see it: munmap makes new
// VMAs of the pieces that survive and retires the old one, freed after a
// grace period (a fault may have found it by the RCU lookup).
// Its rcu_head frees it after a grace period without allocating.
struct Vma : sync::RcuHead {
  MmStruct* mm = nullptr;
  uint64_t start = 0, end = 0;  // [start, end), page aligned
  pgoff_t pgoff = 0;            // file page mapped at start
  unsigned prot = 0;            // faultline::Prot bits
  bool shared = false;
  std::shared_ptr<Inode> file;
  std::shared_ptr<OpenFile> vm_file;  // whose writeback errors msync reports
  // The per-VMA lock (Config::per_vma_lock, Linux 6.4): a fault holds it
  // shared instead of mmap_lock; munmap takes it exclusive, under
  // mmap_lock, to wait for the faults in the VMA and mark it detached, after
  // which a fault that finds it retries under mmap_lock. Counted as
  // mmap_lock in the lock statistics.
  sync::RwSem vm_lock{sync::LockClass::mmap_lock};
  bool detached = false;  // vm_lock

  uint64_t addr_of(pgoff_t index) const { return start + ((index - pgoff) << PAGE_SHIFT); }
  pgoff_t index_of(uint64_t addr) const { return pgoff + ((addr - start) >> PAGE_SHIFT); }
  pgoff_t last_index() const { return pgoff + ((end - start) >> PAGE_SHIFT) - 1; }
};

// The VMAs by start address, as a snapshot a fault searches under RCU
// (lock_vma_under_rcu; the kernel's maple tree). Replaced whole by every
// mmap and munmap (with mmap_lock held for writing); the old one is freed
// after a grace period.
struct VmaIndex : sync::RcuHead {
  std::vector<Vma*> by_start;
  Vma* find(uint64_t addr) const;  // the VMA containing addr, or nullptr
};

struct MmStruct {
  MmStruct(Kernel* k, uint64_t id);
  ~MmStruct();
  Kernel* kernel;
  uint64_t id;  // creation order in this Kernel
  sync::RwSem mmap_lock{sync::LockClass::mmap_lock};
  std::map<uint64_t, std::unique_ptr<Vma>> vmas;  // by start; mmap_lock
  sync::Atomic<const VmaIndex*> vma_index{nullptr};  // published under mmap_lock (write)
  PtDir pgd;
  sync::SpinLock page_table_lock;
  // The TLB generation: starts at a value no other MmStruct used, so a TLB
  // entry of a dead mm never matches one made later at its address.
  sync::Atomic<uint64_t> tlb_gen;

  // The PMD slot covering `addr`: the lockless walk (nullptr if the upper
  // levels are absent) and the allocating one.
  sync::Atomic<void*>* pmd_slot(uint64_t addr) const;
  sync::Atomic<void*>* pmd_alloc(uint64_t addr);
  // The leaf table covering `addr`: the lockless walk (nullptr if absent,
  // or a PMD mapping) and the allocating one (nullptr if a PMD mapping is
  // there).
  PteTable* pte_table(uint64_t addr) const;
  PteTable* pte_alloc(uint64_t addr);
  Vma* find_vma(uint64_t addr) const;  // mmap_lock held
};

inline unsigned pte_index(uint64_t addr) { return (addr >> PAGE_SHIFT) & (kPtrsPerTable - 1); }

}  // namespace faultline::detail
