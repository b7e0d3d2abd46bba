// Turns built layers and a buildpack's runtime config into an OCI image config and manifest,
// stored in the CAS. Both are deterministic functions of their inputs.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "buildpacks/buildpack.h"
#include "common/cas/blob_store.h"
#include "common/oci/descriptor.h"
#include "common/oci/image_model.h"

namespace tempa::worker {

struct AssembledImage {
  oci::Descriptor config;
  std::vector<oci::Descriptor> layers;
  std::string manifest_json;
  Digest manifest_digest;
};

struct ImageInputs {
  buildpacks::ImageConfigSpec spec;
  // The config of a user-named run image the layers sit on, if any: its environment, user and
  // working directory are kept unless the buildpack sets its own.
  std::optional<oci::ImageConfig> base_config;
  std::vector<oci::LayerRecord> layers;  // bottom first
  int64_t created_epoch = 0;
  std::optional<std::string> revision;
  std::string source_url;
};

absl::StatusOr<AssembledImage> AssembleImage(const ImageInputs& inputs, cas::BlobStore& blobs);

}  // namespace tempa::worker
