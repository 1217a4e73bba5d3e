// src/replay/scratch_xfs.h — a loop-mounted XFS for the kernel side of a
// replay (faultline replay --fs xfs, the XFS tests).
//
// ext4 and tmpfs lack the reflink family; XFS has it. A ScratchXfs makes a
// sparse image file in a directory, runs mkfs.xfs on it (with
// exchange-range where the kernel has it: see scratch_xfs.cc), mounts it with
// `mount -o loop` on a fresh directory, and on destruction unmounts it and
// removes both. A SIGINT, SIGTERM or SIGHUP meanwhile does the same before
// the process dies of it, so an interrupted replay leaves nothing mounted.
// Needs root and xfsprogs.
#pragma once

#include <string>

namespace faultline::replay {

class ScratchXfs {
 public:
  // Throws std::runtime_error saying what failed (not root, no mkfs.xfs,
  // the mount refused).
  explicit ScratchXfs(const std::string& parent_dir);
  ~ScratchXfs();
  ScratchXfs(const ScratchXfs&) = delete;
  ScratchXfs& operator=(const ScratchXfs&) = delete;

  // The mounted filesystem's root.
  const std::string& dir() const { return mnt_; }

 private:
  std::string image_, mnt_;
};

}  // namespace faultline::replay
