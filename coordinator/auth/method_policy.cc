#include "coordinator/auth/method_policy.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "coordinator/auth/method_names.h"

namespace tempa::coordinator::auth {

MethodPolicy MethodPolicy::Default() {
  const RoleSet admin = {Role::kAdmin};
  const RoleSet reader = {Role::kAdmin, Role::kReadOnly};
  const RoleSet worker = {Role::kAdmin, Role::kWorker};
  MethodPolicy policy;
  // Control plane: changes (and anything that could touch secrets) are admin's; reads are
  // read-only's too. No ControlService RPC is a worker's.
  for (const char* method :
       {methods::kCreateApp, methods::kUpdateApp, methods::kDeleteApp, methods::kTriggerBuild,
        methods::kCancelBuild, methods::kRollbackApp}) {
    policy.Allow(method, admin);
  }
  for (const char* method : {methods::kGetApp, methods::kListApps, methods::kGetBuild,
                             methods::kListBuilds, methods::kGetBuildLogs, methods::kWatchBuild,
                             methods::kListWorkers, methods::kListDeploys}) {
    policy.Allow(method, reader);
  }
  for (const char* method :
       {methods::kRegisterWorker, methods::kLeaseJob, methods::kHeartbeat, methods::kReportProgress,
        methods::kCompleteJob, methods::kFindLayer, methods::kPutLayer}) {
    policy.Allow(method, worker);
  }
  policy.AllowWithoutToken(methods::kHealthService);
  policy.AllowWithoutToken(methods::kReflectionV1Alpha);
  policy.AllowWithoutToken(methods::kReflectionV1);
  return policy;
}

void MethodPolicy::Allow(absl::string_view full_method, RoleSet roles) {
  methods_[full_method] = Rule{false, roles};
}

void MethodPolicy::AllowWithoutToken(absl::string_view service_prefix) {
  open_prefixes_.emplace_back(service_prefix);
}

const MethodPolicy::Rule* MethodPolicy::Find(absl::string_view full_method) const {
  auto it = methods_.find(full_method);
  if (it != methods_.end()) return &it->second;
  for (const std::string& prefix : open_prefixes_) {
    // The prefix ends in '/', and the method must have a name after it.
    if (full_method.size() > prefix.size() && absl::StartsWith(full_method, prefix) &&
        full_method.find('/', prefix.size()) == absl::string_view::npos) {
      return &open_rule_;
    }
  }
  return nullptr;
}

std::vector<std::string> MethodPolicy::ListedMethods() const {
  std::vector<std::string> names;
  names.reserve(methods_.size());
  for (const auto& [name, rule] : methods_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace tempa::coordinator::auth
