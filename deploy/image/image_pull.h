// The pulling half of RegistryImageUnpacker: manifest (an index resolves to this platform's
// manifest), config and layers fetched by digest and checked (manifest digest against the
// reference, blob digests and sizes while downloading, diff_ids while extracting), the layers
// applied in order into a directory the caller owns and discards on failure.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/oci/image_model.h"
#include "common/registry/image_reference.h"
#include "common/registry/registry_client.h"
#include "deploy/image/registry_image_unpacker.h"

namespace tempa::deploy {

// Files PullInto leaves beside the rootfs.
inline constexpr char kConfigFile[] = "config.json";
inline constexpr char kManifestFile[] = "manifest.json";

// Snapshots of the rootfs after an image's first k layers, keyed by their OCI ChainID, so an
// image sharing its base with one unpacked before downloads and extracts only its own layers.
class LayerChains {
 public:
  virtual ~LayerChains() = default;
  // Clones into the empty `rootfs_fd` the longest snapshot among chain_ids[0..max_layers) (the
  // ChainIDs of 1, 2, ... layers) and returns how many layers it holds; 0 (rootfs untouched)
  // when there is none.
  virtual absl::StatusOr<size_t> CloneLongest(const std::vector<Digest>& chain_ids,
                                              size_t max_layers, int rootfs_fd) = 0;
  // Keeps a snapshot of `rootfs_fd` as it is now, under `chain_id`. Best effort: a failure
  // costs the next image a full pull, nothing else.
  virtual void Save(const Digest& chain_id, int rootfs_fd) = 0;
};

// OCI ChainIDs of an image's layers: chain[0] = diff_id[0], chain[i] = sha256 of
// "chain[i-1] diff_id[i]".
std::vector<Digest> ChainIds(const std::vector<Digest>& diff_ids);

struct PulledImage {
  oci::ImageConfig config;
  size_t reused_layers = 0;  // layers cloned from a snapshot instead of pulled
  uint64_t extracted_bytes = 0;
  uint64_t entries = 0;
};

// Pulls `ref` (which has a digest) with `client` into the empty directory `dir_fd` (`dir` is its
// path): rootfs/, config.json and manifest.json; layer blobs pass through blobs/, removed
// after. Errors name the image and, for a layer, its index and digest: DataLoss when what the
// registry served does not match its digest or the config's diff_id, Unavailable (naming the
// registry) when it cannot be reached, InvalidArgument/ResourceExhausted for hostile content.
// With `chains`, the rootfs starts from the longest snapshot of the image's lower layers (only
// the layers above it are pulled), and snapshots of all but its top layer and of its first
// layer are saved when there were none.
absl::StatusOr<PulledImage> PullInto(registry::RegistryClient& client,
                                     const registry::ImageReference& ref, int dir_fd,
                                     const std::string& dir,
                                     const RegistryImageUnpackerOptions& options,
                                     LayerChains* chains = nullptr);

// Reads a small regular file `name` of `dir_fd` (never following a link), at most `max` bytes.
absl::StatusOr<std::string> ReadSmallFile(int dir_fd, const std::string& name,
                                          const std::string& dir, uint64_t max);

}  // namespace tempa::deploy
