// Reading a pulled image's index and config for the unpacker: which manifest of an index runs
// here (os/architecture), and what the config says about running the image. The JSON comes from
// a registry and is untrusted: every value is type-checked, nothing throws.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/oci/descriptor.h"
#include "common/oci/image_model.h"
#include "deploy/image/image_unpacker.h"

namespace tempa::deploy {

struct Platform {
  std::string os = "linux";
  std::string architecture = "amd64";
};

// The descriptor of the image manifest for `platform` in an OCI index or Docker manifest list.
// NotFound listing the platforms it has when none matches; InvalidArgument for a malformed index.
absl::StatusOr<oci::Descriptor> PickPlatform(absl::string_view index_json,
                                             const Platform& platform);

// Entrypoint, Cmd, Env, WorkingDir and User as the config has them; the port is the first
// ExposedPorts entry (tcp preferred) or else PORT=<n> of Env, 0 when neither gives one.
ImageRunConfig RunConfigOf(const oci::ImageConfig& config);

}  // namespace tempa::deploy
