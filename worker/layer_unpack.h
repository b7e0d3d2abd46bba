// Unpacks a layer a build already has (built or reused) into a directory, for a later build step
// that needs its files (Python's collectstatic runs the app against the venv of the deps layer):
// the blob comes from the worker's blob store, or from the registry when the fleet's cache
// supplied the layer, and is applied with the hostile-layer extractor the deployer uses too
// (common/oci/layer_extractor.h), so nothing is written outside the directory or through a link.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "common/cas/blob_store.h"
#include "common/oci/descriptor.h"

namespace tempa::worker {

// Fetches a blob the store lacks into `writer` (the registry's GetBlob); null: NotFound.
using FetchBlob =
    std::function<absl::Status(const Digest& digest, uint64_t size, cas::BlobWriter& writer)>;

// Extracts `layer` into `dir`, which must not exist (its parent must). `layer_name` names it in
// errors ("deps layer sha256:ab12…").
absl::Status UnpackLayer(const oci::LayerRecord& layer, cas::BlobStore& blobs,
                         const FetchBlob& fetch, const std::string& dir,
                         const std::string& layer_name);

}  // namespace tempa::worker
