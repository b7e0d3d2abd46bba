// Which roles may call which RPC, by full method name. Methods not listed are refused to every
// role (PERMISSION_DENIED): a new RPC is closed until someone decides who may call it.
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "coordinator/auth/role.h"

namespace tempa::coordinator::auth {

class MethodPolicy {
 public:
  struct Rule {
    bool without_token = false;  // anyone, token or not (health, reflection)
    RoleSet roles;               // otherwise: a caller with one of these roles
  };

  // The farm's policy: admin may call every tempa.v1 RPC; read-only the ControlService
  // Get*/List*/Watch* RPCs; worker every WorkerService and LayerCacheService RPC; health and
  // reflection need no token.
  static MethodPolicy Default();

  // `full_method` ("/pkg.Service/Method") may be called by `roles`. Replaces an earlier rule.
  void Allow(absl::string_view full_method, RoleSet roles);
  // Every method of the service `prefix` ("/grpc.health.v1.Health/") may be called without a
  // token.
  void AllowWithoutToken(absl::string_view service_prefix);

  // The rule for `full_method`, or null when it has none (refused to all).
  const Rule* Find(absl::string_view full_method) const;

  // The methods with a rule of their own (not those open through AllowWithoutToken).
  std::vector<std::string> ListedMethods() const;

 private:
  absl::flat_hash_map<std::string, Rule> methods_;
  std::vector<std::string> open_prefixes_;
  Rule open_rule_{true, {}};
};

}  // namespace tempa::coordinator::auth
