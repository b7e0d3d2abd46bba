#include "worker/run_image.h"

#include "absl/strings/str_cat.h"
#include "common/registry/image_pusher.h"
#include "common/status_macros.h"

namespace tempa::worker {

absl::StatusOr<RunImageBase> PullRunImage(registry::RegistryClient& client,
                                          const registry::ImageReference& ref,
                                          cas::BlobStore& blobs) {
  std::string context = absl::StrCat("pull run image ", ref.ToString());
  absl::StatusOr<registry::PullResult> pulled = registry::PullImage(client, ref, blobs);
  if (!pulled.ok()) return Annotate(pulled.status(), context);
  absl::StatusOr<std::string> config_json = blobs.Read(pulled->config.digest);
  if (!config_json.ok()) return Annotate(config_json.status(), context);
  absl::StatusOr<oci::ImageConfig> config = oci::ParseConfig(*config_json);
  if (!config.ok()) return Annotate(config.status(), context);
  if (config->diff_ids.size() != pulled->layers.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        context, ": its config lists ", config->diff_ids.size(), " layers but its manifest ",
        pulled->layers.size()));
  }

  RunImageBase base;
  base.reference = ref.WithDigest(pulled->manifest_digest);
  base.config = *config;
  for (size_t i = 0; i < pulled->layers.size(); ++i) {
    oci::Descriptor blob = pulled->layers[i];
    // Docker's gzip layer type is the same bytes as OCI's; our manifest is OCI throughout.
    if (blob.media_type == oci::kMediaTypeDockerLayerGzip) {
      blob.media_type = oci::kMediaTypeLayerGzip;
    } else if (blob.media_type != oci::kMediaTypeLayerGzip &&
               blob.media_type != oci::kMediaTypeLayerTar) {
      return absl::InvalidArgumentError(absl::StrCat(
          context, ": layer ", blob.digest.ToString(), " has media type ", blob.media_type,
          ", which Tempa cannot layer onto (gzip or plain tar layers only)"));
    }
    base.layers.push_back({blob, config->diff_ids[i]});
  }
  return base;
}

}  // namespace tempa::worker
