// src/protocol/protocol.cc — the registry of protocol names.
//
// A protocol is named MAPGUARD or MAPGUARD+CREATIONGUARD. A map guard alone
// has no creation guard (Linux up to 5.14); a creation guard alone pairs
// with the default map guard, page_lock ("invalidate_lock" is today's
// Linux). New guards add one line to a table below.
#include <fmt/format.h>

#include <functional>
#include <utility>

#include "faultline/error.h"
#include "mm/folio.h"
#include "protocol/protocol.h"

namespace faultline::detail {
namespace {

using MapFactory = std::unique_ptr<MapGuard> (*)();
using CreateFactory = std::unique_ptr<CreationGuard> (*)();

const std::pair<const char*, MapFactory> kMapGuards[] = {
    {"page_lock", make_page_lock_guard},
    {"page_lock_fair", make_page_lock_fair_guard},
    {"page_lock_unfair", make_page_lock_unfair_guard},
    {"i_mmap_rwsem", make_i_mmap_rwsem_guard},
    {"i_mmap_rwsem_as_posted", make_i_mmap_rwsem_as_posted_guard},
    {"private_lock", make_private_lock_guard},
    {"no_new_maps", make_no_new_maps_guard},
    {"no_new_maps_as_posted", make_no_new_maps_as_posted_guard},
    {"map_pages_lockless", make_map_pages_lockless_guard},
    {"unlocked", make_unlocked_guard},
};
const std::pair<const char*, CreateFactory> kCreationGuards[] = {
    {"invalidate_lock", make_invalidate_lock_guard},
    {"none", make_no_creation_guard},
};

template <class Table>
auto find_in(const Table& table, std::string_view name) -> decltype(table[0].second) {
  for (const auto& [n, make] : table)
    if (name == n) return make;
  return nullptr;
}

template <class Table>
std::string names_of(const Table& table) {
  std::string s;
  for (const auto& [n, make] : table) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

[[noreturn]] void unknown(std::string_view full, std::string_view part) {
  throw Error(Errc::unknown_protocol,
              fmt::format("unknown protocol '{}': '{}' is neither a map guard ({}) nor a creation guard ({})", full,
                          part, names_of(kMapGuards), names_of(kCreationGuards)));
}

}  // namespace

FolioLockKind MapGuard::folio_lock_kind() const { return FolioLockKind::handoff; }

bool folio_is_live(const AddressSpace& mapping, const Folio& folio) {
  return folio.mapping.load(sync::acquire) == &mapping && folio.test(PG_uptodate);
}

Protocol make_protocol(std::string_view name) {
  std::string_view map_part = name, create_part = "none";
  if (auto plus = name.find('+'); plus != std::string_view::npos) {
    map_part = name.substr(0, plus);
    create_part = name.substr(plus + 1);
  } else if (find_in(kCreationGuards, name)) {
    map_part = "page_lock";
    create_part = name;
  }
  MapFactory make_map = find_in(kMapGuards, map_part);
  if (!make_map) unknown(name, map_part);
  CreateFactory make_create = find_in(kCreationGuards, create_part);
  if (!make_create) unknown(name, create_part);
  Protocol p;
  p.map = make_map();
  p.create = make_create();
  p.name = create_part == "none" ? std::string(map_part) : fmt::format("{}+{}", map_part, create_part);
  return p;
}

std::vector<std::string> map_guard_names() {
  std::vector<std::string> v;
  for (const auto& [n, make] : kMapGuards) v.emplace_back(n);
  return v;
}

std::vector<std::string> creation_guard_names() {
  std::vector<std::string> v;
  for (const auto& [n, make] : kCreationGuards) v.emplace_back(n);
  return v;
}

}  // namespace faultline::detail
