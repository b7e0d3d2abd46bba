// The roles a bearer token carries. admin: every RPC; read-only: the control plane's
// Get/List/Watch RPCs; worker: the worker and layer-cache services (what a worker daemon needs,
// and nothing that changes apps or reads their secrets).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace tempa::coordinator::auth {

enum class Role : uint8_t { kAdmin = 0, kReadOnly = 1, kWorker = 2 };

// "admin", "read-only", "worker": as written in a token file.
absl::string_view RoleName(Role role);

// The role a token file names: "admin", "read-only" (or "readonly", "read_only"), "worker".
std::optional<Role> ParseRole(absl::string_view name);

// A set of roles.
class RoleSet {
 public:
  constexpr RoleSet() = default;
  constexpr RoleSet(std::initializer_list<Role> roles) {
    for (Role role : roles) bits_ |= Bit(role);
  }
  constexpr bool Contains(Role role) const { return (bits_ & Bit(role)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  friend constexpr bool operator==(RoleSet a, RoleSet b) { return a.bits_ == b.bits_; }
  // "admin or worker".
  std::string ToString() const;

 private:
  static constexpr uint8_t Bit(Role role) { return uint8_t{1} << static_cast<uint8_t>(role); }
  uint8_t bits_ = 0;
};

}  // namespace tempa::coordinator::auth
