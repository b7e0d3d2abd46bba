#include "worker/layer_unpack.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/beneath.h"
#include "common/oci/layer_extractor.h"
#include "common/posix_status.h"
#include "common/status_macros.h"

namespace tempa::worker {

absl::Status UnpackLayer(const oci::LayerRecord& layer, cas::BlobStore& blobs,
                         const FetchBlob& fetch, const std::string& dir,
                         const std::string& layer_name) {
  const Digest& digest = layer.blob.digest;
  ASSIGN_OR_RETURN(bool present, blobs.Contains(digest));
  if (!present) {
    if (!fetch) {
      return absl::NotFoundError(absl::StrCat(layer_name, " is not in the blob store"));
    }
    ASSIGN_OR_RETURN(std::unique_ptr<cas::BlobWriter> writer, blobs.NewWriter());
    RETURN_IF_ERROR(Annotate(fetch(digest, layer.blob.size, *writer),
                             absl::StrCat("fetch ", layer_name, " to unpack it")));
  }
  ASSIGN_OR_RETURN(std::string blob_path, blobs.Path(digest));
  if (::mkdir(dir.c_str(), 0755) != 0) return ErrnoStatus(errno, "mkdir", dir);
  ASSIGN_OR_RETURN(UniqueFd root, OpenRootDirectory(dir));
  oci::LayerExtractor extractor(root.get(), dir, oci::ExtractLimits{},
                                /*apply_owners=*/false);
  ASSIGN_OR_RETURN(Digest diff_id, extractor.Apply(blob_path, layer_name));
  if (diff_id != layer.diff_id) {
    return absl::DataLossError(absl::StrCat(layer_name, " unpacked to diff_id ", diff_id.ToString(),
                                            ", not its recorded ", layer.diff_id.ToString()));
  }
  return absl::OkStatus();
}

}  // namespace tempa::worker
