// Builds small but valid OCI images for registry tests and the push bench: each layer is a
// gzip-compressed tar holding one file of pseudo-random bytes, with a real config (diff_ids)
// and manifest. Blobs go into a BlobStore; the manifest bytes are returned (and stored too).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/cas/blob_store.h"
#include "common/digest.h"
#include "common/oci/descriptor.h"

namespace tempa::testing {

struct TestImage {
  oci::Descriptor config;
  std::vector<oci::Descriptor> layers;
  std::string manifest_json;
  Digest manifest_digest;
  uint64_t total_bytes = 0;  // config + layers
};

// `layer_sizes` are the sizes of each layer's file contents (the blob is a bit larger: tar
// headers, and random data does not compress). Different seeds give different blobs.
absl::StatusOr<TestImage> MakeTestImage(cas::BlobStore& store,
                                        const std::vector<uint64_t>& layer_sizes, uint64_t seed);

// Writes oci-layout and index.json into `dir` (whose blobs/ is `store`'s) so tools such as
// skopeo can read the image as oci:<dir>:<tag>.
absl::Status WriteOciLayoutIndex(const std::string& dir, const TestImage& image,
                                 const std::string& tag);

}  // namespace tempa::testing
