// The pulling half of RegistryImageUnpacker: manifest (an index resolves to this platform's
// manifest), config and layers fetched by digest and checked (manifest digest against the
// reference, blob digests and sizes while downloading, diff_ids while extracting), the layers
// applied in order into a directory the caller owns and discards on failure.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/oci/image_model.h"
#include "common/registry/image_reference.h"
#include "common/registry/registry_client.h"
#include "deploy/image/registry_image_unpacker.h"

namespace tempa::deploy {

// Files PullInto leaves beside the rootfs.
inline constexpr char kConfigFile[] = "config.json";
inline constexpr char kManifestFile[] = "manifest.json";

struct PulledImage {
  oci::ImageConfig config;
  uint64_t extracted_bytes = 0;
  uint64_t entries = 0;
};

// Pulls `ref` (which has a digest) with `client` into the empty directory `dir_fd` (`dir` is its
// path): rootfs/, config.json and manifest.json; layer blobs pass through blobs/, removed
// after. Errors name the image and, for a layer, its index and digest: DataLoss when what the
// registry served does not match its digest or the config's diff_id, Unavailable (naming the
// registry) when it cannot be reached, InvalidArgument/ResourceExhausted for hostile content.
absl::StatusOr<PulledImage> PullInto(registry::RegistryClient& client,
                                     const registry::ImageReference& ref, int dir_fd,
                                     const std::string& dir,
                                     const RegistryImageUnpackerOptions& options);

// Reads a small regular file `name` of `dir_fd` (never following a link), at most `max` bytes.
absl::StatusOr<std::string> ReadSmallFile(int dir_fd, const std::string& name,
                                          const std::string& dir, uint64_t max);

}  // namespace tempa::deploy
