// Crafting image layers for the unpacker's tests with libarchive, hostile ones included
// (absolute paths, "..", links out of the rootfs, device nodes, sizes past the limits), and
// pushing images made of them to a registry.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/cas/blob_store.h"
#include "common/digest.h"
#include "common/registry/registry_client.h"
#include "nlohmann/json.hpp"

namespace tempa::deploy::testing {

struct TarEntry {
  enum Type { kFile, kDir, kSymlink, kHardlink, kCharDevice, kFifo };
  Type type = kFile;
  std::string path;
  std::string data;  // file contents, or a link's target
  mode_t mode = 0644;
  int64_t uid = 0, gid = 0;
  // When >= 0, the size written in the header (libarchive pads with zeros up to it).
  int64_t declared_size = -1;
};

TarEntry File(std::string path, std::string contents, mode_t mode = 0644);
TarEntry Dir(std::string path, mode_t mode = 0755);
TarEntry Symlink(std::string path, std::string target);
TarEntry Hardlink(std::string path, std::string target);

enum class Compression { kNone, kGzip, kZstd };

struct Layer {
  std::string blob;  // what goes to the registry
  Digest diff_id;    // sha256 of the uncompressed tar
  std::string media_type;
};

// A pax tar of `entries`, in order, compressed as asked.
Layer MakeLayer(const std::vector<TarEntry>& entries, Compression compression = Compression::kGzip);

// Writes `layer.blob` to `path`.
void WriteLayerFile(const Layer& layer, const std::string& path);

struct PushedImage {
  std::string reference;  // HOST/REPO@sha256:<hex>
  Digest manifest_digest;
  std::string manifest_json;
};

// Pushes an image of `layers` to `repo` (tag "latest") with a config whose "config" object is
// `run_config` and whose diff_ids are the layers' (or `diff_ids` when given). With
// `docker_media_types`, a Docker schema 2 manifest (gzip layers only).
absl::StatusOr<PushedImage> PushLayers(registry::RegistryClient& client, cas::BlobStore& store,
                                       const std::string& repo, const std::vector<Layer>& layers,
                                       const nlohmann::json& run_config = nlohmann::json::object(),
                                       const std::vector<Digest>& diff_ids = {},
                                       const std::string& architecture = "amd64",
                                       bool docker_media_types = false);

}  // namespace tempa::deploy::testing
