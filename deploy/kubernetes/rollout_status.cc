#include "deploy/kubernetes/rollout_status.h"

#include "absl/strings/str_cat.h"
#include "deploy/kubernetes/kube_api.h"

namespace tempa::deploy {

RolloutVerdict JudgeRollout(const nlohmann::json& deployment, int64_t min_generation) {
  std::string name = JsonString(deployment, {"metadata", "name"});
  if (!deployment.is_object() || JsonAt(deployment, {"metadata"}) == nullptr) {
    return {RolloutVerdict::kWaiting, "the API server sent no Deployment object"};
  }
  int64_t generation = JsonInt(deployment, {"metadata", "generation"});
  int64_t observed = JsonInt(deployment, {"status", "observedGeneration"});
  if (generation < min_generation || observed < generation) {
    return {RolloutVerdict::kWaiting,
            absl::StrCat("waiting for deployment ", name, " spec update to be observed")};
  }
  if (const nlohmann::json* conditions = JsonAt(deployment, {"status", "conditions"});
      conditions != nullptr && conditions->is_array()) {
    for (const nlohmann::json& c : *conditions) {
      if (JsonString(c, {"type"}) == "Progressing" &&
          JsonString(c, {"reason"}) == "ProgressDeadlineExceeded") {
        std::string detail = JsonString(c, {"message"});
        return {RolloutVerdict::kFailed, absl::StrCat("deployment ", name,
                                                      " exceeded its progress deadline "
                                                      "(ProgressDeadlineExceeded)",
                                                      detail.empty() ? "" : ": ", detail)};
      }
    }
  }
  int64_t want = JsonInt(deployment, {"spec", "replicas"}, -1);  // absent: not checked
  int64_t replicas = JsonInt(deployment, {"status", "replicas"});
  int64_t updated = JsonInt(deployment, {"status", "updatedReplicas"});
  int64_t available = JsonInt(deployment, {"status", "availableReplicas"});
  if (updated < want) {
    return {RolloutVerdict::kWaiting,
            absl::StrCat(updated, " out of ", want, " new replicas have been updated")};
  }
  if (replicas > updated) {
    return {RolloutVerdict::kWaiting,
            absl::StrCat(replicas - updated, " old replicas are pending termination")};
  }
  if (available < updated) {
    return {RolloutVerdict::kWaiting,
            absl::StrCat(available, " of ", updated, " updated replicas are available")};
  }
  return {RolloutVerdict::kDone, absl::StrCat("deployment ", name, " successfully rolled out")};
}

}  // namespace tempa::deploy
