// The minimal run base for static binaries (Go with CGO_ENABLED=0, later static Rust): CA
// certificates, time zones, passwd/group with a non-root user, nsswitch.conf, /tmp. Tempa
// assembles it itself from host files, deterministically, instead of pulling a base image: no
// registry round trip, and the layer is keyed by exactly the bytes that go in.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "buildpacks/buildpack.h"
#include "common/oci/layer_spec.h"

namespace tempa::buildpacks::runbase {

struct StaticBaseOptions {
  // Where host files are read from: "/" on a worker, a fake tree in tests.
  std::string host_root = "/";
};

// The non-root user every Tempa image runs as (distroless's convention).
inline constexpr int kNonRootUid = 65532;
inline constexpr char kNonRootUser[] = "nonroot";
inline constexpr char kCaBundlePath[] = "etc/ssl/certs/ca-certificates.crt";

struct StaticBase {
  oci::LayerSpec spec;
  // "sha256:…" over a version tag and every entry's path, type, mode and content digest: it
  // changes iff the layer's content would.
  std::string input_key;
  int file_count = 0;
};

// Reads host_root/etc/ssl/certs/ca-certificates.crt and host_root/usr/share/zoneinfo (without
// the posix/ and right/ duplicates and without links leaving the tree). FailedPrecondition
// naming the Debian package when one is missing.
absl::StatusOr<StaticBase> BuildStaticBase(const StaticBaseOptions& options = {});

// OK when `now` (the base read again) has `planned_key`; else FailedPrecondition saying the
// host's files changed since the layer was keyed (nothing may be written under that key).
absl::Status CheckStaticBaseUnchanged(const StaticBase& now, absl::string_view planned_key);

// The base as a pipeline layer: keyed by its inputs, so an unchanged host reuses it. produce()
// reads the host's files again and fails when they no longer have that key.
absl::StatusOr<PlannedLayer> StaticBaseLayer(const StaticBaseOptions& options = {});

}  // namespace tempa::buildpacks::runbase
