// src/mm/engine.cc — the public API (faultline/engine.h) over the engine.
//
// Owns: Kernel construction and folio allocation with reclaim, the Engine,
// File and Mm entry points and their argument checks, and check_mappings,
// the structural G1/G4 oracle. Entry points check arguments and name the
// bad value in the Error; the work is in the file of the kernel's name.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "faultline/engine.h"
#include "mm/internal.h"
#include "mm/seeded_bug.h"
#include "store/nomem_store.h"
#include "sync/lock_stat.h"
#include "sync/rcu.h"

namespace faultline::detail {

#ifdef FAULTLINE_SYNC_MODEL
SeededBug seeded_bug = SeededBug::none;
#endif

void check_range(const char* op, uint64_t off, uint64_t len) {
  constexpr uint64_t max = Engine::kMaxFileSize;
  if (off > max || len > max - off)
    throw Error(Errc::file_too_large,
                fmt::format("{}: offset {:#x} + length {:#x} exceeds the maximum file size {:#x}", op, off, len, max));
}

// rw_verify_area: offsets are loff_t, so a position or an end past
// LLONG_MAX is negative, and EINVAL, before any size limit applies.
void check_rw_area(const char* op, uint64_t off, uint64_t len) {
  constexpr uint64_t loff_max = INT64_MAX;
  if (off > loff_max || len > loff_max - off)
    throw Error(Errc::invalid_argument,
                fmt::format("{}: offset {:#x} + length {:#x} is past the largest loff_t", op, off, len));
}

// generic_write_checks: a write starting at or past the maximum file size
// is EFBIG; one that crosses it is cut short there.
size_t write_count(const char* op, uint64_t off, size_t len) {
  constexpr uint64_t max = Engine::kMaxFileSize;
  if (len == 0) return 0;
  if (off >= max)
    throw Error(Errc::file_too_large,
                fmt::format("{}: offset {:#x} is at or past the maximum file size {:#x}", op, off, max));
  return static_cast<size_t>(std::min<uint64_t>(len, max - off));
}

static void check_config(const Config& c) {
  if (c.frames < 16 || c.frames > (uint64_t{1} << 32))
    throw Error(Errc::invalid_argument, fmt::format("config: frames {} is outside [16, 2^32]", c.frames));
  if (c.max_folio_order > 9)
    throw Error(Errc::invalid_argument, fmt::format("config: max_folio_order {} is outside [0, 9]", c.max_folio_order));
  auto pow2 = [](unsigned v) { return v && !(v & (v - 1)); };
  if (!pow2(c.fault_around_pages) || c.fault_around_pages > kPtrsPerTable)
    throw Error(Errc::invalid_argument,
                fmt::format("config: fault_around_pages {} is not a power of two in [1, 512]", c.fault_around_pages));
  if (c.readahead_pages == 0 || c.readahead_pages > 4096)
    throw Error(Errc::invalid_argument, fmt::format("config: readahead_pages {} is outside [1, 4096]", c.readahead_pages));
}

static const Config& checked(const Config& c) {
  check_config(c);
  return c;
}

Kernel::Kernel(const Config& c)
    : config(checked(c)), pool(c.frames, c.max_folio_order, c.poison_freed_frames), protocol(make_protocol(c.protocol)) {
  lru_head.lru_next = lru_head.lru_prev = &lru_head;
  pool.set_folio_lock_kind(protocol.map->folio_lock_kind());
}

Kernel::~Kernel() { sync::rcu_barrier(); }

Folio* Kernel::alloc_folio(unsigned order, bool may_shrink, unsigned* got_order) {
  for (unsigned barren = 0;;) {
    for (unsigned o = order;; --o) {
      if (Folio* f = pool.alloc(o)) {
        *got_order = o;
        return f;
      }
      if (!may_shrink || o == 0) break;
    }
    // Direct reclaim frees a batch (1/64 of the pool, as a low-to-high
    // watermark gap would) so that the allocations after this one find
    // frames: each batch of mapped folios costs a shootdown.
    uint64_t want = std::max<uint64_t>({32, uint64_t{1} << order, pool.nr_frames() / 64});
    if (shrink_lru(want) > 0) continue;
    if (++barren > 3)
      throw Error(Errc::out_of_memory,
                  fmt::format("frame pool exhausted: {} frames, none free and none reclaimable (order {} wanted)",
                              pool.nr_frames(), order));
    // Nothing was reclaimable: the references that pin it, or the frames
    // themselves, may wait in deferred puts (call_rcu: munmap, the fault
    // path), which land after a grace period.
    sync::rcu_barrier();
  }
}

Inode::Inode(Kernel* k, std::unique_ptr<Store> s) : kernel(k), store(nomem_store(std::move(s))) {
  i_mapping.host = this;
  i_mapping.map_guard_state = k->protocol.map->new_state();
  i_mapping.creation_guard_state = k->protocol.create->new_state();
  i_size.store(store->size(), sync::relaxed);
}

// The last handle is gone and no VMA maps the file (a VMA holds a
// reference): write dirty pages back, as the kernel does before it evicts
// an inode, then empty the cache.
Inode::~Inode() {
  filemap_write_and_wait_range(this, 0, UINT64_MAX);
  // A truncate the store failed gets its last chance here, as ext4
  // finishes an orphan at the next mount: a file store would keep its old
  // size otherwise. Nobody is left to hear if it fails again.
  try {
    finish_truncate(this);
  } catch (const Error&) {
  }
  MmuGather tlb(kernel);
  truncate_inode_pages_range(&i_mapping, 0, UINT64_MAX, tlb);
}

// check_mappings for one PTE, under its PTL.
static std::string check_pte(const Kernel* k, const Vma* vma, uint64_t addr, pte_t p) {
  const Folio* f = k->pool.pfn_to_folio(pte_pfn(p));
  pgoff_t index = vma->index_of(addr);
  const Inode* inode = vma->file.get();
  if (f->test(PG_anon)) {
    if (vma->shared) return fmt::format("shared mapping at {:#x} maps an anonymous page", addr);
    // A private copy goes with the file page it copied when a truncate
    // takes that page away (even_cows).
    if (index >= pages_of(inode->size()))
      return fmt::format("G5: PTE at {:#x} maps a private copy of file page {}, past EOF (size {})", addr, index,
                         inode->size());
    return {};
  }
  if (f->mapping.load(sync::acquire) != &inode->i_mapping)
    return fmt::format("G1: PTE at {:#x} (file page {}) maps pfn {} which is no longer in the page cache", addr,
                       index, f->pfn);
  if (f->first_index() + pte_page(p) != index)
    return fmt::format("G4: PTE at {:#x} maps file page {} at file page {}", addr,
                       f->first_index() + pte_page(p), index);
  if (index >= pages_of(inode->size()))
    return fmt::format("G5: PTE at {:#x} maps file page {}, past EOF (size {})", addr, index, inode->size());
  return {};
}

// The PTE a PMD mapping stands for at `addr`, read under page_table_lock
// with `take_locks`; 0 if there is no PMD mapping there.
static pte_t pmd_as_pte(const MmStruct* mm, uint64_t addr, bool take_locks) {
  sync::Atomic<void*>* slot = mm->pmd_slot(addr);
  if (!slot) return 0;
  auto* m = const_cast<MmStruct*>(mm);
  if (take_locks) m->page_table_lock.lock();
  void* e = slot->load(sync::acquire);
  if (take_locks) m->page_table_lock.unlock();
  if (!pmd_huge(e)) return 0;
  return mk_pte(mm->kernel->pool.pfn_to_folio(pmd_pfn(e)), (addr >> PAGE_SHIFT) & (kPtrsPerTable - 1), pmd_write(e));
}

// Calls visit(vma, address, pte) for every present PTE of `mm`, each under
// its PTL with `take_locks`, until visit returns false. A PMD mapping
// counts as the 512 PTEs it stands for (and holds the counts of).
template <class Visit>
static void for_each_present_pte(const MmStruct* mm, bool take_locks, Visit visit) {
  for (const auto& [start, vma] : mm->vmas) {
    for (uint64_t a = vma->start; a < vma->end; a += PAGE_SIZE) {
      if (pte_t huge = pmd_as_pte(mm, a, take_locks)) {
        if (!visit(vma.get(), a, huge)) return;
        continue;
      }
      PteTable* t = mm->pte_table(a);
      if (!t) {
        a |= (uint64_t{kPtrsPerTable} << PAGE_SHIFT) - PAGE_SIZE;  // skip the table's range
        continue;
      }
      if (take_locks) t->ptl.lock();
      pte_t p = t->pte[pte_index(a)].load(sync::acquire);
      bool go_on = !pte_present(p) || visit(vma.get(), a, p);
      if (take_locks) t->ptl.unlock();
      if (!go_on) return;
    }
  }
}

static std::string check_mm(const MmStruct* mm, bool take_locks) {
  auto* m = const_cast<MmStruct*>(mm);
  if (take_locks) m->mmap_lock.down_read();
  std::string err;
  for_each_present_pte(mm, take_locks, [&](const Vma* vma, uint64_t a, pte_t p) {
    err = check_pte(mm->kernel, vma, a, p);
    return err.empty();
  });
  if (take_locks) m->mmap_lock.up_read();
  return err;
}

std::string check_mappings(Kernel* k, bool take_locks) {
  if (take_locks) k->mms_lock.lock();
  std::string err;
  for (const MmStruct* mm : k->mms)
    if (err.empty()) err = check_mm(mm, take_locks);
  if (take_locks) k->mms_lock.unlock();
  return err;
}

// The first byte of `data` (file offset `start`, `size` bytes) that differs
// from the file `expected` (zeros past its end); `size` if none. memcmp
// first: the checker's oracle runs this at every killer return.
static uint64_t first_difference(const std::byte* data, uint64_t size, std::span<const std::byte> expected,
                                 uint64_t start) {
  uint64_t in_file = start < expected.size() ? std::min(size, expected.size() - start) : 0;
  const std::byte* want = in_file ? expected.data() + start : expected.data();  // never past its end
  if (std::memcmp(data, want, in_file) != 0)
    return static_cast<uint64_t>(std::mismatch(data, data + in_file, want).first - data);
  auto nonzero = [](std::byte b) { return b != std::byte{0}; };
  return static_cast<uint64_t>(std::find_if(data + in_file, data + size, nonzero) - data);
}

// How many present PTEs map each folio (by its first pfn).
static std::vector<int32_t> count_ptes(Kernel* k) {
  std::vector<int32_t> n(k->pool.nr_frames());
  for (const MmStruct* mm : k->mms)
    for_each_present_pte(mm, false, [&](const Vma*, uint64_t, pte_t p) {
      if (pte_pfn(p) < n.size()) ++n[pte_pfn(p)];
      return true;
    });
  return n;
}

static bool in_page_cache(Folio* f) {
  AddressSpace* m = f->mapping.load(sync::relaxed);
  if (!m) return false;
  sync::RcuReadGuard rcu;
  return m->i_pages.load(f->first_index()) == f;
}

std::string check_refcounts(Kernel* k) {
  std::vector<int32_t> ptes = count_ptes(k);
  for (uint64_t pfn = 0; pfn < ptes.size(); ++pfn) {
    Folio* f = k->pool.pfn_to_folio(pfn);
    int32_t refs = f->refcount.load(sync::relaxed), maps = f->mapcount.load(sync::relaxed);
    if (refs == 0 && ptes[pfn] == 0) continue;  // free, or a tail frame
    int32_t want = ptes[pfn] + (in_page_cache(f) ? 1 : 0);
    if (refs != want || maps != ptes[pfn])
      return fmt::format("refcount: pfn {} holds {} references and map count {}; the page cache and {} PTEs "
                         "account for {} and {}",
                         pfn, refs, maps, ptes[pfn], want, ptes[pfn]);
  }
  return {};
}

std::string check_cache(Inode* inode, std::span<const std::byte> expected) {
  AddressSpace* m = &inode->i_mapping;
  sync::RcuReadGuard rcu;
  pgoff_t index = 0;
  while (Folio* f = m->i_pages.find(&index, UINT64_MAX >> PAGE_SHIFT)) {
    uint64_t start = f->first_index() << PAGE_SHIFT;
    uint32_t flags = f->flags.load(sync::acquire);
    index = f->first_index() + f->nr_pages();
    if (!(flags & PG_uptodate) || (flags & PG_dirty)) continue;
    if (start >= pages_of(expected.size()) << PAGE_SHIFT)
      return fmt::format("G5: file page {} is cached, wholly past EOF (size {})", start >> PAGE_SHIFT,
                         expected.size());
    if (uint64_t i = first_difference(f->address(), f->size(), expected, start); i < f->size())
      return fmt::format("G2: cached file page {} holds {:#04x} at offset {:#x}, the file holds {:#04x}",
                         (start + i) >> PAGE_SHIFT, std::to_integer<unsigned>(f->address()[i]), start + i,
                         std::to_integer<unsigned>(start + i < expected.size() ? expected[start + i] : std::byte{0}));
  }
  return {};
}

}  // namespace faultline::detail

namespace faultline {

using namespace detail;

Engine::Engine(Config config) : kernel_(std::make_shared<Kernel>(config)) {}
Engine::~Engine() = default;

File Engine::open(std::unique_ptr<Store> store) {
  if (!store) throw Error(Errc::invalid_argument, "open: the store is null");
  if (store->size() > kMaxFileSize)
    throw Error(Errc::file_too_large, fmt::format("open: store size {:#x} exceeds the maximum file size {:#x}",
                                                  store->size(), kMaxFileSize));
  auto inode = std::make_shared<Inode>(kernel_.get(), std::move(store));
  inode->kernel_ref = kernel_;
  return File(std::move(inode), std::make_shared<OpenFile>(0));
}

Mm Engine::create_mm() {
  Kernel* k = kernel_.get();
  auto deleter = [k, keep = kernel_](MmStruct* mm) {
    exit_mmap(mm);
    {
      sync::Guard<sync::Mutex> g(k->mms_lock);
      k->mms.erase(mm);
    }
    delete mm;
  };
  sync::Guard<sync::Mutex> g(k->mms_lock);
  std::shared_ptr<MmStruct> mm(new MmStruct(k, k->next_mm_id++), deleter);
  k->mms.insert(mm.get());
  return Mm(mm);
}

uint64_t Engine::reclaim(uint64_t nr_frames) { return kernel_->shrink_lru(nr_frames); }

Stats Engine::stats() const {
  const Counters& c = kernel_->stats;
  auto r = [](const sync::StatCounter& a) { return a.read(); };
  Stats s;
  s.faults = r(c.faults);
  s.fault_retries = r(c.fault_retries);
  s.fault_around_maps = r(c.fault_around_maps);
  s.pmd_maps = r(c.pmd_maps);
  s.pmd_splits = r(c.pmd_splits);
  s.folios_created = r(c.folios_created);
  s.folios_reclaimed = r(c.folios_reclaimed);
  s.folios_migrated = r(c.folios_migrated);
  s.writebacks = r(c.writebacks);
  s.shootdowns = r(c.shootdowns);
  s.collapses = r(c.collapses);
  s.collapse_mapped_races = r(c.collapse_mapped_races);
  s.folios_split = r(c.folios_split);
  s.split_lookup_races = r(c.split_lookup_races);
  s.free_frames = kernel_->pool.nr_free();
  return s;
}

static_assert(kLockClasses == sync::kLockClasses);

ThreadStats this_thread_stats() noexcept {
  ThreadStats t;
  t.faults = this_thread_faults();
  const sync::LockStat& l = sync::this_thread_lock_stat();
  for (unsigned i = 0; i < kLockClasses; ++i) {
    t.lock_contentions[i] = l.contentions[i];
    t.lock_wait_ns[i] = l.wait_ns[i];
  }
  return t;
}

const char* ThreadStats::lock_class_name(unsigned i) noexcept {
  return i < kLockClasses ? sync::lock_class_name(static_cast<sync::LockClass>(i)) : "?";
}

const Config& Engine::config() const { return kernel_->config; }
std::string Engine::protocol_name() const { return kernel_->protocol.name; }

std::string Engine::check_mappings() const { return detail::check_mappings(kernel_.get(), true); }

// ---- File --------------------------------------------------------------

static Inode* live(const std::shared_ptr<Inode>& i) {
  if (!i) throw Error(Errc::invalid_argument, "File: this handle is not open (default-constructed)");
  return i.get();
}

File File::reopen() const {
  Inode* inode = live(inode_);
  return File(inode_, std::make_shared<OpenFile>(errseq_sample(inode->i_mapping.wb_err)));
}

uint64_t File::size() const { return live(inode_)->size(); }

size_t File::read(uint64_t off, std::span<std::byte> buf) {
  check_rw_area("read", off, buf.size());
  if (off >= Engine::kMaxFileSize) return 0;  // filemap_read: nothing there, not an error
  return filemap_read(live(inode_), off, buf);
}

size_t File::write(uint64_t off, std::span<const std::byte> buf) {
  check_rw_area("write", off, buf.size());
  Inode* inode = live(inode_);
  size_t n = write_count("write", off, buf.size());
  if (n == 0) return 0;
  InodeWriteLock g(inode);
  return filemap_write(inode, off, buf.first(n));
}

void File::fsync() { vfs_fsync(live(inode_), open_.get()); }

void File::truncate(uint64_t size) {
  if (size > INT64_MAX)
    throw Error(Errc::invalid_argument, fmt::format("truncate: size {:#x} is a negative loff_t", size));
  check_range("truncate", size, 0);
  vfs_truncate(live(inode_), size);
}

void File::fallocate(uint64_t off, uint64_t len, bool keep_size) {
  vfs_fallocate(live(inode_), keep_size ? unsigned{FALLOC_FL_KEEP_SIZE} : 0u, off, len);
}
void File::punch_hole(uint64_t off, uint64_t len) {
  vfs_fallocate(live(inode_), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
}
void File::zero_range(uint64_t off, uint64_t len, bool keep_size) {
  vfs_fallocate(live(inode_), FALLOC_FL_ZERO_RANGE | (keep_size ? unsigned{FALLOC_FL_KEEP_SIZE} : 0u), off, len);
}
void File::collapse_range(uint64_t off, uint64_t len) {
  vfs_fallocate(live(inode_), FALLOC_FL_COLLAPSE_RANGE, off, len);
}
void File::insert_range(uint64_t off, uint64_t len) {
  vfs_fallocate(live(inode_), FALLOC_FL_INSERT_RANGE, off, len);
}

size_t File::direct_read(uint64_t off, std::span<std::byte> buf) {
  return detail::direct_read(live(inode_), off, buf);
}
size_t File::direct_write(uint64_t off, std::span<const std::byte> buf) {
  return detail::direct_write(live(inode_), off, buf);
}
size_t File::write_atomic(uint64_t off, std::span<const std::byte> buf) {
  return detail::write_atomic(live(inode_), off, buf);
}
AtomicWriteUnit File::atomic_write_unit() const { return live(inode_)->store->atomic_write_unit(); }

// [off, off+len) as pages, len 0 or an end past the largest offset meaning
// to the end (generic_fadvise); a negative length is EINVAL.
static std::pair<pgoff_t, pgoff_t> page_range(const char* op, uint64_t off, uint64_t len) {
  if (len > INT64_MAX)
    throw Error(Errc::invalid_argument, fmt::format("{}: length {:#x} is a negative loff_t", op, len));
  pgoff_t first = off >> PAGE_SHIFT;
  bool to_end = len == 0 || off + len < len;
  pgoff_t last = to_end ? UINT64_MAX >> PAGE_SHIFT : (off + len - 1) >> PAGE_SHIFT;
  return {first, last};
}

void File::fadvise_dontneed(uint64_t off, uint64_t len) {
  Inode* inode = live(inode_);
  auto [first, last] = page_range("fadvise_dontneed", off, len);
  filemap_write_and_wait_range(inode, first << PAGE_SHIFT, last == UINT64_MAX >> PAGE_SHIFT ? UINT64_MAX : off + len - 1);
  invalidate_mapping_pages(&inode->i_mapping, first, last);
}

// As force_page_cache_ra, at most max(io_pages, ra_pages) per call: a
// length of terabytes reads that much, not the file. io_pages is the
// device's largest I/O; faultline's store says 1 MiB, a common disk's.
void File::readahead(uint64_t off, uint64_t len) {
  constexpr pgoff_t io_pages = 256;
  Inode* inode = live(inode_);
  auto [first, last] = page_range("readahead", off, len);
  if (len == 0 || off >= inode->size()) return;
  pgoff_t max_pages = std::max<pgoff_t>(io_pages, inode->kernel->config.readahead_pages);
  page_cache_ra(inode, first, std::min<pgoff_t>(last - first + 1, max_pages));
}

bool File::khugepaged_collapse(uint64_t off) {
  Inode* inode = live(inode_);
  if (off % detail::PMD_SIZE != 0)
    throw Error(Errc::invalid_argument,
                fmt::format("khugepaged_collapse: offset {:#x} is not a multiple of 2 MiB", off));
  if (inode->kernel->config.max_folio_order < 9)
    throw Error(Errc::not_supported,
                fmt::format("khugepaged_collapse: Config::max_folio_order is {}; a PMD-sized folio takes 9",
                            inode->kernel->config.max_folio_order));
  return collapse_file(inode, off >> PAGE_SHIFT);
}

uint64_t File::migrate(uint64_t off, uint64_t len) {
  auto [first, last] = page_range("migrate", off, len);
  return migrate_mapping_range(live(inode_), first, last);
}

uint64_t File::split_huge_pages(uint64_t off, uint64_t len) {
  auto [first, last] = page_range("split_huge_pages", off, len);
  return split_mapping_range(live(inode_), first, last);
}

uint64_t File::copy_range(uint64_t src, uint64_t len, uint64_t dst) {
  return vfs_copy_file_range(live(inode_), src, len, dst);
}
void File::clone_range(uint64_t src, uint64_t len, uint64_t dst) { vfs_clone_file_range(live(inode_), src, len, dst); }
bool File::dedupe_range(uint64_t src, uint64_t len, uint64_t dst) {
  return vfs_dedupe_file_range(live(inode_), src, len, dst);
}
void File::exchange_range(uint64_t a, uint64_t len, uint64_t b) { vfs_exchange_range(live(inode_), a, len, b); }

uint64_t File::cached_pages() const { return live(inode_)->i_mapping.nrpages.load(sync::relaxed); }

// ---- Mm ----------------------------------------------------------------

static MmStruct* live(const std::shared_ptr<MmStruct>& m) {
  if (!m) throw Error(Errc::invalid_argument, "Mm: this handle has no address space (default-constructed)");
  return m.get();
}

uint64_t Mm::mmap(const File& file, uint64_t offset, uint64_t length, unsigned prot, MapType type) {
  if (!file.inode_) throw Error(Errc::invalid_argument, "mmap: the file handle is not open");
  return do_mmap(live(mm_), file.inode_, file.open_, offset, length, prot, type == MapType::shared);
}

void Mm::munmap(uint64_t addr, uint64_t length) { do_munmap(live(mm_), addr, length); }

// access_ok: a span that wraps past the top of the address space is no
// address range at all.
static void check_span(const char* op, uint64_t addr, uint64_t len) {
  if (addr + len < addr)
    throw Error(Errc::segv, fmt::format("{}: address {:#x} + length {:#x} wraps around", op, addr, len));
}

void Mm::load(uint64_t addr, std::span<std::byte> buf) {
  check_span("load", addr, buf.size());
  mm_access(live(mm_), addr, buf.data(), buf.size(), false);
}

void Mm::store(uint64_t addr, std::span<const std::byte> buf) {
  check_span("store", addr, buf.size());
  mm_access(live(mm_), addr, const_cast<std::byte*>(buf.data()), buf.size(), true);
}

void Mm::msync(uint64_t addr, uint64_t length) {
  MmStruct* mm = live(mm_);
  // Shared mappings only: private ones have nothing to sync.
  std::vector<std::pair<std::shared_ptr<Inode>, std::shared_ptr<OpenFile>>> files;
  bool any = false;
  {
    sync::ReadGuard g(mm->mmap_lock);
    for (auto& [start, vma] : mm->vmas) {
      if (vma->start >= addr + length || addr >= vma->end) continue;
      any = true;
      if (vma->shared) files.emplace_back(vma->file, vma->vm_file);
    }
  }
  if (!any) throw Error(Errc::segv, fmt::format("msync: no mapping in [{:#x}, {:#x})", addr, addr + length));
  for (auto& [inode, file] : files) vfs_fsync(inode.get(), file.get());
}

}  // namespace faultline
