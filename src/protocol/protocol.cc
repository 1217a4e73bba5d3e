// src/protocol/protocol.cc — the registry of protocol names.
//
// A protocol is named MAPGUARD or MAPGUARD+CREATIONGUARD. A map guard alone
// has no creation guard (Linux up to 5.14); a creation guard alone pairs
// with the default map guard, page_lock ("invalidate_lock" is today's
// Linux). The tables are generated from the guards' own registration
// lines (cmake/protocols.cmake): a new guard edits nothing here.
#include <fmt/format.h>

#include <utility>

#include "faultline/error.h"
#include "mm/folio.h"
#include "protocol/protocol.h"

namespace faultline::detail {

#define FAULTLINE_REGISTERED_MAP_GUARD(NAME) std::unique_ptr<MapGuard> make_map_guard_##NAME();
#define FAULTLINE_REGISTERED_CREATION_GUARD(NAME) std::unique_ptr<CreationGuard> make_creation_guard_##NAME();
#include "protocol_registry.inc"
#undef FAULTLINE_REGISTERED_MAP_GUARD
#undef FAULTLINE_REGISTERED_CREATION_GUARD

namespace {

using MapFactory = std::unique_ptr<MapGuard> (*)();
using CreateFactory = std::unique_ptr<CreationGuard> (*)();

const std::pair<const char*, MapFactory> kMapGuards[] = {
#define FAULTLINE_REGISTERED_MAP_GUARD(NAME) {#NAME, make_map_guard_##NAME},
#define FAULTLINE_REGISTERED_CREATION_GUARD(NAME)
#include "protocol_registry.inc"
#undef FAULTLINE_REGISTERED_MAP_GUARD
#undef FAULTLINE_REGISTERED_CREATION_GUARD
};
const std::pair<const char*, CreateFactory> kCreationGuards[] = {
#define FAULTLINE_REGISTERED_MAP_GUARD(NAME)
#define FAULTLINE_REGISTERED_CREATION_GUARD(NAME) {#NAME, make_creation_guard_##NAME},
#include "protocol_registry.inc"
#undef FAULTLINE_REGISTERED_MAP_GUARD
#undef FAULTLINE_REGISTERED_CREATION_GUARD
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

std::unique_ptr<MapGuard> make_map_guard(std::string_view name, std::string_view in_protocol) {
  MapFactory make = find_in(kMapGuards, name);
  if (!make) unknown(in_protocol.empty() ? name : in_protocol, name);
  return make();
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
  Protocol p;
  p.map = make_map_guard(map_part, name);
  CreateFactory make_create = find_in(kCreationGuards, create_part);
  if (!make_create) unknown(name, create_part);
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
