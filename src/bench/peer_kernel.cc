// src/bench/peer_kernel.cc — the kernel as a benchmark peer: real files,
// real mmap, real faults, ftruncate, fallocate and read/write.
//
// A Space is the calling process, so in process mode each forked worker
// maps on its own. A bus error (an access past EOF after a killer
// truncated the file) is a real SIGBUS: the handler jumps back to the
// access, which reports it, as the engine reports Errc::bus_error. The
// handler runs with SA_NODEFER so that sigsetjmp need not save the signal
// mask (no system call per access).
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "bench/peer.h"

namespace faultline::bench {
namespace {

thread_local sigjmp_buf tl_bus_jump;
thread_local volatile sig_atomic_t tl_bus_armed = 0;

void on_sigbus(int sig, siginfo_t*, void*) {
  if (!tl_bus_armed) {  // not one of ours: die of it as we would have
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  tl_bus_armed = 0;
  siglongjmp(tl_bus_jump, 1);
}

void install_sigbus_handler() {
  struct sigaction sa {};
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, nullptr);
}

[[noreturn]] void fail(const char* what) { throw std::runtime_error(std::string(what) + ": " + std::strerror(errno)); }

class KernelSpace final : public Space {
 public:
  explicit KernelSpace(const std::vector<int>& fds) : fds_(fds) {}
  uint64_t mmap(unsigned file, uint64_t length, bool write) override {
    void* p = ::mmap(nullptr, length, write ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fds_[file], 0);
    if (p == MAP_FAILED) fail("mmap");
    return reinterpret_cast<uint64_t>(p);
  }
  void munmap(uint64_t addr, uint64_t length) override { ::munmap(reinterpret_cast<void*>(addr), length); }
  bool load(uint64_t addr) override {
    if (sigsetjmp(tl_bus_jump, 0)) return false;
    tl_bus_armed = 1;
    (void)*reinterpret_cast<volatile uint64_t*>(addr);
    tl_bus_armed = 0;
    return true;
  }
  bool store(uint64_t addr, bool byte) override {
    if (sigsetjmp(tl_bus_jump, 0)) return false;
    tl_bus_armed = 1;
    if (byte) *reinterpret_cast<volatile uint8_t*>(addr) = 1;
    else *reinterpret_cast<volatile uint64_t*>(addr) = 1;
    tl_bus_armed = 0;
    return true;
  }

 private:
  const std::vector<int>& fds_;
};

class KernelPeer final : public Peer {
 public:
  explicit KernelPeer(std::string tmpdir) : dir_(std::move(tmpdir)) { install_sigbus_handler(); }
  ~KernelPeer() override {
    for (int fd : fds_) ::close(fd);
  }
  bool is_kernel() const override { return true; }
  unsigned create_file(uint64_t size, bool fill) override {
    std::string path = dir_ + "/faultline-bench-XXXXXX";
    int fd = ::mkstemp(path.data());
    if (fd < 0) throw std::runtime_error("cannot create a file in '" + dir_ + "': " + std::strerror(errno));
    ::unlink(path.c_str());
    fds_.push_back(fd);
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) fail("ftruncate");
    if (fill) {
      std::vector<std::byte> chunk(1 << 16, std::byte{0x5a});
      for (uint64_t off = 0; off < size; off += chunk.size())
        write(static_cast<unsigned>(fds_.size() - 1), off,
              std::span(chunk).first(std::min<uint64_t>(chunk.size(), size - off)));
    }
    return static_cast<unsigned>(fds_.size() - 1);
  }
  std::unique_ptr<Space> new_space() override { return std::make_unique<KernelSpace>(fds_); }
  size_t read(unsigned file, uint64_t off, std::span<std::byte> buf) override {
    ssize_t n = ::pread(fds_[file], buf.data(), buf.size(), static_cast<off_t>(off));
    if (n < 0) fail("pread");
    return static_cast<size_t>(n);
  }
  void write(unsigned file, uint64_t off, std::span<const std::byte> buf) override {
    if (::pwrite(fds_[file], buf.data(), buf.size(), static_cast<off_t>(off)) != static_cast<ssize_t>(buf.size()))
      fail("pwrite");
  }
  uint64_t size(unsigned file) override {
    off_t end = ::lseek(fds_[file], 0, SEEK_END);
    return end < 0 ? 0 : static_cast<uint64_t>(end);
  }
  void truncate(unsigned file, uint64_t size) override {
    if (::ftruncate(fds_[file], static_cast<off_t>(size)) != 0) fail("ftruncate");
  }
  void punch_hole(unsigned file, uint64_t off, uint64_t len) override {
    fallocate_or_fail(file, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
  }
  // A filesystem without FALLOC_FL_ZERO_RANGE (tmpfs) punches instead:
  // the page-cache side, evict and unmap, is the same.
  void zero_range(unsigned file, uint64_t off, uint64_t len) override {
    if (::fallocate(fds_[file], FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(off),
                    static_cast<off_t>(len)) == 0)
      return;
    if (errno != EOPNOTSUPP) fail("fallocate(FALLOC_FL_ZERO_RANGE)");
    punch_hole(file, off, len);
  }
  void migrate(unsigned file, uint64_t off, uint64_t len) override {
    ::posix_fadvise(fds_[file], static_cast<off_t>(off), static_cast<off_t>(len), POSIX_FADV_DONTNEED);
  }
  ThreadStats thread_stats() override {
    rusage ru{};
    getrusage(RUSAGE_THREAD, &ru);
    ThreadStats c;
    c.faults = static_cast<uint64_t>(ru.ru_minflt + ru.ru_majflt);
    return c;
  }
  uint64_t fault_retries() override { return 0; }
  void discard_files() override {
    for (unsigned i = 0; i < fds_.size(); ++i) truncate(i, 0);
  }

 private:
  void fallocate_or_fail(unsigned file, int mode, uint64_t off, uint64_t len) {
    if (::fallocate(fds_[file], mode, static_cast<off_t>(off), static_cast<off_t>(len)) != 0) fail("fallocate");
  }
  std::string dir_;
  std::vector<int> fds_;
};

}  // namespace

std::unique_ptr<Peer> make_kernel_peer(const std::string& tmpdir) { return std::make_unique<KernelPeer>(tmpdir); }

}  // namespace faultline::bench
