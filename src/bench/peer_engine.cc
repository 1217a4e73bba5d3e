// src/bench/peer_engine.cc — the engine as a benchmark peer, through the
// public API only (Engine, File, Mm): the benchmark runs the code a user
// runs, with no fast path of its own.
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

// The fault path of a PATH (make_engine_peer's): the Config switches each
// step of the kernel's history turned on.
void set_fault_path(Config& c, const std::string& path) {
  c.fault_around_pages = path == "page" ? 1 : 16;
  c.map_whole_folio = path == "folio" || path == "pmd";
  if (path == "pmd") {
    c.max_folio_order = 9;
    c.pmd_mapping = true;
    c.readahead_pages = 512;
  }
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
    set_fault_path(c, spec.size() > c.protocol.size() ? spec.substr(c.protocol.size() + 1) : "folio");
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
  auto at = config.find('@');
  if (at == std::string::npos) return config;
  std::string path = config.substr(at + 1);
  if (path != "page" && path != "around" && path != "folio" && path != "pmd")
    throw Error(Errc::invalid_argument,
                fmt::format("configuration '{}': fault path '{}' is not page, around, folio or pmd", config, path));
  return config.substr(0, at);
}

}  // namespace faultline::bench
