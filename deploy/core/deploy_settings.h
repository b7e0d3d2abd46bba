// An app's deploy settings as the control plane stores them (tempa.v1.DeploySettings, zero
// meaning "the default") turned into the RunSettings a backend runs with, every field filled
// and checked.
#pragma once

#include "absl/status/statusor.h"
#include "deploy/core/release.h"
#include "tempa/v1/deploy.pb.h"

namespace tempa::deploy {

inline constexpr int64_t kMinMemoryBytes = 16ll << 20;
inline constexpr int64_t kMaxMemoryBytes = 1ll << 40;
inline constexpr int kMinCpuMillis = 10;
inline constexpr int kMaxCpuMillis = 64000;
inline constexpr int kMaxReplicas = 100;
inline constexpr int kMaxAutoscaledReplicas = 1000;
inline constexpr int kDefaultPort = 8080;

// Defaults: 256 MiB, 500 millis, 1 replica, max_replicas = max(replicas, max_replicas),
// health path "/", port: settings.port (port_explicit set), else `image_port` (the image's
// EXPOSE/PORT; 0 when unknown), else 8080. Refuses (InvalidArgument naming the field and the fix) a
// memory limit under 16 MiB, CPU outside 10..64000 millis, replicas outside 1..100, max_replicas
// above 1000, a port outside 1..65535, and a health path that does not start with '/' or holds
// a space, a control character, a quote, '\\', '#', '<', '>', '{', '}', '|', '^' or '`'.
absl::StatusOr<RunSettings> ResolveSettings(const tempa::v1::DeploySettings& settings,
                                            int image_port = 0);

}  // namespace tempa::deploy
