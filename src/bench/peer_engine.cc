// src/bench/peer_engine.cc — the engine as a benchmark peer, through the
// public API only (Engine, File, Mm): the benchmark runs the code a user
// runs, with no fast path of its own.
#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "bench/peer.h"
#include "faultline/faultline.h"

namespace faultline::bench {
namespace {

class EngineSpace final : public Space {
 public:
  EngineSpace(Engine& e, const std::vector<File>& files) : mm_(e.create_mm()), files_(files) {}
  uint64_t mmap(unsigned file, uint64_t length, bool write) override {
    return mm_.mmap(files_[file], 0, length, write ? kProtRead | kProtWrite : kProtRead, MapType::shared);
  }
  void munmap(uint64_t addr, uint64_t length) override { mm_.munmap(addr, length); }
  bool load(uint64_t addr) override {
    std::byte b[8];
    try {
      mm_.load(addr, b);
      return true;
    } catch (const Error& e) {
      if (e.code() != Errc::bus_error) throw;
      return false;
    }
  }
  bool store(uint64_t addr, bool byte) override {
    const std::byte b[8] = {std::byte{1}};
    try {
      mm_.store(addr, std::span(b, byte ? 1 : 8));
      return true;
    } catch (const Error& e) {
      if (e.code() != Errc::bus_error) throw;
      return false;
    }
  }

 private:
  Mm mm_;
  const std::vector<File>& files_;
};

// The Config switches a @STEP (make_engine_peer's) turns on or off.
void set_step(Config& c, const std::string& step) {
  if (step == "vma") {
    c.per_vma_lock = true;
    return;
  }
  c.fault_around_pages = step == "page" ? 1 : 16;
  c.map_whole_folio = step == "folio" || step == "pmd";
  if (step == "pmd") {
    c.max_folio_order = 9;
    c.pmd_mapping = true;
    c.readahead_pages = 512;
  }
}

const char* const kSteps[] = {"page", "around", "folio", "pmd", "vma"};

// The @STEPs of a configuration, in order.
std::vector<std::string> steps_of(const std::string& config) {
  std::vector<std::string> v;
  for (auto at = config.find('@'); at != std::string::npos;) {
    auto next = config.find('@', at + 1);
    v.push_back(config.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1));
    at = next;
  }
  return v;
}

class EnginePeer final : public Peer {
 public:
  EnginePeer(const std::string& protocol, uint64_t frames) : engine_(config(protocol, frames)) {}
  bool is_kernel() const override { return false; }
  unsigned create_file(uint64_t size, bool fill) override {
    File f = engine_.open(std::make_unique<MemoryStore>());
    if (fill) {  // in 2 MiB writes, so that folios as large as the Config allows form
      std::vector<std::byte> chunk(2 << 20, std::byte{0x5a});
      for (uint64_t off = 0; off < size; off += chunk.size())
        f.write(off, std::span(chunk).first(std::min<uint64_t>(chunk.size(), size - off)));
    } else {
      f.truncate(size);
    }
    files_.push_back(f);
    return static_cast<unsigned>(files_.size() - 1);
  }
  std::unique_ptr<Space> new_space() override { return std::make_unique<EngineSpace>(engine_, files_); }
  size_t read(unsigned file, uint64_t off, std::span<std::byte> buf) override { return files_[file].read(off, buf); }
  void write(unsigned file, uint64_t off, std::span<const std::byte> buf) override { files_[file].write(off, buf); }
  uint64_t size(unsigned file) override { return files_[file].size(); }
  void truncate(unsigned file, uint64_t size) override { files_[file].truncate(size); }
  void punch_hole(unsigned file, uint64_t off, uint64_t len) override { files_[file].punch_hole(off, len); }
  void zero_range(unsigned file, uint64_t off, uint64_t len) override { files_[file].zero_range(off, len, true); }
  void migrate(unsigned file, uint64_t off, uint64_t len) override { files_[file].migrate(off, len); }
  ThreadStats thread_stats() override { return this_thread_stats(); }
  uint64_t fault_retries() override { return engine_.stats().fault_retries; }
  void discard_files() override {
    for (File& f : files_) f.truncate(0);
  }

 private:
  static Config config(const std::string& spec, uint64_t frames) {
    Config c;
    c.protocol = engine_config_protocol(spec);
    c.frames = frames;
    for (const auto& step : steps_of(spec)) set_step(c, step);
    return c;
  }
  Engine engine_;
  std::vector<File> files_;
};

}  // namespace

std::unique_ptr<Peer> make_engine_peer(const std::string& config, uint64_t frames) {
  return std::make_unique<EnginePeer>(config, frames);
}

std::string engine_config_protocol(const std::string& config) {
  for (const auto& step : steps_of(config))
    if (std::find(std::begin(kSteps), std::end(kSteps), step) == std::end(kSteps))
      throw Error(Errc::invalid_argument,
                  fmt::format("configuration '{}': '@{}' is not @page, @around, @folio, @pmd or @vma", config, step));
  return config.substr(0, config.find('@'));
}

}  // namespace faultline::bench
