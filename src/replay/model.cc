// src/replay/model.cc — fsx's model of the file, extended to faultline's ops.
#include "replay/model.h"

#include <cerrno>
#include <cstring>

namespace faultline::replay {

std::vector<std::byte> op_data(const Op& op) {
  std::vector<std::byte> v(op.len);
  for (uint64_t i = 0; i < op.len; ++i) {
    uint64_t pos = op.off + i;
    uint8_t b = static_cast<uint8_t>(op.line % 251 + 1);
    if (pos & 1) b = static_cast<uint8_t>(b + ((pos * 2654435761u) >> 24));
    v[i] = std::byte{b};
  }
  return v;
}

bool writes_data(OpKind k) { return k == OpKind::write || k == OpKind::mapwrite || k == OpKind::dwrite; }

bool skipped_at_replay(const Op& op, uint64_t size) {
  if (op.skip) return true;
  if (op.kind == OpKind::mapread) return op.len == 0 || op.off + op.len > size;
  return op.kind == OpKind::mapwrite && op.len == 0;
}

void Model::zero(uint64_t off, uint64_t end) {
  if (off < end && off < bytes_.size()) std::memset(bytes_.data() + off, 0, std::min<uint64_t>(end, bytes_.size()) - off);
}

void Model::put(uint64_t off, std::span<const std::byte> data) {
  if (off + data.size() > bytes_.size()) resize(off + data.size());
  std::memcpy(bytes_.data() + off, data.data(), data.size());
}

std::vector<std::byte> Model::get(uint64_t off, uint64_t len) const {
  if (off >= bytes_.size()) return {};
  uint64_t n = std::min<uint64_t>(len, bytes_.size() - off);
  return {bytes_.begin() + off, bytes_.begin() + off + n};
}

// Through a mapping, the part of the EOF page past EOF reads as zeros.
std::vector<std::byte> Model::eof_tail(const Op& op) const {
  uint64_t size = bytes_.size();
  uint64_t start = map_start(op.off);
  uint64_t page_end = (op.off + op.len + kPageSize - 1) & ~(kPageSize - 1);
  if (op.off + op.len > (size & ~(kPageSize - 1)) && size < page_end && size > start)
    return std::vector<std::byte>(page_end - size);
  return {};
}

int Model::check(const Op& op) const {
  constexpr uint64_t max = Engine::kMaxFileSize;
  bool aligned = ((op.off | op.len) & (kPageSize - 1)) == 0;
  switch (op.kind) {
    case OpKind::fallocate:
    case OpKind::punch_hole:
    case OpKind::zero_range:
      return op.len == 0 ? EINVAL : op.off + op.len > max ? EFBIG : 0;
    case OpKind::collapse_range:
      return op.len == 0 || !aligned || op.off + op.len >= size() ? EINVAL : 0;
    case OpKind::insert_range:
      return op.len == 0 || !aligned || op.off >= size() ? EINVAL : size() + op.len > max ? EFBIG : 0;
    case OpKind::dread:
    case OpKind::dwrite:
      return ((op.off | op.len) & 511) ? EINVAL : 0;
    case OpKind::truncate:
      return op.len > max ? EFBIG : 0;
    default:
      return 0;
  }
}

Outcome Model::apply(const Op& op, std::span<const std::byte> data) {
  Outcome out;
  if ((out.err = check(op))) return out;
  uint64_t end = op.off + op.len;
  switch (op.kind) {
    case OpKind::read:
    case OpKind::dread: out.data = get(op.off, op.len); break;
    case OpKind::mapread:
      out.data = get(op.off, op.len);
      out.eof_tail = eof_tail(op);
      break;
    case OpKind::write:
    case OpKind::dwrite: put(op.off, data); break;
    case OpKind::mapwrite:
      put(op.off, data);
      out.eof_tail = eof_tail(op);
      break;
    case OpKind::truncate: resize(op.len); break;
    case OpKind::fallocate:
      if (!op.keep_size && end > size()) resize(end);
      break;
    case OpKind::punch_hole: zero(op.off, end); break;
    case OpKind::zero_range:
      zero(op.off, end);
      if (!op.keep_size && end > size()) resize(end);
      break;
    case OpKind::collapse_range:
      bytes_.erase(bytes_.begin() + op.off, bytes_.begin() + end);
      break;
    case OpKind::insert_range:
      bytes_.insert(bytes_.begin() + op.off, op.len, std::byte{0});
      break;
    default: break;  // fsync, dontneed, readahead, migrate, reclaim: contents unchanged
  }
  return out;
}

namespace {
class ModelTarget final : public Target {
 public:
  const char* name() const override { return "model"; }
  Outcome apply(const Op& op, std::span<const std::byte> data) override { return m_.apply(op, data); }
  uint64_t size() override { return m_.size(); }
  std::vector<std::byte> contents() override { return m_.contents(); }

 private:
  Model m_;
};
}  // namespace

std::unique_ptr<Target> make_model_target() { return std::make_unique<ModelTarget>(); }

}  // namespace faultline::replay
