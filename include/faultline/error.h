// faultline/error.h — the one exception type of the API.
//
// Every invalid argument, every resource failure and every access fault
// through a mapping is reported as faultline::Error, carrying a code and a
// message that names the bad value. Nothing in the API fails silently, and
// nothing aborts on bad input.
#pragma once

#include <stdexcept>
#include <string>

namespace faultline {

enum class Errc {
  invalid_argument,  // EINVAL: unaligned collapse/insert, bad range, bad config
  file_too_large,    // EFBIG: a size or offset + length past Engine::kMaxFileSize
  out_of_memory,     // ENOMEM: the frame pool is exhausted and nothing reclaimable
  io_error,          // EIO: the backing store failed (also reported by fsync)
  not_found,         // ENOENT: a store's file does not exist
  is_directory,      // EISDIR: a store's path names a directory
  not_supported,     // EOPNOTSUPP: the store cannot do it (write_atomic without atomic writes)
  bus_error,         // SIGBUS: access through a mapping to a page beyond EOF
  segv,              // SIGSEGV: access outside every mapping, or a store to a read-only one
  unknown_protocol,  // a protocol name that is not in the registry
};

class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& what) : std::runtime_error(what), code_(code) {}
  // An error that came from a system call: `sys_errno` is what it set.
  Error(Errc code, const std::string& what, int sys_errno)
      : std::runtime_error(what), code_(code), sys_errno_(sys_errno) {}
  Errc code() const noexcept { return code_; }
  // The errno a system call would have returned: the one the underlying
  // call set, where there was one (a PosixStore's EACCES, ENOSPC...);
  // otherwise the code's (EINVAL, EFBIG, ENOMEM, EIO, ENOENT, EISDIR, EOPNOTSUPP, and
  // EFAULT for the two access faults).
  int posix_errno() const noexcept;

 private:
  Errc code_;
  int sys_errno_ = 0;
};

// "invalid_argument", "bus_error", ...
const char* errc_name(Errc code) noexcept;

}  // namespace faultline
