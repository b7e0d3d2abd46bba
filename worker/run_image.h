// A user-named run image (`--run-image REF`): pulled by digest into the CAS, its layers become
// the image's base instead of the buildpack's own.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "common/cas/blob_store.h"
#include "common/oci/descriptor.h"
#include "common/oci/image_model.h"
#include "common/registry/image_reference.h"
#include "common/registry/registry_client.h"

namespace tempa::worker {

struct RunImageBase {
  std::string reference;  // HOST/NAME@sha256:... — pinned, whatever tag was asked for
  std::vector<oci::LayerRecord> layers;
  oci::ImageConfig config;
};

absl::StatusOr<RunImageBase> PullRunImage(registry::RegistryClient& client,
                                          const registry::ImageReference& ref,
                                          cas::BlobStore& blobs);

}  // namespace tempa::worker
