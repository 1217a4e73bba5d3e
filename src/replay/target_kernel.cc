// src/replay/target_kernel.cc — replaying ops on the running kernel: a real
// file in $TMPDIR, real system calls, real mmap.
//
// Bus errors through the mapping are caught with a SIGBUS handler that
// longjmps out of the copy (the replayer is single-threaded). Direct I/O
// uses a second descriptor opened with O_DIRECT and a page-aligned buffer;
// if the filesystem refuses O_DIRECT it falls back to buffered I/O, which
// has the same contents semantics.
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "faultline/engine.h"
#include "replay/target.h"

namespace faultline::replay {
namespace {

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
  explicit KernelTarget(const std::string& dir) {
    std::string path = dir + "/faultline-replay-XXXXXX";
    fd_ = ::mkstemp(path.data());
    if (fd_ < 0) throw std::runtime_error(fmt::format("kernel target: cannot create a file in {}: {}", dir, std::strerror(errno)));
    // Unlinked at once, so that no way of ending leaves it behind; it is
    // reopened through /proc/self/fd.
    ::unlink(path.c_str());
    anchor_ = fd_;
    fd_ = -1;
    probe_collapse(dir);
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
  void probe_collapse(const std::string& dir) {
    bool ok = ::ftruncate(anchor_, 2 * 4096) == 0 && ::fallocate(anchor_, FALLOC_FL_COLLAPSE_RANGE, 0, 4096) == 0;
    int e = errno;
    if (::ftruncate(anchor_, 0) != 0 || !ok) {
      ::close(anchor_);
      throw std::runtime_error(fmt::format(
          "kernel target: the filesystem of {} cannot collapse ranges ({}); set TMPDIR to a directory on ext4 or xfs",
          dir, std::strerror(e)));
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
      case OpKind::migrate:
      case OpKind::reclaim: return true;  // engine only
      default: return true;  // not replayed yet: refused before the replay starts
    }
    return true;
  }

  bool falloc(int mode, const Op& op) {
    return ::fallocate(fd_, mode, static_cast<off_t>(op.off), static_cast<off_t>(op.len)) == 0;
  }

  bool mapped(const Op& op, std::span<const std::byte> data, Outcome& out) {
    bool write = op.kind == OpKind::mapwrite;
    if (op.off > INT64_MAX || op.len > INT64_MAX - op.off) {  // as ftruncate to its end would say
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

std::unique_ptr<Target> make_kernel_target(const std::string& dir) { return std::make_unique<KernelTarget>(dir); }

}  // namespace faultline::replay
