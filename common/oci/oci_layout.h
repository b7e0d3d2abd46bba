// Export of an image from the CAS into an OCI image-layout directory (oci-layout, index.json,
// blobs/sha256/<hex>) so standard tools read Tempa's images locally: `skopeo inspect oci:DIR:TAG`,
// `umoci unpack --image DIR:TAG`, `skopeo copy oci:DIR:TAG docker://...`.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/cas/blob_store.h"
#include "common/oci/descriptor.h"

namespace tempa::oci {

// Copies the manifest `manifest` (an image manifest stored in `store`), its config and its
// layers into `dir` (created if needed), verifying each blob's digest while copying, and points
// `tag` at it in index.json (org.opencontainers.image.ref.name). Other tags already in the
// layout are kept; an existing entry for `tag` is replaced. NotFound when a blob is missing from
// the store, DataLoss when one does not match its digest.
absl::Status WriteOciLayout(const std::string& dir, const std::string& tag,
                            cas::BlobStore& store, const Descriptor& manifest);

}  // namespace tempa::oci
