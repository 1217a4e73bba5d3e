// src/store/posix_store.cc — a store over a real file: pread, pwrite,
// ftruncate, fallocate and fsync.
//
// Owns: the file descriptor. The system calls are thread safe; the block-
// moving fallocate modes fall back to copying when the filesystem lacks
// them (tmpfs has no collapse/insert), which the engine calls only with the
// range evicted and the file's locks held. Atomic writes are the
// filesystem's own (RWF_ATOMIC through a second, O_DIRECT descriptor, made
// at open where statx reports a unit); there is no fallback, since a copy
// could tear.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "faultline/error.h"
#include "faultline/store.h"
#include "store/atomic_write.h"

namespace faultline {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  int e = errno;
  throw Error(Errc::io_error, fmt::format("{} {}: {}", what, path, std::strerror(e)), e ? e : EIO);
}

class PosixStore final : public Store {
 public:
  PosixStore(int fd, std::string path) : fd_(fd), path_(std::move(path)) { open_direct(); }
  ~PosixStore() override {
    ::close(fd_);
    if (dfd_ >= 0) ::close(dfd_);
  }

  uint64_t size() const override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) fail("fstat", path_);
    return static_cast<uint64_t>(st.st_size);
  }

  void read(uint64_t off, std::span<std::byte> buf) override {
    size_t done = 0;
    while (done < buf.size()) {
      ssize_t n = ::pread(fd_, buf.data() + done, buf.size() - done, static_cast<off_t>(off + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("pread", path_);
      if (n == 0) break;  // EOF: the rest reads as zeros
      done += static_cast<size_t>(n);
    }
    std::memset(buf.data() + done, 0, buf.size() - done);
  }

  void write(uint64_t off, std::span<const std::byte> buf) override {
    size_t done = 0;
    while (done < buf.size()) {
      ssize_t n = ::pwrite(fd_, buf.data() + done, buf.size() - done, static_cast<off_t>(off + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("pwrite", path_);
      done += static_cast<size_t>(n);
    }
  }

  void truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) fail("ftruncate", path_);
  }

  void punch_hole(uint64_t off, uint64_t len) override {
    if (try_fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len)) return;
    write_zeros(off, clip(off, len));
  }

  void zero_range(uint64_t off, uint64_t len) override {
    if (try_fallocate(FALLOC_FL_ZERO_RANGE, off, len)) return;
    uint64_t size = this->size();
    write_zeros(off, clip(off, len));
    if (off + len > size) truncate(off + len);
  }

  void collapse_range(uint64_t off, uint64_t len) override {
    if (try_fallocate(FALLOC_FL_COLLAPSE_RANGE, off, len)) return;
    uint64_t size = this->size();
    move_data(off + len, off, size - off - len);
    truncate(size - len);
  }

  void insert_range(uint64_t off, uint64_t len) override {
    if (try_fallocate(FALLOC_FL_INSERT_RANGE, off, len)) return;
    uint64_t size = this->size();
    truncate(size + len);
    move_data(off, off + len, size - off);
    write_zeros(off, len);
  }

  void sync() override {
    if (::fsync(fd_) != 0) fail("fsync", path_);
  }

  AtomicWriteUnit atomic_write_unit() const override { return atomic_; }

  // The engine checked the length and alignment against the unit; the
  // kernel checks them again. O_DIRECT wants an aligned buffer.
  void write_atomic(uint64_t off, std::span<const std::byte> buf) override {
    if (dfd_ < 0) Store::write_atomic(off, buf);  // throws not_supported
    std::unique_ptr<void, decltype(&std::free)> bounce(std::aligned_alloc(4096, (buf.size() + 4095) & ~size_t{4095}),
                                                      &std::free);
    if (!bounce) throw Error(Errc::out_of_memory, fmt::format("write_atomic: no buffer of {:#x} bytes", buf.size()));
    std::memcpy(bounce.get(), buf.data(), buf.size());
    ssize_t n;
    do n = detail::pwrite_atomic(dfd_, bounce.get(), buf.size(), static_cast<off_t>(off));
    while (n < 0 && errno == EINTR);
    if (n < 0) fail(fmt::format("pwritev2(RWF_ATOMIC, {:#x}, {:#x})", off, buf.size()), path_);
    if (static_cast<size_t>(n) != buf.size())  // RWF_ATOMIC is never short; a kernel that was is a broken promise
      throw Error(Errc::io_error, fmt::format("pwritev2(RWF_ATOMIC) {}: wrote {:#x} of {:#x} bytes", path_, n,
                                              buf.size()), EIO);
  }

  // FICLONERANGE where the filesystem shares blocks (XFS, btrfs); a copy
  // where it cannot (EOPNOTSUPP, EXDEV, or EINVAL for a range it will not
  // clone as asked).
  void clone_range(uint64_t src, uint64_t dst, uint64_t len) override {
    struct file_clone_range fcr {};
    fcr.src_fd = fd_;
    fcr.src_offset = src;
    fcr.src_length = len;
    fcr.dest_offset = dst;
    if (::ioctl(fd_, FICLONERANGE, &fcr) == 0) return;
    if (errno != EOPNOTSUPP && errno != EXDEV && errno != EINVAL && errno != ENOTTY) fail("FICLONERANGE", path_);
    Store::clone_range(src, dst, len);
  }

 private:
  uint64_t clip(uint64_t off, uint64_t len) const {
    uint64_t size = this->size();
    return off >= size ? 0 : std::min(len, size - off);
  }

  bool try_fallocate(int mode, uint64_t off, uint64_t len) {
    if (::fallocate(fd_, mode, static_cast<off_t>(off), static_cast<off_t>(len)) == 0) return true;
    if (errno == EOPNOTSUPP || errno == ENOSYS) return false;
    fail(fmt::format("fallocate(mode {:#x}, {:#x}, {:#x})", mode, off, len), path_);
  }

  void write_zeros(uint64_t off, uint64_t len) {
    std::vector<std::byte> zeros(std::min<uint64_t>(len, 1 << 20));
    for (uint64_t done = 0; done < len;) {
      uint64_t n = std::min<uint64_t>(len - done, zeros.size());
      write(off + done, {zeros.data(), n});
      done += n;
    }
  }

  // memmove within the file, in chunks, in the safe direction.
  void move_data(uint64_t from, uint64_t to, uint64_t len) {
    constexpr uint64_t chunk = 1 << 20;
    std::vector<std::byte> buf(chunk);
    for (uint64_t done = 0; done < len;) {
      uint64_t n = std::min(chunk, len - done);
      uint64_t rel = to > from ? len - done - n : done;  // moving up: back to front
      read(from + rel, {buf.data(), n});
      write(to + rel, {buf.data(), n});
      done += n;
    }
  }

  // The O_DIRECT descriptor atomic writes need, where statx offers them.
  void open_direct() {
    AtomicWriteUnit unit = detail::statx_atomic_write_unit(fd_);
    if (!unit.supported()) return;
    dfd_ = ::open(fmt::format("/proc/self/fd/{}", fd_).c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
    if (dfd_ >= 0) atomic_ = unit;
  }

  int fd_;
  int dfd_ = -1;
  std::string path_;
  AtomicWriteUnit atomic_;
};

}  // namespace

std::unique_ptr<Store> open_posix_store(const std::string& path, OpenMode mode) {
  int flags = O_RDWR | O_CLOEXEC;
  if (mode != OpenMode::existing) flags |= O_CREAT;
  if (mode == OpenMode::truncate) flags |= O_TRUNC;
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) {
    int e = errno;
    Errc code = e == ENOENT ? Errc::not_found : e == EISDIR ? Errc::is_directory : Errc::io_error;
    throw Error(code, fmt::format("open {}: {}", path, std::strerror(e)), e);
  }
  return std::make_unique<PosixStore>(fd, path);
}

}  // namespace faultline
