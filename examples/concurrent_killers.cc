// examples/concurrent_killers.cc — faultline as a library user sees it.
//
// Opens a real file, maps it into two address spaces, and reads it from
// four threads through those mappings while a fifth thread truncates it
// and punches holes in it. Every killer publishes what it did once it has
// returned; every reader checks each access it makes after that point
// against the new state, and counts what it saw. The program prints the
// counts and exits non-zero if any access after a killer returned saw the
// old state.
//
//   build/release/example_concurrent [PATH]   (default: a file in $TMPDIR)
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "faultline/faultline.h"

using namespace faultline;

namespace {

constexpr uint64_t kPages = 64;
constexpr uint64_t kSize = kPages * kPageSize;
constexpr uint64_t kHole = 16 * kPageSize;  // the hole is [kHole, 2 * kHole)

// What the killer last finished doing; readers check against it.
enum State : int { kFull = 0, kPunched = 1, kTruncated = 2 };

struct Counts {
  std::atomic<uint64_t> accesses{0}, saw_new{0}, saw_old_after_kill{0}, bus_errors{0};
};

void fill(File& f, uint8_t v) {
  std::vector<std::byte> data(kSize, std::byte{v});
  f.truncate(kSize);
  f.write(0, data);
}

void reader(Mm mm, uint64_t base, std::atomic<int>& state, std::atomic<bool>& stop, Counts& c, unsigned seed) {
  while (!stop.load()) {
    seed = seed * 1103515245u + 12345u;
    uint64_t off = kHole + (seed >> 8) % kHole;  // inside the hole / past the truncation point
    int before = state.load();
    std::byte b{};
    bool bus = false;
    try {
      mm.load(base + off, {&b, 1});
    } catch (const Error& e) {
      bus = e.code() == Errc::bus_error;
    }
    int after = state.load();
    c.accesses++;
    if (bus) c.bus_errors++;
    if (before != after || before < 0) continue;  // raced with the killer: either state is fine
    bool fresh = before == kFull ? b == std::byte{0xAB} : before == kPunched ? (!bus && b == std::byte{0}) : bus;
    (fresh ? c.saw_new : c.saw_old_after_kill)++;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = argc > 1 ? argv[1] : std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                                               "/faultline-example-" + std::to_string(::getpid());
  Engine engine;  // default: 256 MiB pool, page_lock+invalidate_lock
  File file = engine.open(open_posix_store(path, OpenMode::truncate));
  fill(file, 0xAB);

  Mm a = engine.create_mm(), b = engine.create_mm();
  uint64_t base_a = a.mmap(file, 0, kSize, kProtRead, MapType::shared);
  uint64_t base_b = b.mmap(file, 0, kSize, kProtRead, MapType::shared);

  std::atomic<int> state{kFull};
  std::atomic<bool> stop{false};
  Counts counts;
  std::vector<std::thread> readers;
  for (unsigned i = 0; i < 4; ++i)
    readers.emplace_back(reader, i % 2 ? a : b, i % 2 ? base_a : base_b, std::ref(state), std::ref(stop),
                         std::ref(counts), i + 1);

  unsigned rounds = 0;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < end) {
    state = -1;  // busy
    file.punch_hole(kHole, kHole);
    state = kPunched;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    state = -1;
    file.truncate(kHole);
    state = kTruncated;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    state = -1;
    fill(file, 0xAB);
    state = kFull;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ++rounds;
  }
  stop = true;
  for (auto& t : readers) t.join();
  file.fsync();
  ::unlink(path.c_str());

  Stats s = engine.stats();
  std::cout << "file " << path << " (" << kPages << " pages) mapped in 2 address spaces, 4 reader threads, 1 killer thread\n"
            << "killer: " << rounds << " rounds of punch_hole, truncate, refill\n"
            << "readers: " << counts.accesses.load() << " accesses, " << counts.bus_errors.load()
            << " bus errors; after a killer returned: " << counts.saw_new.load() << " saw the new state, "
            << counts.saw_old_after_kill.load() << " saw the old\n"
            << "engine: " << s.faults << " faults (" << s.fault_retries << " retried after losing a race), "
            << s.shootdowns << " shootdowns\n";
  return counts.saw_old_after_kill.load() == 0 ? 0 : 1;
}
