// src/replay/scratch_xfs.cc — see scratch_xfs.h.
//
// One scratch filesystem at a time per process: the signal handler knows
// its paths through static buffers, the only state it may touch.
//
// The filesystem takes XFS_IOC_EXCHANGE_RANGE where the kernel can (Linux
// 6.10+). `mkfs.xfs -i exchange=1` (xfsprogs 6.10) asks for that; all it
// does is set the EXCHRANGE incompatible-feature bit in the superblock.
// Debian 12's xfsprogs (6.1) has no such option, so there the bit is set
// with xfs_db, which recomputes the superblock's CRC. A kernel that does
// not know the bit refuses to mount: then the image is made again
// without it, and exchange_range is refused by the replay's probe.
#include "replay/scratch_xfs.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <endian.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

extern char** environ;

namespace faultline::replay {
namespace {

constexpr long long kImageBytes = 1LL << 30;  // sparse: costs what XFS writes
char g_image[4096], g_mnt[4096];
bool g_live = false;

void tear_down() {
  if (!g_live) return;
  if (::umount2(g_mnt, 0) != 0) ::umount2(g_mnt, MNT_DETACH);
  ::rmdir(g_mnt);
  ::unlink(g_image);
  g_live = false;
}

void on_signal(int sig) {
  tear_down();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// Runs a program to completion; its exit status, or -1 if it did not run.
int run(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("--fs xfs: " + what); }

// XFS_SB_FEAT_INCOMPAT_EXCHRANGE, and where sb_features_incompat sits in
// the primary superblock (big-endian).
constexpr uint32_t kIncompatExchange = 1u << 6;
constexpr off_t kSbFeaturesIncompat = 0xd8;

// Sets the EXCHRANGE bit in a fresh image's superblock; false if it could not.
bool set_exchange_bit(const std::string& image) {
  int fd = ::open(image.c_str(), O_RDONLY);
  uint32_t be = 0;
  bool ok = fd >= 0 && ::pread(fd, &be, sizeof be, kSbFeaturesIncompat) == static_cast<ssize_t>(sizeof be);
  if (fd >= 0) ::close(fd);
  if (!ok) return false;
  uint32_t features = be32toh(be) | kIncompatExchange;
  return run({"xfs_db", "-x", "-c", "sb 0", "-c", fmt::format("write -d features_incompat {:#x}", features), image}) ==
         0;
}

// mkfs.xfs on `image`, with exchange-range if `exchange`; the exit status
// of mkfs (-1: not installed).
int make_fs(const std::string& image, bool exchange) {
  if (exchange && run({"mkfs.xfs", "-q", "-f", "-i", "exchange=1", image}) == 0) return 0;
  int rc = run({"mkfs.xfs", "-q", "-f", image});
  if (rc == 0 && exchange) set_exchange_bit(image);  // if not, exchange_range is refused by the probe
  return rc;
}

}  // namespace

ScratchXfs::ScratchXfs(const std::string& parent_dir) {
  if (g_live) fail("a scratch XFS is already mounted by this process");
  if (::geteuid() != 0) fail("mounting a loop device needs root");
  std::string base = fmt::format("{}/faultline-xfs-{}", parent_dir, ::getpid());
  image_ = base + ".img";
  mnt_ = base + ".mnt";
  if (image_.size() >= sizeof g_image) fail(fmt::format("the path {} is too long", image_));
  int fd = ::open(image_.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || ::ftruncate(fd, kImageBytes) != 0) {
    int e = errno;
    if (fd >= 0) ::close(fd), ::unlink(image_.c_str());
    fail(fmt::format("cannot make the image {}: {}", image_, std::strerror(e)));
  }
  ::close(fd);
  if (int rc = make_fs(image_, true); rc != 0) {
    ::unlink(image_.c_str());
    fail(rc < 0 ? "mkfs.xfs is not installed (Debian: xfsprogs)" : fmt::format("mkfs.xfs {} failed", image_));
  }
  if (::mkdir(mnt_.c_str(), 0700) != 0 && errno != EEXIST) {
    ::unlink(image_.c_str());
    fail(fmt::format("cannot make the mount point {}: {}", mnt_, std::strerror(errno)));
  }
  std::strcpy(g_image, image_.c_str());
  std::strcpy(g_mnt, mnt_.c_str());
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
  bool mounted = run({"mount", "-o", "loop", image_, mnt_}) == 0;
  if (!mounted && make_fs(image_, false) == 0) mounted = run({"mount", "-o", "loop", image_, mnt_}) == 0;
  if (!mounted) {
    ::rmdir(mnt_.c_str());
    ::unlink(image_.c_str());
    fail(fmt::format("mount -o loop {} {} failed", image_, mnt_));
  }
  g_live = true;
}

ScratchXfs::~ScratchXfs() {
  tear_down();
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, SIG_DFL);
}

}  // namespace faultline::replay
