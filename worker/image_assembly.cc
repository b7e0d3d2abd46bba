#include "worker/image_assembly.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace tempa::worker {
namespace {

// Merges KEY=VALUE lists: later entries win, order of first appearance kept.
std::vector<std::string> MergeEnv(const std::vector<std::string>& base,
                                  const std::map<std::string, std::string>& ours) {
  std::vector<std::string> out;
  std::map<std::string, size_t> index;
  auto put = [&](const std::string& key, const std::string& entry) {
    if (auto it = index.find(key); it != index.end()) {
      out[it->second] = entry;
    } else {
      index[key] = out.size();
      out.push_back(entry);
    }
  };
  for (const std::string& entry : base) put(entry.substr(0, entry.find('=')), entry);
  for (const auto& [k, v] : ours) put(k, absl::StrCat(k, "=", v));
  return out;
}

}  // namespace

absl::StatusOr<AssembledImage> AssembleImage(const ImageInputs& inputs, cas::BlobStore& blobs) {
  const buildpacks::ImageConfigSpec& spec = inputs.spec;
  oci::ImageConfig config;
  if (inputs.base_config) {
    config.architecture = inputs.base_config->architecture;
    config.os = inputs.base_config->os;
    config.variant = inputs.base_config->variant;
    config.user = inputs.base_config->user;
    config.working_dir = inputs.base_config->working_dir;
    config.labels = inputs.base_config->labels;
    config.exposed_ports = inputs.base_config->exposed_ports;
  }
  config.created_epoch = inputs.created_epoch;
  config.entrypoint = spec.entrypoint;
  config.cmd = spec.cmd;
  config.env = MergeEnv(inputs.base_config ? inputs.base_config->env : std::vector<std::string>{},
                        spec.env);
  if (!spec.working_dir.empty()) config.working_dir = spec.working_dir;
  if (!spec.user.empty()) config.user = spec.user;
  std::string port = absl::StrCat(spec.port, "/tcp");
  if (std::find(config.exposed_ports.begin(), config.exposed_ports.end(), port) ==
      config.exposed_ports.end()) {
    config.exposed_ports.push_back(port);
  }
  for (const auto& [k, v] : spec.labels) config.labels[k] = v;

  std::map<std::string, std::string> annotations;
  if (inputs.revision) {
    config.labels["org.opencontainers.image.revision"] = *inputs.revision;
    annotations["org.opencontainers.image.revision"] = *inputs.revision;
  }
  if (!inputs.source_url.empty()) {
    config.labels["org.opencontainers.image.source"] = inputs.source_url;
    annotations["org.opencontainers.image.source"] = inputs.source_url;
  }

  AssembledImage image;
  for (const oci::LayerRecord& layer : inputs.layers) {
    config.diff_ids.push_back(layer.diff_id);
    image.layers.push_back(layer.blob);
  }
  std::string config_json = oci::SerializeConfig(config);
  ASSIGN_OR_RETURN(Digest config_digest, blobs.Put(config_json));
  image.config = {oci::kMediaTypeConfig, config_digest,
                  static_cast<int64_t>(config_json.size()), {}};

  oci::Manifest manifest;
  manifest.config = image.config;
  manifest.layers = image.layers;
  manifest.annotations = annotations;
  image.manifest_json = oci::SerializeManifest(manifest);
  ASSIGN_OR_RETURN(image.manifest_digest, blobs.Put(image.manifest_json));
  return image;
}

}  // namespace tempa::worker
