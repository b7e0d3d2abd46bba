#include "worker/build_pipeline.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/build_error.h"
#include "common/oci/image_model.h"
#include "common/oci/layer_writer.h"
#include "common/registry/image_pusher.h"
#include "common/status_macros.h"
#include "worker/source_info.h"

namespace tempa::worker {
namespace {

namespace fs = std::filesystem;

// Layers keyed by their inputs (base, deps) are written with this fixed mtime rather than the
// commit time, so that a new commit with the same inputs reuses them byte for byte.
constexpr int64_t kInputKeyedLayerEpoch = 0;
// Everything besides the layer's own inputs that changes the bytes written: the writer's
// format, libdeflate's version, the gzip member size and level, and the mtime.
std::string ActionKey(buildpacks::LayerRole role, absl::string_view key,
                      const oci::LayerWriteOptions& options) {
  return Sha256Of(absl::StrCat(oci::LayerWriterVersion(options), "\n",
                               buildpacks::LayerRoleName(role), "\n", key,
                               "\nmtime=", options.mtime, "\ngzip=", options.compression_level))
      .ToString();
}

// Removes a per-build scratch directory however the build ends.
class ScratchDir {
 public:
  static absl::StatusOr<ScratchDir> Create(const std::string& parent) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    std::string pattern = parent + "/build-XXXXXX";
    if (ec || mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("create scratch directory under ", parent, ": ",
                                              ec ? ec.message() : strerror(errno)));
    }
    // The sandboxed build runs as an unprivileged user and writes its output here.
    chmod(pattern.c_str(), 0777);
    return ScratchDir(pattern);
  }
  ScratchDir(ScratchDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  ~ScratchDir() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// A name safe as one directory component, for per-app cache directories.
std::string CacheDirName(absl::string_view repository) {
  std::string out;
  for (char c : repository) {
    bool safe = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                c == '.';
    out.push_back(safe ? c : '_');
  }
  return out.empty() ? "app" : out;
}

}  // namespace

BuildPipeline::BuildPipeline(PipelineDeps deps, PipelineOptions options)
    : deps_(std::move(deps)), options_(std::move(options)) {}

void BuildPipeline::Step(absl::string_view name, absl::Time started, absl::string_view detail) {
  if (deps_.on_step) deps_.on_step(name, absl::Now() - started, detail);
}

absl::StatusOr<BuiltLayer> BuildPipeline::ProduceLayer(const buildpacks::PlannedLayer& planned,
                                                       int64_t commit_epoch) {
  BuiltLayer built{planned.role, {}, false};
  auto cached = [&](const std::string& key) -> absl::StatusOr<bool> {
    ASSIGN_OR_RETURN(std::optional<oci::LayerRecord> hit, deps_.actions->Get(key));
    if (!hit) return false;
    ASSIGN_OR_RETURN(bool present, deps_.blobs->Contains(hit->blob.digest));
    if (!present) return false;  // evicted since: build it again
    built.record = *hit;
    built.reused = true;
    return true;
  };

  oci::LayerWriteOptions write_options;
  write_options.mtime = planned.input_key.empty() ? commit_epoch : kInputKeyedLayerEpoch;
  write_options.compression_level = options_.compression_level;
  std::string key;
  if (!planned.input_key.empty()) {
    key = ActionKey(planned.role, planned.input_key, write_options);
    ASSIGN_OR_RETURN(bool hit, cached(key));
    if (hit) return built;
  }
  ASSIGN_OR_RETURN(buildpacks::LayerOutput output, planned.produce());
  if (key.empty() && !output.content_key.empty()) {
    key = ActionKey(planned.role, output.content_key, write_options);
    ASSIGN_OR_RETURN(bool hit, cached(key));
    if (hit) return built;
  }
  ASSIGN_OR_RETURN(built.record, oci::WriteLayer(output.spec, write_options, *deps_.blobs));
  if (!key.empty()) RETURN_IF_ERROR(deps_.actions->Put(key, built.record));
  return built;
}

absl::StatusOr<BuildOutcome> BuildPipeline::Build(const BuildRequest& request) {
  auto fail = [](FailureKind kind, absl::string_view step, absl::Status status) {
    std::optional<BuildFailure> inner = FailureOf(status);
    BuildFailure failure = inner.value_or(BuildFailure{kind, std::string(step), ""});
    if (failure.step.empty()) failure.step = std::string(step);
    return WithFailure(std::move(status), failure);
  };

  struct stat st;
  if (stat(request.source_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return fail(FailureKind::kBadInput, "detect",
                absl::InvalidArgumentError(absl::StrCat(
                    "source directory ", request.source_dir,
                    " does not exist or is not a directory; pass the app's root directory")));
  }
  BuildOutcome outcome;

  absl::Time started = absl::Now();
  absl::StatusOr<SourceInfo> source =
      ReadSourceInfo(request.source_dir, request.source_date_epoch);
  if (!source.ok()) return fail(FailureKind::kBadInput, "detect", source.status());
  outcome.revision = source->revision;

  auto detected = deps_.detector->Detect(request.source_dir, request.detect);
  if (!detected.ok()) {
    FailureKind kind = detected.status().code() == absl::StatusCode::kFailedPrecondition
                           ? FailureKind::kNoAppDetected
                           : FailureKind::kBadInput;
    return fail(kind, "detect", detected.status());
  }
  auto [buildpack, plan] = *std::move(detected);
  outcome.plan = plan;
  Step("detect", started,
       absl::StrCat(plan.language, " (", plan.toolchain, "), ", plan.app_name,
                    plan.main_package.empty() ? "" : " from " + plan.main_package));

  // A registry that is down or refuses us fails the build now, not after the compile.
  started = absl::Now();
  if (absl::Status reachable = deps_.registry->CheckReachable(request.image.repository());
      !reachable.ok()) {
    return fail(FailureKind::kPush, "registry",
                Annotate(reachable, absl::StrCat("registry ", request.image.registry(),
                                                 " is not usable for ", request.image.ToString(),
                                                 " (is it running, and is --image right?)")));
  }
  Step("registry", started, absl::StrCat(request.image.registry(), " answers"));

  started = absl::Now();
  absl::StatusOr<ScratchDir> scratch = ScratchDir::Create(options_.scratch_dir);
  if (!scratch.ok()) return fail(FailureKind::kInternal, "build", scratch.status());
  std::string app_cache =
      absl::StrCat(options_.cache_dir, "/apps/", CacheDirName(request.image.repository()));
  std::error_code ec;
  fs::create_directories(app_cache, ec);
  if (ec) {
    return fail(FailureKind::kInternal, "build",
                absl::InternalError(absl::StrCat("create cache directory ", app_cache, ": ",
                                                 ec.message())));
  }
  chmod(app_cache.c_str(), 0777);

  buildpacks::BuildContext context;
  context.source_dir = request.source_dir;
  context.scratch_dir = scratch->path();
  context.cache_dir = app_cache;
  context.build_env = request.build_env;
  context.sandbox = deps_.sandbox;
  context.log = deps_.log;
  absl::StatusOr<buildpacks::BuildRecipe> recipe = buildpack->Prepare(plan, context);
  if (!recipe.ok()) return fail(FailureKind::kBadInput, "build", recipe.status());

  for (const buildpacks::PlannedLayer& planned : recipe->layers) {
    absl::Time layer_started = absl::Now();
    absl::StatusOr<BuiltLayer> layer = ProduceLayer(planned, source->source_date_epoch);
    std::string step = absl::StrCat("layer ", buildpacks::LayerRoleName(planned.role));
    if (!layer.ok()) return fail(FailureKind::kCompile, step, layer.status());
    Step(step, layer_started,
         absl::StrCat(layer->record.blob.digest.ToString().substr(0, 19), " ",
                      layer->record.blob.size, " bytes", layer->reused ? " (reused)" : ""));
    outcome.layers.push_back(*std::move(layer));
  }
  (void)started;

  // Image config and manifest, both deterministic functions of the layers and the recipe.
  started = absl::Now();
  oci::ImageConfig config;
  const buildpacks::ImageConfigSpec& spec = recipe->config;
  config.created_epoch = source->source_date_epoch;
  config.entrypoint = spec.entrypoint;
  config.cmd = spec.cmd;
  for (const auto& [k, v] : spec.env) config.env.push_back(absl::StrCat(k, "=", v));
  config.working_dir = spec.working_dir;
  config.user = spec.user;
  config.exposed_ports.push_back(absl::StrCat(spec.port, "/tcp"));
  config.labels = spec.labels;
  std::map<std::string, std::string> annotations;
  if (source->revision) {
    config.labels["org.opencontainers.image.revision"] = *source->revision;
    annotations["org.opencontainers.image.revision"] = *source->revision;
  }
  std::vector<oci::Descriptor> layer_descriptors;
  for (const BuiltLayer& layer : outcome.layers) {
    config.diff_ids.push_back(layer.record.diff_id);
    layer_descriptors.push_back(layer.record.blob);
  }
  std::string config_json = oci::SerializeConfig(config);
  absl::StatusOr<Digest> config_digest = deps_.blobs->Put(config_json);
  if (!config_digest.ok()) return fail(FailureKind::kInternal, "image", config_digest.status());
  oci::Descriptor config_descriptor{oci::kMediaTypeConfig, *config_digest,
                                    static_cast<int64_t>(config_json.size()), {}};
  oci::Manifest manifest;
  manifest.config = config_descriptor;
  manifest.layers = layer_descriptors;
  manifest.annotations = annotations;
  std::string manifest_json = oci::SerializeManifest(manifest);
  absl::StatusOr<Digest> manifest_digest = deps_.blobs->Put(manifest_json);
  if (!manifest_digest.ok()) {
    return fail(FailureKind::kInternal, "image", manifest_digest.status());
  }
  Step("image", started, manifest_digest->ToString());

  started = absl::Now();
  registry::PushOptions push_options;
  absl::StatusOr<registry::PushResult> pushed =
      registry::PushImage(*deps_.registry, request.image, *deps_.blobs, config_descriptor,
                          layer_descriptors, manifest_json, push_options);
  if (!pushed.ok()) return fail(FailureKind::kPush, "push", pushed.status());
  outcome.manifest_digest = pushed->manifest_digest;
  outcome.image = request.image.WithDigest(pushed->manifest_digest);
  outcome.blobs_uploaded = pushed->uploaded;
  outcome.blobs_skipped = pushed->skipped;
  Step("push", started,
       absl::StrCat(pushed->uploaded, " blobs uploaded, ", pushed->skipped,
                    " already there, ", pushed->bytes_uploaded, " bytes"));
  return outcome;
}

}  // namespace tempa::worker
