// src/protocol/invalidate_lock.cc — creation guards `invalidate_lock` and
// `none`.
//
// Source: Linux 5.15, "mm: Protect operations adding pages to page cache
// with invalidate_lock" (Jan Kara), after the ext4 hole-punch race of 2016
// and the readahead race of 2019.
// Rules:
//   creator (fault, read(), readahead, write()): hold invalidate_lock
//           shared while creating a folio and reading it in.
//   killer: hold it exclusive from the eviction of the range until the
//           store has freed (or moved) the blocks.
// Without it (`none`, Linux up to 5.14) a fault between eviction and block
// freeing reads the old blocks into a new folio, which then outlives the
// punch (G2).
#include "mm/fs.h"
#include "protocol/protocol.h"

namespace faultline::detail {
namespace {

class InvalidateLockGuard final : public CreationGuard {
 public:
  std::string_view name() const override { return "invalidate_lock"; }
  void create_begin(AddressSpace& m) override { m.invalidate_lock.down_read(); }
  void create_end(AddressSpace& m) override { m.invalidate_lock.up_read(); }
  void evict_begin(AddressSpace& m) override { m.invalidate_lock.down_write(); }
  void evict_end(AddressSpace& m) override { m.invalidate_lock.up_write(); }
};

class NoCreationGuard final : public CreationGuard {
 public:
  std::string_view name() const override { return "none"; }
  void create_begin(AddressSpace&) override {}
  void create_end(AddressSpace&) override {}
  void evict_begin(AddressSpace&) override {}
  void evict_end(AddressSpace&) override {}
};

}  // namespace

FAULTLINE_CREATION_GUARD(invalidate_lock, std::make_unique<InvalidateLockGuard>())
FAULTLINE_CREATION_GUARD(none, std::make_unique<NoCreationGuard>())

}  // namespace faultline::detail
