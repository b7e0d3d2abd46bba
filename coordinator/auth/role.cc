#include "coordinator/auth/role.h"

#include <vector>

#include "absl/strings/str_join.h"

namespace tempa::coordinator::auth {

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kReadOnly:
      return "read-only";
    case Role::kWorker:
      return "worker";
  }
  return "unknown";
}

std::optional<Role> ParseRole(absl::string_view name) {
  if (name == "admin") return Role::kAdmin;
  if (name == "read-only" || name == "readonly" || name == "read_only") return Role::kReadOnly;
  if (name == "worker") return Role::kWorker;
  return std::nullopt;
}

std::string RoleSet::ToString() const {
  std::vector<absl::string_view> names;
  for (Role role : {Role::kAdmin, Role::kReadOnly, Role::kWorker}) {
    if (Contains(role)) names.push_back(RoleName(role));
  }
  if (names.empty()) return "no role";
  return absl::StrJoin(names, " or ");
}

}  // namespace tempa::coordinator::auth
