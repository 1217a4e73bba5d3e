// src/replay/target_kernel.cc — replaying ops on the running kernel: a real
// file in $TMPDIR, real system calls, real mmap.
//
// Bus errors through the mapping are caught with a SIGBUS handler that
// longjmps out of the copy (the replayer is single-threaded). Direct I/O
// uses a second descriptor opened with O_DIRECT and a page-aligned buffer;
// if the filesystem refuses O_DIRECT it falls back to buffered I/O, which
// has the same contents semantics. write_atomic is pwritev2(RWF_ATOMIC) on
// the O_DIRECT descriptor, with the unit statx reports.
#include <fcntl.h>
#include <linux/fs.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "faultline/engine.h"
#include "replay/target.h"
#include "store/atomic_write.h"

namespace faultline::replay {
namespace {

// XFS_IOC_EXCHANGE_RANGE (Linux 6.10, include/uapi/linux/fs.h and
// xfs_fs.h): older system headers lack it.
struct XfsExchangeRange {
  int32_t file1_fd;
  uint32_t pad;
  uint64_t file1_offset, file2_offset, length, flags;
};
constexpr unsigned long kXfsIocExchangeRange = _IOW('X', 129, XfsExchangeRange);

sigjmp_buf* g_bus_jump = nullptr;

void on_sigbus(int) {
  if (g_bus_jump) siglongjmp(*g_bus_jump, 1);
  std::abort();
}

// Copies with SIGBUS turned into a false return.
bool guarded_copy(void* dst, const void* src, size_t n) {
  sigjmp_buf jump;
  struct sigaction sa {}, old {};
  sa.sa_handler = on_sigbus;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, &old);
  bool ok = true;
  if (sigsetjmp(jump, 1) == 0) {
    g_bus_jump = &jump;
    std::memcpy(dst, src, n);
  } else {
    ok = false;
  }
  g_bus_jump = nullptr;
  sigaction(SIGBUS, &old, nullptr);
  return ok;
}

struct AlignedBuf {
  explicit AlignedBuf(size_t n) : size(n), p(static_cast<std::byte*>(std::aligned_alloc(4096, (n + 4095) & ~size_t{4095}))) {}
  ~AlignedBuf() { std::free(p); }
  size_t size;
  std::byte* p;
};

class KernelTarget final : public Target {
 public:
  KernelTarget(const std::string& dir, const std::vector<Op>& ops) {
    std::string path = dir + "/faultline-replay-XXXXXX";
    fd_ = ::mkstemp(path.data());
    if (fd_ < 0) throw std::runtime_error(fmt::format("kernel target: cannot create a file in {}: {}", dir, std::strerror(errno)));
    // Unlinked at once, so that no way of ending leaves it behind; it is
    // reopened through /proc/self/fd.
    ::unlink(path.c_str());
    anchor_ = fd_;
    fd_ = -1;
    probe(dir, ops);
    reopen();
  }
  ~KernelTarget() override {
    if (fd_ >= 0) ::close(fd_);
    if (dfd_ >= 0) ::close(dfd_);
    ::close(anchor_);
  }

  const char* name() const override { return "kernel"; }

  Outcome apply(const Op& op, std::span<const std::byte> data) override {
    Outcome out;
    errno = 0;
    if (!run(op, data, out) && !out.sigbus) out.err = errno ? errno : EIO;
    if (op.close_open) reopen();
    return out;
  }

  uint64_t size() override {
    struct stat st;
    ::fstat(fd_, &st);
    return static_cast<uint64_t>(st.st_size);
  }

  std::vector<std::byte> contents(uint64_t off, uint64_t len) override {
    uint64_t size = this->size();
    std::vector<std::byte> v(std::min(len, off < size ? size - off : 0));
    ssize_t n = ::pread(fd_, v.data(), v.size(), static_cast<off_t>(off));
    v.resize(n < 0 ? 0 : static_cast<size_t>(n));
    return v;
  }

  AtomicWriteUnit atomic_write_unit() override { return detail::statx_atomic_write_unit(anchor_); }

  // SEEK_DATA/SEEK_HOLE: the extents the filesystem says hold data.
  std::vector<Range> data_ranges() override {
    std::vector<Range> r;
    off_t size = static_cast<off_t>(this->size());
    for (off_t pos = 0; pos < size;) {
      off_t data = ::lseek(fd_, pos, SEEK_DATA);
      if (data < 0) break;
      off_t hole = ::lseek(fd_, data, SEEK_HOLE);
      if (hole < 0) hole = size;
      r.push_back({static_cast<uint64_t>(data), static_cast<uint64_t>(std::min(hole, size))});
      pos = hole;
    }
    return r;
  }

 private:
  // Whether the filesystem can do `kind` at all, tried on two blocks of the
  // (still empty) file; errno says why not.
  bool can(OpKind kind) {
    if (kind == OpKind::write_atomic) {
      errno = EOPNOTSUPP;
      return atomic_write_unit().supported();
    }
    static char block[2 * 4096];
    bool ok = ::pwrite(anchor_, block, sizeof block, 0) == static_cast<ssize_t>(sizeof block);
    Outcome out;
    Op op;
    op.kind = kind;
    op.off = 0;
    op.len = 4096;
    op.dest = 4096;
    if (ok) ok = kind == OpKind::collapse_range || kind == OpKind::insert_range ? falloc_mode(kind, anchor_, op)
                                                                             : remap(op, anchor_, out);
    int e = errno;
    if (::ftruncate(anchor_, 0) != 0) ok = false;
    errno = e;
    return ok;
  }

  // Probes only what the log uses (a log with no collapse replays on
  // tmpfs); an op the filesystem lacks is an error naming it, its first
  // line, and the fix.
  void probe(const std::string& dir, const std::vector<Op>& ops) {
    for (OpKind kind : {OpKind::collapse_range, OpKind::insert_range, OpKind::clone_range, OpKind::dedupe_range,
                        OpKind::exchange_range, OpKind::write_atomic}) {
      auto first = std::find_if(ops.begin(), ops.end(), [kind](const Op& o) { return !o.skip && o.kind == kind; });
      if (first == ops.end() || can(kind)) continue;
      int e = errno;
      ::close(anchor_);
      throw std::runtime_error(fmt::format(
          "line {}: {}: the filesystem of {} cannot do it ({}); replay on XFS with --fs xfs{}", first->line,
          op_name(kind), dir, std::strerror(e),
          kind == OpKind::exchange_range ? " (exchange-range needs Linux 6.10 or later)" : ""));
    }
  }

  // New open file descriptions of the same (unlinked) file, as fsx's
  // close_open does with its path.
  void reopen() {
    if (dfd_ >= 0) ::close(dfd_);
    if (fd_ >= 0) ::close(fd_);
    std::string self = fmt::format("/proc/self/fd/{}", anchor_);
    fd_ = ::open(self.c_str(), O_RDWR);
    dfd_ = ::open(self.c_str(), O_RDWR | O_DIRECT);  // -1: buffered fallback
    if (fd_ < 0) throw std::runtime_error(fmt::format("kernel target: reopen {}: {}", self, std::strerror(errno)));
  }

  bool rw(bool write, int fd, uint64_t off, std::byte* buf, size_t len, Outcome& out) {
    ssize_t n = write ? ::pwrite(fd, buf, len, static_cast<off_t>(off)) : ::pread(fd, buf, len, static_cast<off_t>(off));
    if (n < 0) return false;
    if (write) out.written = static_cast<uint64_t>(n);
    else out.data.assign(buf, buf + n);
    return true;
  }

  bool direct(const Op& op, std::span<const std::byte> data, Outcome& out) {
    AlignedBuf buf(op.len);
    bool write = op.kind == OpKind::dwrite;
    if (write && !data.empty()) std::memcpy(buf.p, data.data(), data.size());
    if (dfd_ >= 0) return rw(write, dfd_, op.off, buf.p, op.len, out);
    // No O_DIRECT here: same contents through the cache.
    if ((op.off | op.len) & 511) {
      errno = EINVAL;
      return false;
    }
    return rw(write, fd_, op.off, buf.p, op.len, out);
  }

  bool atomic(const Op& op, std::span<const std::byte> data, Outcome& out) {
    if (dfd_ < 0) {
      errno = EOPNOTSUPP;  // RWF_ATOMIC needs O_DIRECT
      return false;
    }
    AlignedBuf buf(op.len);
    if (!data.empty()) std::memcpy(buf.p, data.data(), data.size());
    ssize_t n = detail::pwrite_atomic(dfd_, buf.p, op.len, static_cast<off_t>(op.off));
    if (n < 0) return false;
    out.written = static_cast<uint64_t>(n);
    return true;
  }

  bool run(const Op& op, std::span<const std::byte> data, Outcome& out) {
    switch (op.kind) {
      case OpKind::read: {
        std::vector<std::byte> buf(op.len);
        return rw(false, fd_, op.off, buf.data(), op.len, out);
      }
      case OpKind::write:
        return rw(true, fd_, op.off, const_cast<std::byte*>(data.data()), data.size(), out);
      case OpKind::mapread:
      case OpKind::mapwrite: return mapped(op, data, out);
      case OpKind::truncate: return ::ftruncate(fd_, static_cast<off_t>(op.len)) == 0;
      case OpKind::fallocate: return falloc(op.keep_size ? FALLOC_FL_KEEP_SIZE : 0, op);
      case OpKind::punch_hole: return falloc(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, op);
      case OpKind::zero_range: return falloc(FALLOC_FL_ZERO_RANGE | (op.keep_size ? FALLOC_FL_KEEP_SIZE : 0), op);
      case OpKind::collapse_range: return falloc(FALLOC_FL_COLLAPSE_RANGE, op);
      case OpKind::insert_range: return falloc(FALLOC_FL_INSERT_RANGE, op);
      case OpKind::fsync: return ::fsync(fd_) == 0;
      case OpKind::dread:
      case OpKind::dwrite: return direct(op, data, out);
      case OpKind::dontneed:  // returns the error number; errno is not set
        errno = ::posix_fadvise(fd_, static_cast<off_t>(op.off), static_cast<off_t>(op.len), POSIX_FADV_DONTNEED);
        return errno == 0;
      case OpKind::readahead: return ::readahead(fd_, static_cast<off64_t>(op.off), op.len) == 0;
      case OpKind::migrate:  // engine only; its range as fadvise's (the model's rule)
        errno = op.len > INT64_MAX ? EINVAL : 0;
        return errno == 0;
      case OpKind::reclaim: return true;  // engine only
      case OpKind::copy_range: return copy(op, out);
      case OpKind::clone_range:
      case OpKind::dedupe_range:
      case OpKind::exchange_range: return remap(op, fd_, out);
      case OpKind::write_atomic: return atomic(op, data, out);
    }
    return true;
  }

  bool falloc(int mode, const Op& op) {
    return ::fallocate(fd_, mode, static_cast<off_t>(op.off), static_cast<off_t>(op.len)) == 0;
  }

  static bool falloc_mode(OpKind kind, int fd, const Op& op) {
    int mode = kind == OpKind::collapse_range ? FALLOC_FL_COLLAPSE_RANGE : FALLOC_FL_INSERT_RANGE;
    return ::fallocate(fd, mode, static_cast<off_t>(op.off), static_cast<off_t>(op.len)) == 0;
  }

  // As fsx does: copy_file_range again until all is copied or nothing more
  // is (the kernel may copy less than asked, and does at the source's EOF).
  bool copy(const Op& op, Outcome& out) {
    loff_t in = static_cast<loff_t>(op.off), to = static_cast<loff_t>(op.dest);
    while (out.written < op.len) {
      ssize_t n = ::copy_file_range(fd_, &in, fd_, &to, op.len - out.written, 0);
      if (n < 0) return out.written > 0;
      if (n == 0) break;
      out.written += static_cast<uint64_t>(n);
    }
    return true;
  }

  // FICLONERANGE, FIDEDUPERANGE (its per-destination status as the errno,
  // as fsx reads it) and XFS_IOC_EXCHANGE_RANGE, all within the file.
  static bool remap(const Op& op, int fd, Outcome& out) {
    if (op.kind == OpKind::clone_range) {
      struct file_clone_range fcr {};
      fcr.src_fd = fd;
      fcr.src_offset = op.off;
      fcr.src_length = op.len;
      fcr.dest_offset = op.dest;
      return ::ioctl(fd, FICLONERANGE, &fcr) == 0;
    }
    if (op.kind == OpKind::dedupe_range) {
      alignas(file_dedupe_range) char mem[sizeof(file_dedupe_range) + sizeof(file_dedupe_range_info)] = {};
      auto* fdr = reinterpret_cast<file_dedupe_range*>(mem);
      fdr->src_offset = op.off;
      fdr->src_length = op.len;
      fdr->dest_count = 1;
      fdr->info[0].dest_fd = fd;
      fdr->info[0].dest_offset = op.dest;
      if (::ioctl(fd, FIDEDUPERANGE, fdr) != 0) return false;
      if (fdr->info[0].status < 0) {
        errno = -fdr->info[0].status;
        return false;
      }
      out.differs = fdr->info[0].status == FILE_DEDUPE_RANGE_DIFFERS;
      return true;
    }
    XfsExchangeRange x{};
    x.file1_fd = fd;
    x.file1_offset = op.off;
    x.file2_offset = op.dest;
    x.length = op.len;
    return ::ioctl(fd, kXfsIocExchangeRange, &x) == 0;
  }

  bool mapped(const Op& op, std::span<const std::byte> data, Outcome& out) {
    bool write = op.kind == OpKind::mapwrite;
    if (!map_area_valid(op)) {
      errno = EINVAL;
      return false;
    }
    if (write && op.off + op.len > size() && ::ftruncate(fd_, static_cast<off_t>(op.off + op.len)) != 0) return false;
    uint64_t start = map_start(op.off);
    size_t map_len = op.off + op.len - start;
    void* p = ::mmap(nullptr, map_len, PROT_READ | (write ? PROT_WRITE : 0), MAP_SHARED, fd_, static_cast<off_t>(start));
    if (p == MAP_FAILED) return false;
    auto* base = static_cast<std::byte*>(p);
    bool ok;
    if (write) {
      ok = guarded_copy(base + (op.off - start), data.data(), data.size());
      if (ok && ::msync(p, map_len, MS_SYNC) != 0) {
        ::munmap(p, map_len);
        return false;
      }
    } else {
      out.data.resize(op.len);
      ok = guarded_copy(out.data.data(), base + (op.off - start), op.len);
    }
    uint64_t size = this->size();
    uint64_t page_end = (op.off + op.len + 4095) & ~uint64_t{4095};
    if (ok && op.off + op.len > (size & ~uint64_t{4095}) && size < page_end && size > start) {
      out.eof_tail.resize(page_end - size);
      ok = guarded_copy(out.eof_tail.data(), base + (size - start), out.eof_tail.size());
    }
    ::munmap(p, map_len);
    out.sigbus = !ok;
    return ok;
  }

  int anchor_ = -1;  // holds the unlinked file open
  int fd_ = -1;
  int dfd_ = -1;
};

}  // namespace

std::unique_ptr<Target> make_kernel_target(const std::string& dir, const std::vector<Op>& ops) {
  return std::make_unique<KernelTarget>(dir, ops);
}

}  // namespace faultline::replay
