// Pushes an assembled image (blobs in the CAS + manifest bytes) to a registry the way the design
// asks: HEAD every blob and skip what exists, try cross-repo mounts, upload the rest in parallel,
// PUT the manifest last. PullImage is the reverse, into a BlobStore.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/cas/blob_store.h"
#include "common/digest.h"
#include "common/oci/descriptor.h"
#include "common/registry/image_reference.h"
#include "common/registry/registry_client.h"

namespace tempa::registry {

struct PushOptions {
  // Repositories on the same registry that may already hold some blobs (e.g. other apps built
  // from the same base); each missing blob is mounted from the first that has it.
  std::vector<std::string> mount_from;
  // Blobs that live in a repository of the same registry rather than (or besides) in `blobs`:
  // each is mounted from there first; when the registry refuses the mount and `blobs` lacks
  // it, it is downloaded from there into `blobs` and uploaded.
  std::map<Digest, std::string> blob_sources;
  // Blobs checked/uploaded at once.
  int parallelism = 4;
};

struct PushResult {
  Digest manifest_digest;
  int uploaded = 0;
  int skipped = 0;  // the repository already had it
  int mounted = 0;
  uint64_t bytes_uploaded = 0;
};

// Pushes config + layers (read from `blobs`) then `manifest_json` under target's tag (or digest
// when the reference has one). The manifest's media type is taken from its "mediaType" field
// (OCI manifest when absent). Errors name the blob and the target.
absl::StatusOr<PushResult> PushImage(RegistryClient& client, const ImageReference& target,
                                     cas::BlobStore& blobs, const oci::Descriptor& config,
                                     const std::vector<oci::Descriptor>& layers,
                                     absl::string_view manifest_json,
                                     const PushOptions& options = {});

struct PullResult {
  Digest manifest_digest;
  std::string manifest_json;
  std::string media_type;
  oci::Descriptor config;
  std::vector<oci::Descriptor> layers;
};

// Fetches the manifest of `source` (an image manifest; indexes are refused with
// FailedPrecondition), then its config and layers into `blobs` (skipping blobs already there).
// The manifest bytes are stored in `blobs` too.
absl::StatusOr<PullResult> PullImage(RegistryClient& client, const ImageReference& source,
                                     cas::BlobStore& blobs);

}  // namespace tempa::registry
