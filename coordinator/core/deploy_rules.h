// What makes an app's deploy settings and env valid, and the track (production or a preview
// branch's DNS label) a deploy lands on. Each error names the setting, the problem and the fix.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/map.h"
#include "tempa/v1/deploy.pb.h"

namespace tempa::coordinator {

// Limits, replicas, health path and port (env names are the coordinator's to set).
absl::Status CheckDeploySettings(const v1::DeploySettings& settings);
// Names [A-Za-z_][A-Za-z0-9_]* (PORT is the deployer's), values a process can take.
absl::Status CheckDeployEnv(const google::protobuf::Map<std::string, std::string>& env);
// "production" for the app's own branch, else the branch as a DNS label ("feature/x" →
// "feature-x").
std::string DeployTrack(bool production, absl::string_view branch);

}  // namespace tempa::coordinator
