// A Deployment's rollout judged the way `kubectl rollout status` judges it: the controller has
// observed the applied generation, every replica is updated, the old ones are gone and the
// updated ones are available; a Progressing condition with reason ProgressDeadlineExceeded is a
// failure. Pure: the Deployment object (untrusted JSON) in, a verdict out.
#pragma once

#include <cstdint>
#include <string>

#include "nlohmann/json.hpp"

namespace tempa::deploy {

struct RolloutVerdict {
  enum State { kWaiting, kDone, kFailed } state = kWaiting;
  std::string message;  // "2 of 3 updated replicas are available", "exceeded its progress ..."
};

// `min_generation`: the generation our apply produced (the answer's metadata.generation); a
// status observed before it says nothing about this rollout.
RolloutVerdict JudgeRollout(const nlohmann::json& deployment, int64_t min_generation);

}  // namespace tempa::deploy
