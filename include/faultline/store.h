// faultline/store.h — the backing store under a file: the filesystem and disk.
//
// A Store owns the file's blocks. The engine calls it the way the VFS calls a
// filesystem: reads to fill folios, writes to write dirty folios back, and
// the block operations of the page killers only after the page cache has
// been dealt with. Stores must be safe to call from several threads at once
// (the engine reads folios in while it writes others back).
//
// Two stores ship, an in-memory one (tests, the checker) and a real file
// driven through pread/pwrite/fallocate/ftruncate/fsync, and a wrapper over
// either that injects faults. Errors are thrown as faultline::Error
// (Errc::io_error, carrying the errno: EIO, ENOSPC...).
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace faultline {

// The lengths a store can write whole or not at all (RWF_ATOMIC's
// torn-write protection, statx's stx_atomic_write_unit_min/max): powers of
// two in [min, max], each at an offset that is a multiple of its length.
// {0, 0}: the store has no atomic writes.
struct AtomicWriteUnit {
  uint64_t min = 0, max = 0;
  bool supported() const { return max != 0; }
};

// A file's blocks, as the engine sees them. A call that fails throws
// faultline::Error (its posix_errno() is what the op returns); the engine
// takes a std::bad_alloc from any call as Error(out_of_memory, ENOMEM), and
// either way keeps dirty data dirty and holds no lock afterwards.
class Store {
 public:
  virtual ~Store() = default;
  // Bytes of data the store holds (the on-disk file size).
  virtual uint64_t size() const = 0;
  // Fills `buf` from `off`; holes and bytes past size() read as zeros.
  virtual void read(uint64_t off, std::span<std::byte> buf) = 0;
  // Writes `buf` at `off`, growing size() if it ends past it.
  virtual void write(uint64_t off, std::span<const std::byte> buf) = 0;
  // Sets size(); growing leaves a hole, shrinking frees the blocks.
  virtual void truncate(uint64_t size) = 0;
  // Frees [off, off+len) inside size(): it reads as zeros afterwards.
  virtual void punch_hole(uint64_t off, uint64_t len) = 0;
  // Makes [off, off+len) read as zeros, growing size() if it ends past it.
  virtual void zero_range(uint64_t off, uint64_t len) = 0;
  // Removes [off, off+len) and shifts what follows down (page aligned).
  virtual void collapse_range(uint64_t off, uint64_t len) = 0;
  // Shifts [off, size()) up by len and leaves a hole (page aligned).
  virtual void insert_range(uint64_t off, uint64_t len) = 0;
  // Makes everything written durable (fsync).
  virtual void sync() = 0;
  // The reflink family's block operations. src and dst are page aligned;
  // len is too, except where [src, src+len) ends at size() (the last block
  // then goes whole: what lies past EOF in it is zeros). clone_range makes
  // [dst, dst+len) hold what [src, src+len) holds, sharing the blocks
  // where the store can, and grows size() to dst+len if that is past it.
  // exchange_range swaps the contents of two ranges inside size(). A store
  // that cannot share blocks copies them (these defaults).
  virtual void clone_range(uint64_t src, uint64_t dst, uint64_t len);
  virtual void exchange_range(uint64_t a, uint64_t b, uint64_t len);
  // Atomic writes: what the store takes (default: none), and a write of
  // one such unit that, even when it fails, leaves the range all old or
  // all new. The default throws Error(not_supported).
  virtual AtomicWriteUnit atomic_write_unit() const { return {}; }
  virtual void write_atomic(uint64_t off, std::span<const std::byte> buf);
};

// Blocks in memory, 4 KiB each, allocated on write and freed by punch,
// truncate and collapse. Every call holds one lock, so any write is atomic;
// the unit it reports is a choice (a replay gives it the kernel's).
class MemoryStore : public Store {
 public:
  // One block to a PMD-sized folio, as XFS reports on a 16 GiB filesystem.
  static constexpr AtomicWriteUnit kDefaultAtomicUnit{4096, uint64_t{2} << 20};
  explicit MemoryStore(AtomicWriteUnit atomic = kDefaultAtomicUnit);
  ~MemoryStore() override;
  uint64_t size() const override;
  void read(uint64_t off, std::span<std::byte> buf) override;
  void write(uint64_t off, std::span<const std::byte> buf) override;
  void truncate(uint64_t size) override;
  void punch_hole(uint64_t off, uint64_t len) override;
  void zero_range(uint64_t off, uint64_t len) override;
  void collapse_range(uint64_t off, uint64_t len) override;
  void insert_range(uint64_t off, uint64_t len) override;
  void sync() override;
  void clone_range(uint64_t src, uint64_t dst, uint64_t len) override;  // shares the blocks
  void exchange_range(uint64_t a, uint64_t b, uint64_t len) override;
  AtomicWriteUnit atomic_write_unit() const override;
  void write_atomic(uint64_t off, std::span<const std::byte> buf) override;

  // Blocks currently allocated (a punched or truncated range has none; a
  // cloned one shares its source's until either is written).
  uint64_t allocated_blocks() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The calls of a Store, as a FaultInjectingStore names them.
enum class StoreCall : unsigned {
  read, write, truncate, punch_hole, zero_range, collapse_range, insert_range, sync, clone_range, exchange_range,
  write_atomic,
};
inline constexpr unsigned kStoreCalls = 11;
// "read", "write", ...
const char* store_call_name(StoreCall call) noexcept;

// A fault to inject: each call of `call` fails with `err` with
// `probability`, and the next `next` calls fail whatever the probability.
// A failing write with `short_write` writes the first half of its buffer
// (rounded down to 512 bytes) before it fails, as a disk that fills up.
struct FaultRule {
  StoreCall call = StoreCall::write;
  int err = EIO;
  double probability = 0;
  unsigned next = 0;
  bool short_write = false;
};

// A store over another that fails calls as its rules say (G6 beyond what a
// healthy disk shows): EIO on reads, writes and sync, ENOSPC on the calls
// that allocate blocks (write, zero_range, insert_range), short writes. A
// call that fails leaves the inner store untouched, except for a short
// write's first half. Safe from any number of threads; the faults drawn
// follow from the seed and the order of calls.
class FaultInjectingStore : public Store {
 public:
  explicit FaultInjectingStore(std::unique_ptr<Store> inner, uint64_t seed = 1);
  ~FaultInjectingStore() override;
  // Throws Error(invalid_argument) for a probability outside [0, 1], an
  // errno outside (0, 4096), or a short write on a call that is not write.
  void add_rule(const FaultRule& rule);
  void clear_rules();
  // The store underneath: what is really on disk, without faults.
  Store& inner();
  // Faults injected so far into `call`.
  uint64_t injected(StoreCall call) const;

  uint64_t size() const override;
  void read(uint64_t off, std::span<std::byte> buf) override;
  void write(uint64_t off, std::span<const std::byte> buf) override;
  void truncate(uint64_t size) override;
  void punch_hole(uint64_t off, uint64_t len) override;
  void zero_range(uint64_t off, uint64_t len) override;
  void collapse_range(uint64_t off, uint64_t len) override;
  void insert_range(uint64_t off, uint64_t len) override;
  void sync() override;
  void clone_range(uint64_t src, uint64_t dst, uint64_t len) override;
  void exchange_range(uint64_t a, uint64_t b, uint64_t len) override;
  AtomicWriteUnit atomic_write_unit() const override;
  void write_atomic(uint64_t off, std::span<const std::byte> buf) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// How open_posix_store treats the file at the path.
enum class OpenMode {
  existing,  // it must exist; its contents are the file's
  create,    // made if missing; an existing file keeps its contents
  truncate,  // made if missing; emptied if it exists
};

// A real file through POSIX calls (clone_range through FICLONERANGE where
// the filesystem shares blocks, a copy where it does not; write_atomic
// through pwritev2(RWF_ATOMIC) on O_DIRECT, with the unit statx reports:
// none on a filesystem without atomic writes, as in the kernel). Throws Error
// naming the path and the
// system's reason: not_found (ENOENT), is_directory (EISDIR), or io_error
// carrying the errno (EACCES, ...).
std::unique_ptr<Store> open_posix_store(const std::string& path, OpenMode mode = OpenMode::existing);

}  // namespace faultline
