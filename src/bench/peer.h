// src/bench/peer.h — what a benchmark workload runs on: the engine through
// its public API, or the kernel through real system calls.
//
// Owns: the Peer and Space interfaces and their two makers. A workload is
// written once against these; `faultline bench` runs it on every protocol
// of the engine (peer_engine.cc) and on the kernel (peer_kernel.cc), so the
// rows differ only in what is under the interface. Files are numbered in
// creation order. A Space is an address space: the engine's Mm, or for the
// kernel the process itself (a forked child in process mode).
//
// Threads: a Peer's file operations may be called from any thread; a Space
// from the threads that share it. Nothing here synchronizes beyond what the
// engine or the kernel does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "faultline/engine.h"

namespace faultline::bench {

class Space {
 public:
  virtual ~Space() = default;
  virtual uint64_t mmap(unsigned file, uint64_t length, bool write) = 0;
  virtual void munmap(uint64_t addr, uint64_t length) = 0;
  // An 8-byte access (a 1-byte one where `byte`); false on a bus error
  // (the page is past EOF: a killer truncated it).
  virtual bool load(uint64_t addr) = 0;
  virtual bool store(uint64_t addr, bool byte) = 0;
};

class Peer {
 public:
  virtual ~Peer() = default;
  virtual bool is_kernel() const = 0;
  // A file of `size` bytes: sparse, or filled with data and cached.
  virtual unsigned create_file(uint64_t size, bool fill) = 0;
  // A new address space (the engine); the kernel's is the process: one
  // object standing for "this process", whichever process calls it.
  virtual std::unique_ptr<Space> new_space() = 0;
  virtual size_t read(unsigned file, uint64_t off, std::span<std::byte> buf) = 0;
  virtual void write(unsigned file, uint64_t off, std::span<const std::byte> buf) = 0;
  virtual uint64_t size(unsigned file) = 0;
  // The killers. migrate() is page migration on the engine; the kernel has
  // no user-space call that migrates page-cache pages on one NUMA node, so
  // it drops them instead (POSIX_FADV_DONTNEED), the nearest killer.
  virtual void truncate(unsigned file, uint64_t size) = 0;
  virtual void punch_hole(unsigned file, uint64_t off, uint64_t len) = 0;
  virtual void zero_range(unsigned file, uint64_t off, uint64_t len) = 0;
  virtual void migrate(unsigned file, uint64_t off, uint64_t len) = 0;
  // The calling thread's faults and, on the engine, its lock waits
  // (faultline::this_thread_stats()); the kernel reports faults only
  // (getrusage(RUSAGE_THREAD)).
  virtual ThreadStats thread_stats() = 0;
  // Retried faults since the peer was made (the engine's Stats); 0 for the
  // kernel, which does not count them.
  virtual uint64_t fault_retries() = 0;
  // Drops every file's pages without writing them back (teardown).
  virtual void discard_files() = 0;
};

// The engine under `protocol` ("unlocked" for the ideal), with `frames`
// frames; files over MemoryStore.
// `config` is a protocol name, then any of these steps of the kernel's
// fault-path history, each after an @: `page` (one page per fault),
// `around` (fault-around of 16 pages, Linux 3.15), `folio` (whole folios
// mapped, 6.18: the default), `pmd` (2 MiB folios mapped by one PMD
// entry); and `vma` (faults under per-VMA locks, 6.4, not mmap_lock).
std::unique_ptr<Peer> make_engine_peer(const std::string& config, uint64_t frames);
// The protocol of `config` (before any @); throws Error(invalid_argument)
// for an unknown step.
std::string engine_config_protocol(const std::string& config);
// The kernel: files under `tmpdir` (unlinked at once), real mmap and
// system calls. Throws std::runtime_error naming the directory if it cannot
// create a file there.
std::unique_ptr<Peer> make_kernel_peer(const std::string& tmpdir);

}  // namespace faultline::bench
