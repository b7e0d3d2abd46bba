// How the farm commands print deploys and an app's deploy settings: a table for `deploys list`,
// label/value fields that `apps show` and `builds show` add to their blocks, and JSON. Text the
// deployer passes on from a container (reasons, log tails) is made terminal-safe.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tempa/v1/control.pb.h"
#include "tempa/v1/deploy.pb.h"

namespace tempa::cli::farm {

using Fields = std::vector<std::pair<std::string, std::string>>;

// "memory", "cpu", "replicas", "health path", "port", "env" (names only).
Fields DeploySettingsFields(const tempa::v1::DeploySettings& settings);
// "deploy" (status and id), "urls", "deploy reason" for a build's latest deploy.
Fields BuildDeployFields(const tempa::v1::Deploy& deploy);
std::string DeployStatusName(tempa::v1::DeployStatus status);
std::string DeploysTable(const tempa::v1::ListDeploysResponse& response, absl::Time now);
// A deploy as a block of lines (rollback's answer), the container's log tail indented.
std::string DeployDetails(const tempa::v1::Deploy& deploy, absl::Time now);
nlohmann::json DeploysJson(const tempa::v1::ListDeploysResponse& response);  // {"deploys": [...]}

}  // namespace tempa::cli::farm
