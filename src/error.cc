// src/error.cc — faultline::Error's code names and errno values.
#include <cerrno>

#include "faultline/error.h"

namespace faultline {

int Error::posix_errno() const noexcept {
  if (sys_errno_) return sys_errno_;
  switch (code_) {
    case Errc::invalid_argument:
    case Errc::unknown_protocol:
      return EINVAL;
    case Errc::file_too_large:
      return EFBIG;
    case Errc::out_of_memory:
      return ENOMEM;
    case Errc::io_error:
      return EIO;
    case Errc::not_found:
      return ENOENT;
    case Errc::is_directory:
      return EISDIR;
    case Errc::not_supported:
      return EOPNOTSUPP;
    case Errc::bus_error:
    case Errc::segv:
      return EFAULT;
  }
  return EINVAL;
}

const char* errc_name(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::file_too_large: return "file_too_large";
    case Errc::out_of_memory: return "out_of_memory";
    case Errc::io_error: return "io_error";
    case Errc::not_found: return "not_found";
    case Errc::is_directory: return "is_directory";
    case Errc::not_supported: return "not_supported";
    case Errc::bus_error: return "bus_error";
    case Errc::segv: return "segv";
    case Errc::unknown_protocol: return "unknown_protocol";
  }
  return "unknown";
}

}  // namespace faultline
