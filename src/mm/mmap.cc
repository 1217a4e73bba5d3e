// src/mm/mmap.cc — creating and destroying mappings (mmap, munmap).
//
// Owns: the VMA tree of an MmStruct, its RCU snapshot for lockless fault
// lookups (VmaIndex), and linking VMAs into their file's i_mmap. mmap_lock
// is held for writing across all of it; i_mmap_rwsem for writing only to
// link or unlink. munmap takes each VMA's lock exclusive and marks it
// detached first (vma_start_write: faults under the per-VMA lock are done
// and new ones go elsewhere), zaps the PTEs before it unlinks the VMA (as
// unmap_region before free_pgtables), so that a killer's rmap walk never
// misses a VMA that still has PTEs, and retires it: freed after a grace
// period, since a fault may have found it by the lockless lookup.
#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "faultline/error.h"
#include "mm/internal.h"
#include "mm/seeded_bug.h"
#include "sync/rcu.h"

namespace faultline::detail {

// get_unmapped_area: the lowest address from 4 GiB up where `span` bytes
// fit with a guard page on each side (an overrun faults), so that a range
// munmap freed is used again, with its page tables, as the kernel does.
// A file mapping of 2 MiB or more that may take PMD entries goes where its
// file offset and its address agree modulo 2 MiB (thp_get_unmapped_area),
// or no 2 MiB of the file could ever be mapped by one entry.
static uint64_t get_unmapped_area(const MmStruct* mm, uint64_t span, uint64_t offset, bool pmd_align) {
  constexpr uint64_t kMmapBase = uint64_t{1} << 32;
  auto place = [&](uint64_t a) { return pmd_align ? a + ((offset - a) & (PMD_SIZE - 1)) : a; };
  uint64_t addr = place(kMmapBase);
  for (const auto& [start, vma] : mm->vmas) {
    if (start >= addr + span + PAGE_SIZE) break;
    addr = place(std::max(addr, vma->end + PAGE_SIZE));
  }
  return addr;
}

// A VmaIndex with room for `nr` VMAs, allocated before the VMAs change
// (an mmap or munmap must not fail half done).
static std::unique_ptr<VmaIndex> vma_index_alloc(size_t nr) {
  auto idx = std::make_unique<VmaIndex>();
  idx->by_start.reserve(nr);
  return idx;
}

// Publishes `idx`, filled from mm->vmas (it has room); the old index goes
// after a grace period. Allocates nothing.
static void publish_vmas(MmStruct* mm, std::unique_ptr<VmaIndex> idx) {
  for (const auto& [start, vma] : mm->vmas) idx->by_start.push_back(vma.get());
  auto* old = const_cast<VmaIndex*>(mm->vma_index.load(sync::relaxed));  // readers see it const; ours to free
  mm->vma_index.store(idx.release(), sync::release);
  if (old) sync::call_rcu(old, [](sync::RcuHead* h) { delete static_cast<VmaIndex*>(h); });
}

// A new VMA with its entries in mm->vmas and in i_mmap allocated ahead (as
// __split_vma preallocates), so that linking it, once its place is known,
// cannot fail: an mmap or munmap out of memory has changed nothing.
class PreparedVma {
 public:
  explicit PreparedVma(std::unique_ptr<Vma> vma) : in_file_(vma_prealloc_file(vma.get())) {
    decltype(MmStruct::vmas) one;
    one.emplace(0, std::move(vma));
    in_mm_ = one.extract(one.begin());
  }
  Vma* vma() const { return in_mm_.mapped().get(); }
  // mmap_lock held for writing. Allocates nothing.
  void link(MmStruct* mm) {
    in_mm_.key() = vma()->start;
    mm->vmas.insert(std::move(in_mm_));
    vma_link_file(std::move(in_file_));
  }

 private:
  IMmapNode in_file_;
  decltype(MmStruct::vmas)::node_type in_mm_;
};

// Frees a detached VMA after a grace period. Its file references go now, in
// this thread: a fault that finds it detached touches nothing else, and the
// last reference to an inode must not be dropped on the RCU callback
// thread (its teardown waits for grace periods).
static void retire_vma(std::unique_ptr<Vma> vma) {
  Vma* v = vma.release();
  v->file.reset();
  v->vm_file.reset();
  sync::call_rcu(v, [](sync::RcuHead* h) { delete static_cast<Vma*>(h); });
}

// A VMA of [start, end) of `v`: the same file, offset, protection and kind.
static std::unique_ptr<Vma> vma_piece(const Vma& v, uint64_t start, uint64_t end) {
  auto p = std::make_unique<Vma>();
  p->mm = v.mm;
  p->start = start;
  p->end = end;
  p->pgoff = v.index_of(start);
  p->prot = v.prot;
  p->shared = v.shared;
  p->file = v.file;
  p->vm_file = v.vm_file;
  return p;
}

uint64_t do_mmap(MmStruct* mm, std::shared_ptr<Inode> file, std::shared_ptr<OpenFile> vm_file, uint64_t offset, uint64_t length, unsigned prot,
                 bool shared) {
  if (offset & (PAGE_SIZE - 1))
    throw Error(Errc::invalid_argument, fmt::format("mmap: offset {:#x} is not page aligned", offset));
  if (length == 0) throw Error(Errc::invalid_argument, "mmap: length must not be zero");
  if (prot == 0 || (prot & ~(kProtRead | kProtWrite)))
    throw Error(Errc::invalid_argument, fmt::format("mmap: prot {:#x} is not kProtRead[|kProtWrite]", prot));
  check_range("mmap", offset, length);
  uint64_t span = pages_of(length) << PAGE_SHIFT;
  auto vma = std::make_unique<Vma>();
  vma->mm = mm;
  vma->pgoff = offset >> PAGE_SHIFT;
  vma->prot = prot | kProtRead;
  vma->shared = shared;
  vma->file = std::move(file);
  vma->vm_file = std::move(vm_file);
  PreparedVma prepared(std::move(vma));
  Vma* v = prepared.vma();
  sync::WriteGuard g(mm->mmap_lock);
  auto idx = vma_index_alloc(mm->vmas.size() + 1);  // the last allocation: nothing changes before it
  v->start = get_unmapped_area(mm, span, offset, span >= PMD_SIZE && vma_pmd_mappable(v));
  v->end = v->start + span;
  prepared.link(mm);
  publish_vmas(mm, std::move(idx));
  return v->start;
}

// vma_start_write: waits for the faults in the VMA under its lock and
// turns later ones away.
static void vma_detach(Vma* vma) {
  if (FL_SEEDED(munmap_skips_vma_lock)) return;
  sync::WriteGuard g(vma->vm_lock);
  vma->detached = true;
}

// Removes [start, end) from one VMA; the pieces outside it survive as new
// VMAs, allocated (with their entries) before the VMA is touched, as
// __split_vma preallocates: out of memory, nothing has changed.
static void unmap_vma_part(MmStruct* mm, Vma* vma, uint64_t start, uint64_t end, MmuGather& tlb) {
  std::vector<PreparedVma> pieces;
  pieces.reserve(2);
  for (auto [lo, hi] : {std::pair{vma->start, start}, std::pair{end, vma->end}})
    if (lo < hi) pieces.emplace_back(vma_piece(*vma, lo, hi));
  vma_detach(vma);
  zap_vma_range(vma, start, end, true, tlb);
  vma_unlink_file(vma);
  auto node = mm->vmas.extract(vma->start);
  std::unique_ptr<Vma> whole = std::move(node.mapped());
  for (PreparedVma& p : pieces) p.link(mm);
  retire_vma(std::move(whole));
}

// Whether any VMA overlaps [start, end). mmap_lock held.
static bool any_vma_in(const MmStruct* mm, uint64_t start, uint64_t end) {
  auto it = mm->vmas.lower_bound(start);
  if (it != mm->vmas.begin() && std::prev(it)->second->end > start) return true;
  return it != mm->vmas.end() && it->second->start < end;
}

// free_pgtables: the leaf tables over [start, end) that no VMA covers any
// more go, so that the range can take a PMD mapping later. mmap_lock held
// for writing: a fault holds mmap_lock or the lock of its VMA (and stays
// inside it), and the VMAs that were here are detached; an rmap walk
// reaches a table only through a VMA over it. The MMU's lockless walks may still read one:
// it is freed after a grace period.
static void free_pgtables(MmStruct* mm, uint64_t start, uint64_t end) {
  for (uint64_t a = start & ~(PMD_SIZE - 1); a < end; a += PMD_SIZE) {
    sync::Atomic<void*>* slot = mm->pmd_slot(a);
    if (!slot || any_vma_in(mm, a, a + PMD_SIZE)) continue;
    sync::Guard<sync::SpinLock> g(mm->page_table_lock);
    void* e = slot->load(sync::relaxed);
    if (!e || pmd_huge(e)) continue;
    auto* t = static_cast<PteTable*>(e);
    slot->store(nullptr, sync::release);
    sync::call_rcu(t, [](sync::RcuHead* h) { delete static_cast<PteTable*>(h); });
  }
}

void do_munmap(MmStruct* mm, uint64_t addr, uint64_t length) {
  if (addr & (PAGE_SIZE - 1))
    throw Error(Errc::invalid_argument, fmt::format("munmap: address {:#x} is not page aligned", addr));
  if (length == 0 || length > UINT64_MAX - addr - PAGE_SIZE)
    throw Error(Errc::invalid_argument, fmt::format("munmap: bad length {:#x}", length));
  uint64_t end = addr + (pages_of(length) << PAGE_SHIFT);
  MmuGather tlb(mm->kernel);
  {
    sync::WriteGuard g(mm->mmap_lock);
    auto idx = vma_index_alloc(mm->vmas.size() + 1);  // one VMA may become two
    for (;;) {
      auto it = mm->vmas.lower_bound(addr);
      if (it != mm->vmas.begin() && std::prev(it)->second->end > addr) --it;
      if (it == mm->vmas.end() || it->second->start >= end) break;
      Vma* vma = it->second.get();
      unmap_vma_part(mm, vma, std::max(addr, vma->start), std::min(end, vma->end), tlb);
    }
    free_pgtables(mm, addr, end);
    publish_vmas(mm, std::move(idx));
  }
  tlb.finish_deferred();
}

void exit_mmap(MmStruct* mm) {
  MmuGather tlb(mm->kernel);
  sync::WriteGuard g(mm->mmap_lock);
  auto idx = vma_index_alloc(0);
  for (auto& [start, vma] : mm->vmas) {
    vma_detach(vma.get());
    zap_vma_range(vma.get(), vma->start, vma->end, true, tlb);
    vma_unlink_file(vma.get());
    retire_vma(std::move(vma));
  }
  mm->vmas.clear();
  publish_vmas(mm, std::move(idx));
  tlb.finish();
}

}  // namespace faultline::detail
