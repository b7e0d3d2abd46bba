// The coordinator core's side of deploys, as the DeployDispatcher sees it: the intents still to
// deliver or follow, the app's env values (unsealed only for the deployer), and the durable
// write of what the deployer said. The core implements it (as it implements PollTargets).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tempa/v1/deploy.pb.h"

namespace tempa::coordinator {

class DeployTargets {
 public:
  virtual ~DeployTargets() = default;
  // Durable PENDING and DEPLOYING intents, oldest first.
  virtual absl::StatusOr<std::vector<v1::Deploy>> UnfinishedDeploys() = 0;
  // The app's env for its deploys (empty when none was set). NotFound when the app is gone.
  virtual absl::StatusOr<std::map<std::string, std::string>> DeployEnv(const std::string& app) = 0;
  // Writes `update`'s status, reason, log tail, urls, times and attempts into the stored intent
  // `update.id()` and into its build's `deploy` field, durably before returning. The intent's
  // identity (app, build, image, settings) is the coordinator's and stays. An intent already
  // finished is left as it is.
  virtual absl::Status RecordDeploy(const v1::Deploy& update) = 0;
};

}  // namespace tempa::coordinator
