// tools/oom_survey.cc — where the engine does not unwind from running out
// of memory inside itself.
//
// A small workload (write, fault and store through a shared mapping,
// truncate, punch, write past EOF, reclaim, fsync, collapse, read) runs once
// per allocation it makes, in a child process; in run N the N-th
// allocation throws std::bad_alloc. Each op must end in success or an
// exception, and the child must exit: a hang (SIGALRM after 5 s) or an
// abort is an allocation point the engine does not unwind from, with a
// lock held or in a noexcept path. The store boundary is converted
// (src/store/nomem_store.h); what this finds is inside the engine.
//
//   oom_survey [FIRST LAST]   (default: every allocation of the workload)
// Prints each failing N and the count; exits 1 if any failed.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include "faultline/faultline.h"

using namespace faultline;

namespace {

long countdown = -1;  // allocations left before one fails; -1: none fails

// `fail_at`: which allocation after the setup fails (-1: none); returns
// how many the ops made.
long workload(long fail_at) {
  Config c;
  c.frames = 64;
  c.readahead_pages = 8;
  Engine e(c);
  File f = e.open(std::make_unique<MemoryStore>());
  Mm mm = e.create_mm();
  std::vector<std::byte> buf(64 * kPageSize, std::byte{7});
  countdown = fail_at < 0 ? 1L << 40 : fail_at;
  auto op = [](auto fn) {
    try {
      fn();
    } catch (const Error&) {
    } catch (const std::bad_alloc&) {
    }
  };
  op([&] { f.write(0, buf); });
  op([&] {
    uint64_t a = mm.mmap(f, 0, 64 * kPageSize, kProtRead | kProtWrite, MapType::shared);
    std::byte b[16];
    mm.load(a + 3 * kPageSize, b);
    mm.store(a + 9 * kPageSize, b);
  });
  op([&] { f.truncate(40 * kPageSize + 5); });
  op([&] { f.punch_hole(kPageSize, 3 * kPageSize); });
  op([&] { f.write(100 * kPageSize, buf); });
  op([&] { e.reclaim(64); });
  op([&] { f.fsync(); });
  op([&] { f.collapse_range(0, 4 * kPageSize); });
  op([&] {
    std::vector<std::byte> r(8 * kPageSize);
    f.read(0, r);
  });
  long used = (1L << 40) - countdown;
  countdown = -1;
  return used;
}

// How many allocations the workload makes, counted in a child: the
// engine's threads (liburcu's callback thread) must not start in the
// parent, whose forks would lack them.
long count_allocations() {
  int fds[2];
  if (pipe(fds) != 0) return 0;
  pid_t child = fork();
  if (child == 0) {
    long n = workload(-1);
    ssize_t w = write(fds[1], &n, sizeof n);
    _exit(w == sizeof n ? 0 : 1);
  }
  long n = 0;
  ssize_t r = read(fds[0], &n, sizeof n);
  waitpid(child, nullptr, 0);
  close(fds[0]);
  close(fds[1]);
  return r == sizeof n ? n : 0;
}

}  // namespace

// The replaced global allocator: malloc and free underneath, which GCC
// cannot tell from a mismatched pair.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(size_t n) {
  if (countdown == 0) {
    countdown = -1;
    throw std::bad_alloc();
  }
  if (countdown > 0) --countdown;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // a line as each run ends; nothing buffered for the children
  long first = argc > 2 ? std::atol(argv[1]) : 0, last = argc > 2 ? std::atol(argv[2]) : count_allocations();
  int failed = 0;
  for (long n = first; n < last; ++n) {
    pid_t child = fork();
    if (child == 0) {
      alarm(5);
      workload(n);
      _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
    ++failed;
    std::printf("allocation %ld: %s\n", n,
                WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? "hangs" : "aborts or crashes");
  }
  std::printf("%d of %ld allocation points do not unwind\n", failed, last - first);
  return failed ? 1 : 0;
}
