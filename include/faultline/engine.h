// faultline/engine.h — the page cache, files and address spaces.
//
// An Engine is one "machine": a frame pool of fixed size (the RAM), the page
// cache over any number of files, any number of address spaces, and the
// fault/kill synchronization protocol. Everything in it is safe to call from
// any number of threads at once: faults, reads and writes run concurrently
// with every page killer, with the guarantees of docs/guarantees.md (G1–G6):
//
//   - when a killer (truncate, punch_hole, zero_range, collapse_range,
//     insert_range, direct_write, write_atomic, the reflink family,
//     fadvise_dontneed, migrate, reclaim) returns, no mapping maps a page
//     it removed and no access through one is still in flight;
//   - after a punch/zero/truncate returns, every access sees the new
//     contents (zeros, or Errc::bus_error past EOF); an atomic write's
//     range is seen whole or not at all;
//   - one page per file index is cached; all mappings and read()/write()
//     see it;
//   - dirty data reaches the store on fsync/msync and before reclaim drops
//     a page; a writeback error is reported by the next fsync.
//
// Lifetimes: Files and Mms keep the machine they came from alive, so they
// may outlive the Engine object. Dropping the last handle of a File writes
// its dirty pages back (errors are reported only by fsync: call it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "faultline/error.h"
#include "faultline/store.h"

namespace faultline {

namespace detail {
class Kernel;
struct Inode;
struct OpenFile;
struct MmStruct;
}  // namespace detail

inline constexpr uint64_t kPageSize = 4096;

struct Config {
  // Frames in the pool (4 KiB each). Files may be larger: reclaim evicts.
  uint64_t frames = 1u << 16;
  // Largest folio: 2^max_folio_order pages (0..9; 4 = 64 KiB).
  unsigned max_folio_order = 4;
  // MAPGUARD[+CREATIONGUARD], see docs/protocols.md.
  std::string protocol = "page_lock+invalidate_lock";
  // Pages mapped around a read fault (filemap_map_pages); 1 disables.
  unsigned fault_around_pages = 16;
  // A fault, and fault-around, maps every page of a large folio that lies
  // inside the VMA, the page table and EOF, as Linux 6.18 does (one
  // reference and map count batch per folio); false: the faulting page
  // alone (and fault-around its window).
  bool map_whole_folio = true;
  // Truncate and hole punching split a large folio they cut through and
  // drop its pages past the cut (truncate_inode_partial_folio); false:
  // they zero the cut part and keep the folio whole, as the kernel does
  // when the split fails.
  bool split_on_truncate = true;
  // A 512-page (2 MiB) folio at a 2 MiB-aligned place wholly inside a
  // shared mapping and below EOF is mapped with one PMD-level entry
  // (do_set_pmd); the MMU's walk stops there, and whatever takes part of it
  // away splits it into PTEs first. Takes max_folio_order 9 to happen.
  bool pmd_mapping = false;
  // Faults find their VMA without mmap_lock and hold the VMA's own lock
  // (Linux 6.4, lock_vma_under_rcu), so that mmap and munmap in one thread
  // do not stall faults in another; they fall back to mmap_lock where the
  // kernel does (munmap holds the VMA, or it is gone).
  bool per_vma_lock = false;
  // Pages read ahead on a cache miss (read() and faults); 1 disables.
  unsigned readahead_pages = 32;
  // A per-thread software TLB in the MMU (Mm::load/store): a hit costs a
  // generation compare instead of a page-table walk. false: walk every time.
  bool soft_tlb = true;
  // Fill freed frames with 0x6b (the kernel's POISON_FREE) so that a use
  // after free reads garbage; under ASan also poison them.
  bool poison_freed_frames = false;
};

// Counters, cumulative since the Engine was made (relaxed reads).
struct Stats {
  uint64_t faults = 0;          // handle_mm_fault calls
  uint64_t fault_retries = 0;   // faults that lost a race and retried
  uint64_t fault_around_maps = 0;
  uint64_t pmd_maps = 0;        // PMD mappings made (Config::pmd_mapping)
  uint64_t pmd_splits = 0;      // PMD mappings split into PTEs
  uint64_t folios_created = 0;
  uint64_t folios_reclaimed = 0;
  uint64_t folios_migrated = 0;
  uint64_t writebacks = 0;
  uint64_t shootdowns = 0;      // grace periods waited by killers
  uint64_t collapses = 0;       // ranges khugepaged_collapse made one PMD-sized folio
  // Small folios a collapse found mapped again after it had locked and
  // unmapped them (the 2020 kernel's VM_BUG_ON_PAGE(page_mapped) in
  // collapse_file): only a map guard that maps without the folio lock.
  uint64_t collapse_mapped_races = 0;
  uint64_t folios_split = 0;    // large folios truncate or a hole split into pages
  // Faults whose page-cache lookup came back with a folio that does not
  // contain the faulting index (split, or freed and reused, between the
  // lookup's load and its reference), and that looked again (early 2026
  // kernels hit VM_BUG_ON_FOLIO(!folio_contains) there). Zero unless the
  // lookup is broken: it re-checks its slot after taking the reference.
  uint64_t split_lookup_races = 0;
  uint64_t free_frames = 0;
};

// What the calling thread has spent in the engine since it started: the
// faults it took and, per class of lock, how often it found the lock held
// and how long it waited for it (only a contended acquisition is timed, as
// the kernel's lock_stat does, so the uncontended path stays free). The
// classes, in order: other, folio_lock, mmap_lock, i_mmap_rwsem,
// invalidate_lock, ptl, i_rwsem, i_pages, lru_lock, writeback (waits for
// PG_writeback), zone_lock (the frame pool), reclaim (one reclaimer at a
// time), store (MemoryStore's lock), pcp (a per-CPU list of free frames).
// A benchmark reads it before and after its work, on each of its threads.
inline constexpr unsigned kLockClasses = 14;
struct ThreadStats {
  uint64_t faults = 0;
  uint64_t lock_contentions[kLockClasses] = {};
  uint64_t lock_wait_ns[kLockClasses] = {};
  // The name of lock class `i` (< kLockClasses), e.g. "folio_lock".
  static const char* lock_class_name(unsigned i) noexcept;
};
ThreadStats this_thread_stats() noexcept;
// this_thread_stats().faults alone, cheap enough to read around every
// access (a thread-local load).
uint64_t this_thread_faults() noexcept;

class File;
class Mm;

class Engine {
 public:
  // The largest file size: 2^44 bytes (16 TiB).
  static constexpr uint64_t kMaxFileSize = uint64_t{1} << 44;

  // Throws Error(invalid_argument) for a bad Config, Error(unknown_protocol)
  // for a protocol name not in the registry.
  explicit Engine(Config config = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // A file over `store`; its size is the store's size.
  File open(std::unique_ptr<Store> store);
  // A new, empty address space.
  Mm create_mm();
  // Evicts up to `nr_frames` frames of clean or dirty (written back first)
  // page-cache folios, least recently used first; returns frames freed.
  uint64_t reclaim(uint64_t nr_frames);

  Stats stats() const;
  const Config& config() const;
  std::string protocol_name() const;
  // Verifies G1/G4 structurally: every present PTE of every address space
  // maps an anonymous page or the folio cached at its file index. Returns
  // an empty string or a description of the first violation.
  std::string check_mappings() const;

  detail::Kernel& kernel() noexcept { return *kernel_; }

 private:
  std::shared_ptr<detail::Kernel> kernel_;
};

// An open file: an inode and an open file description. Copyable handle;
// copies are the same open file (as dup'ed descriptors are), reopen() gives
// another open file of the same inode.
class File {
 public:
  File() = default;
  // Another open file of this inode (open(2) of the same path): it shares
  // the data and the cache, and has its own place in the writeback error
  // sequence, so its fsync() reports a writeback error once, independently
  // of this one's (an error no opener has yet reported, it reports too).
  File reopen() const;
  uint64_t size() const;

  // Buffered I/O through the page cache, with pread/pwrite's rules.
  // read() returns the bytes read: short at EOF, 0 at or past
  // kMaxFileSize. write() returns the bytes written: all of them, or fewer
  // where the write crosses kMaxFileSize (one starting there is
  // file_too_large). Offsets are loff_t: an offset or end past INT64_MAX is
  // invalid_argument.
  size_t read(uint64_t off, std::span<std::byte> buf);
  size_t write(uint64_t off, std::span<const std::byte> buf);
  // Writes dirty pages back and syncs the store. Throws Error(io_error)
  // carrying the errno (EIO, ENOSPC...) if a writeback or store sync failed
  // since this open file's last fsync (errseq_t): once per open file, the
  // next fsync succeeds unless a new error happens. Beyond Linux, the data
  // of a failed writeback stays dirty and is written again (G6).
  void fsync();

  // The page killers, each in the kernel's order of steps, with
  // fallocate(2)'s checks: an offset or length past INT64_MAX, or a zero
  // length, is invalid_argument; an end past kMaxFileSize file_too_large.
  void truncate(uint64_t size);
  void fallocate(uint64_t off, uint64_t len, bool keep_size);
  void punch_hole(uint64_t off, uint64_t len);
  void zero_range(uint64_t off, uint64_t len, bool keep_size);
  // off and len page aligned; off + len < size() (EINVAL otherwise).
  void collapse_range(uint64_t off, uint64_t len);
  // off and len page aligned; off < size() (EINVAL otherwise).
  void insert_range(uint64_t off, uint64_t len);
  // Direct I/O: bypasses the cache, flushing and invalidating around it.
  // Offset and length must be multiples of 512 (invalid_argument), except
  // that a read at or past EOF returns 0 whatever its alignment. Returns as
  // read() and write() do.
  size_t direct_read(uint64_t off, std::span<std::byte> buf);
  size_t direct_write(uint64_t off, std::span<const std::byte> buf);
  // pwritev2(RWF_ATOMIC) on O_DIRECT: a length that is a power of two
  // within the store's atomic write unit (Store::atomic_write_unit), at an
  // offset that is a multiple of it, or invalid_argument (not cut short
  // at kMaxFileSize either); not_supported if the store has no atomic
  // writes. A page killer for its range: no access sees part of it, and
  // a failure leaves the range as it was. A zero length returns 0.
  size_t write_atomic(uint64_t off, std::span<const std::byte> buf);
  // The lengths write_atomic takes (statx's STATX_WRITE_ATOMIC): the store's.
  AtomicWriteUnit atomic_write_unit() const;
  // POSIX_FADV_DONTNEED: writes back, then drops clean unmapped folios
  // (len 0 = to EOF).
  void fadvise_dontneed(uint64_t off, uint64_t len);
  // Reads [off, off+len) into the cache (readahead(2)): at most 1 MiB or
  // Config::readahead_pages, whichever is more, per call, as Linux caps it
  // at the larger of the device's largest I/O and the readahead window.
  void readahead(uint64_t off, uint64_t len);
  // khugepaged's collapse_file (or MADV_COLLAPSE): the 2 MiB at `off`
  // (a multiple of 2 MiB, wholly below EOF), cached as clean, uptodate
  // small folios, become one PMD-sized folio that a fault can map with one
  // PMD entry (Config::pmd_mapping). Returns false, changing nothing, when
  // the range cannot be collapsed now: a hole, a dirty or locked folio, a
  // reference someone else holds, no 2 MiB of free frames. Throws
  // Error(invalid_argument) for an unaligned offset, Error(not_supported)
  // below Config::max_folio_order 9.
  bool khugepaged_collapse(uint64_t off);
  // Moves every cached folio in the range to new frames, as page migration
  // does; returns how many moved.
  uint64_t migrate(uint64_t off, uint64_t len);
  // Splits every cached large folio in the range into one-page folios, as
  // the kernel's debugfs split_huge_pages does for a file range (and as
  // reclaim and truncate split them); returns how many were split. A folio
  // someone else holds a reference to (a lookup, a read() copying from it)
  // is left whole. The file does not change.
  uint64_t split_huge_pages(uint64_t off, uint64_t len);

  // Within this file, with fsx's argument order (source offset, length,
  // destination offset) and the kernel's checks (invalid_argument for
  // overlapping ranges in one file, file_too_large past kMaxFileSize):
  //   copy_range: copy_file_range(2), through the page cache; shortened at
  //     the source's EOF; returns the bytes copied.
  //   clone_range: FICLONERANGE: block-aligned offsets, the source inside
  //     the file, a length that is block aligned or runs to EOF (0: to
  //     EOF); the destination's folios are unmapped and removed (a page
  //     killer) and the store shares the source's blocks there.
  //   dedupe_range: FIDEDUPERANGE: as clone, where the two ranges hold the
  //     same bytes; both inside the file; the length is shortened to whole
  //     blocks unless both end at EOF. Returns whether they were the same.
  //   exchange_range: XFS_IOC_EXCHANGE_RANGE: swaps two block-aligned,
  //     non-overlapping ranges inside the file; a page killer on both.
  uint64_t copy_range(uint64_t src, uint64_t len, uint64_t dst);
  void clone_range(uint64_t src, uint64_t len, uint64_t dst);
  bool dedupe_range(uint64_t src, uint64_t len, uint64_t dst);
  void exchange_range(uint64_t a, uint64_t len, uint64_t b);

  // Pages currently in the page cache.
  uint64_t cached_pages() const;

  detail::Inode* inode() const noexcept { return inode_.get(); }

 private:
  friend class Engine;
  friend class Mm;
  File(std::shared_ptr<detail::Inode> inode, std::shared_ptr<detail::OpenFile> open)
      : inode_(std::move(inode)), open_(std::move(open)) {}
  std::shared_ptr<detail::Inode> inode_;
  std::shared_ptr<detail::OpenFile> open_;
};

enum Prot : unsigned { kProtRead = 1, kProtWrite = 2 };
enum class MapType { shared, private_cow };

// An address space (mm_struct). Loads and stores walk its page table like
// an MMU and fault on a missing or read-only entry.
class Mm {
 public:
  Mm() = default;
  // Maps [offset, offset+length) of `file` (offset page aligned, length > 0)
  // at a fresh address, which it returns. Mapping past EOF is allowed;
  // accessing a page wholly past EOF is a bus error.
  uint64_t mmap(const File& file, uint64_t offset, uint64_t length, unsigned prot, MapType type);
  // Unmaps whole mappings or parts of them (addr page aligned).
  void munmap(uint64_t addr, uint64_t length);
  // Copy through the mapping, any length: one translation per page, or
  // per 2 MiB of a PMD mapping (Config::pmd_mapping), each a TLB hit once
  // the page is mapped. Throw Error(bus_error) past EOF and Error(segv)
  // outside every mapping or for a store to a read-only one; the bytes
  // before the faulting page have been transferred.
  void load(uint64_t addr, std::span<std::byte> buf);
  void store(uint64_t addr, std::span<const std::byte> buf);
  // msync(MS_SYNC): writes back the files mapped in [addr, addr+length);
  // throws the writeback error the mapped open file has not reported, as
  // File::fsync does.
  void msync(uint64_t addr, uint64_t length);

  detail::MmStruct* mm() const noexcept { return mm_.get(); }

 private:
  friend class Engine;
  explicit Mm(std::shared_ptr<detail::MmStruct> mm) : mm_(std::move(mm)) {}
  std::shared_ptr<detail::MmStruct> mm_;
};

}  // namespace faultline
