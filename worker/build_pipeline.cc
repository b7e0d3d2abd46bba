#include "worker/build_pipeline.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/build_error.h"
#include "common/cas/pinning_blob_store.h"
#include "common/oci/layer_writer.h"
#include "common/registry/image_pusher.h"
#include "common/sandbox/cancellable_sandbox.h"
#include "common/status_macros.h"
#include "common/tree_copy.h"
#include "worker/app_source.h"
#include "worker/build_pipeline_dirs.h"
#include "worker/fleet_layers.h"
#include "worker/image_assembly.h"
#include "worker/layer_keys.h"
#include "worker/layer_unpack.h"
#include "worker/run_image.h"
#include "worker/runtime_env.h"
#include "worker/source_info.h"

namespace tempa::worker {
namespace {

namespace fs = std::filesystem;

// Layers keyed by their inputs (base, deps) are written with this fixed mtime rather than the
// commit time, so that a new commit with the same inputs reuses them byte for byte.
constexpr int64_t kInputKeyedLayerEpoch = 0;
// Copies the app's tree (without .git) keeping symlinks as links and mtimes as they were, so
// tools that compare mtimes (cargo) see an unchanged tree as unchanged. Nothing is followed.
absl::StatusOr<std::string> CopySourceTree(const std::string& from, const std::string& to) {
  TreeCopyOptions options;
  options.exclude_names = {".git"};
  RETURN_IF_ERROR(Annotate(CopyTree(from, to, options),
                           absl::StrCat("copy the source ", from, " for the sandbox")));
  return to;
}

// The last layer of `role` in `layers`, unpacked into `dir`; a fleet layer's blob is fetched
// from the repository it is mounted from.
absl::Status ExtractBuiltLayer(const std::vector<BuiltLayer>& layers, buildpacks::LayerRole role,
                               const std::string& dir, cas::BlobStore& blobs,
                               const std::map<Digest, std::string>& blob_sources,
                               registry::RegistryClient& registry) {
  for (auto layer = layers.rbegin(); layer != layers.rend(); ++layer) {
    if (layer->role != role) continue;
    const Digest& digest = layer->record.blob.digest;
    FetchBlob fetch;
    if (auto source = blob_sources.find(digest); source != blob_sources.end()) {
      fetch = [&registry, repo = source->second](const Digest& d, uint64_t size,
                                                 cas::BlobWriter& writer) {
        return registry.GetBlob(repo, d, size, writer);
      };
    }
    return UnpackLayer(
        layer->record, blobs, fetch, dir,
        absl::StrCat(buildpacks::LayerRoleName(role), " layer ", digest.ToString().substr(0, 19)));
  }
  return absl::NotFoundError(
      absl::StrCat("this build has no ", buildpacks::LayerRoleName(role), " layer to unpack"));
}

}  // namespace

// One build's own state; the pipeline object itself holds none.
struct BuildPipeline::Run {
  Run(const BuildSession& session, Sandbox* sandbox, cas::BlobStore* blobs)
      : session(session), sandbox(sandbox, session.cancel), blobs(blobs) {}

  void Step(absl::string_view name, absl::Time started, absl::string_view detail) const {
    if (session.on_step) session.on_step(name, absl::Now() - started, detail);
  }
  bool cancelled() const { return IsCancelled(session.cancel); }
  const BuildSession& session;
  const registry::ImageReference* target = nullptr;  // the image pushed
  // The injected sandbox, handing the build's cancel token to every command.
  CancellableSandbox sandbox;
  // The shared store, pinning every blob the build writes or holds until the build ends.
  cas::PinningBlobStore blobs;
  // Fleet layers: where each reused one's blob is mounted from (repository on the target's
  // registry), and the keys of those built here, recorded once pushed.
  std::map<Digest, std::string> blob_sources;
  std::vector<std::pair<std::string, oci::LayerRecord>> fleet_puts;
};

BuildPipeline::BuildPipeline(PipelineDeps deps, PipelineOptions options)
    : deps_(std::move(deps)), options_(std::move(options)) {}

absl::StatusOr<BuiltLayer> BuildPipeline::ProduceLayer(const buildpacks::PlannedLayer& planned,
                                                       int64_t commit_epoch,
                                                       absl::string_view build_scope,
                                                       absl::string_view env_scope, Run& run) {
  BuiltLayer built{planned.role, {}, false};
  auto cached = [&](const std::string& key) -> absl::StatusOr<bool> {
    ASSIGN_OR_RETURN(std::optional<oci::LayerRecord> hit, deps_.actions->Get(key));
    if (!hit) return false;
    // Pinned as it is found, so no other build's eviction takes it before the push.
    absl::Status held = run.blobs.Hold(hit->blob.digest);
    if (absl::IsNotFound(held)) return false;  // evicted since: build it again
    RETURN_IF_ERROR(held);
    built.record = *hit;
    built.reused = true;
    return true;
  };

  oci::LayerWriteOptions write_options;
  // The runtime files' layer is keyed by their content alone: stamped with the fixed epoch, so a
  // commit that changes only code reuses it.
  write_options.mtime = planned.input_key.empty() && planned.role != buildpacks::LayerRole::kFiles
                            ? commit_epoch
                            : kInputKeyedLayerEpoch;
  write_options.compression_level = options_.compression_level;
  // A dependency layer is the output of the build's own code (setup.py, build backends) run
  // with the app's build env and caches: reused only by the same app with the same env, so
  // one repository can never plant a layer that another's identical lockfile then picks up.
  std::string key = InputLayerKey(planned, build_scope, write_options);
  if (!key.empty()) {
    ASSIGN_OR_RETURN(bool hit, cached(key));
    if (hit) return built;
  }
  // The fleet shares dependency layers across apps: keyed by inputs and build env alone, so
  // only those its buildpack can make from those inputs alone (produce_for_fleet) take part.
  // This trusts every app whose builds feed the same index (one operator's farm) only as far as
  // the layer's inputs go: a layer an app's own code or cache could shape is never shared.
  std::string fleet_key;
  if (deps_.remote_layers != nullptr) fleet_key = FleetLayerKey(planned, env_scope, write_options);
  if (!fleet_key.empty()) {
    if (std::optional<RemoteLayer> remote = FindFleetLayer(
            *deps_.remote_layers, *run.session.registry, *run.target, fleet_key, run.session.log)) {
      built.record = remote->record;
      built.reused = true;
      built.reused_from = remote->repository;
      run.blob_sources[remote->record.blob.digest] =
          *RepositoryOn(run.target->registry(), remote->repository);
      return built;
    }
  }
  ASSIGN_OR_RETURN(buildpacks::LayerOutput output,
                   fleet_key.empty() ? planned.produce() : planned.produce_for_fleet());
  built.report = output.report;
  if (key.empty() && !output.content_key.empty()) {
    key = LayerActionKey(planned.role, output.content_key, write_options);
    ASSIGN_OR_RETURN(bool hit, cached(key));
    if (hit) return built;
  }
  ASSIGN_OR_RETURN(built.record, oci::WriteLayer(output.spec, write_options, run.blobs));
  if (!key.empty()) RETURN_IF_ERROR(deps_.actions->Put(key, built.record));
  if (!fleet_key.empty()) run.fleet_puts.emplace_back(fleet_key, built.record);
  return built;
}

absl::StatusOr<BuildOutcome> BuildPipeline::Build(const BuildRequest& request,
                                                  const BuildSession& session) {
  if (session.registry == nullptr) {
    return WithFailure(absl::InvalidArgumentError("a build needs a client for its registry"),
                       {FailureKind::kInternal, "registry", ""});
  }
  Run run(session, deps_.sandbox, deps_.blobs);
  run.target = &request.image;
  absl::StatusOr<BuildOutcome> outcome = BuildWith(request, run);
  // Whatever a cancelled build failed with (a killed step, a cut connection) is its cancel.
  if (!outcome.ok() && run.cancelled()) {
    BuildFailure failure = FailureOf(outcome.status()).value_or(BuildFailure{});
    if (failure.kind == FailureKind::kCancelled) return outcome;
    failure.kind = FailureKind::kCancelled;
    return WithFailure(absl::CancelledError(absl::StrCat("the build was cancelled (",
                                                         outcome.status().message(), ")")),
                       failure);
  }
  return outcome;
}

absl::StatusOr<BuildOutcome> BuildPipeline::BuildWith(const BuildRequest& request, Run& run) {
  const BuildSession& session = run.session;
  auto fail = [](FailureKind kind, absl::string_view step, absl::Status status) {
    std::optional<BuildFailure> inner = FailureOf(status);
    BuildFailure failure = inner.value_or(BuildFailure{kind, std::string(step), ""});
    if (failure.step.empty()) failure.step = std::string(step);
    return WithFailure(std::move(status), failure);
  };
  // Checked between steps: a cancelled build starts nothing more.
  auto cancelled_before = [&](absl::string_view step) {
    return WithFailure(absl::CancelledError(absl::StrCat("the build was cancelled before ", step)),
                       {FailureKind::kCancelled, std::string(step), ""});
  };

  BuildOutcome outcome;
  absl::Time started = absl::Now();
  if (absl::Status env = CheckRuntimeEnv(request.runtime_env); !env.ok()) {
    return fail(FailureKind::kBadInput, "config", env);
  }
  // The same resolution `tempa detect` prints; failures carry their kind and step.
  absl::StatusOr<AppPlan> planned =
      PlanApp(request.source_dir, request.detect, request.build_env, *deps_.detector);
  if (!planned.ok()) return planned.status();
  const ResolvedApp* app = &planned->app;
  buildpacks::Buildpack* buildpack = planned->buildpack;
  const buildpacks::BuildPlan& plan = planned->plan;
  outcome.plan = plan;
  absl::StatusOr<SourceInfo> source = ReadSourceInfo(request.source_dir, request.source_date_epoch);
  if (!source.ok()) return fail(FailureKind::kBadInput, "detect", source.status());
  if (request.revision) source->revision = request.revision;
  outcome.revision = source->revision;
  std::string notes = app->notes.empty() ? "" : " [" + absl::StrJoin(app->notes, "; ") + "]";
  run.Step("detect", started,
           absl::StrCat(plan.language, " (", plan.toolchain, "), ", plan.app_name,
                        plan.main_package.empty() ? "" : " from " + plan.main_package, notes));

  // A registry that is down or refuses us fails the build now, not after the compile.
  if (run.cancelled()) return cancelled_before("registry");
  started = absl::Now();
  if (absl::Status reachable = session.registry->CheckReachable(request.image.repository());
      !reachable.ok()) {
    return fail(FailureKind::kPush, "registry",
                Annotate(reachable, absl::StrCat("registry ", request.image.registry(),
                                                 " is not usable for ", request.image.ToString(),
                                                 " (is it running, and is --image right?)")));
  }
  run.Step("registry", started, absl::StrCat(request.image.registry(), " answers"));

  std::optional<RunImageBase> run_base;
  if (request.run_image) {
    started = absl::Now();
    registry::RegistryClient* client =
        session.run_image_registry != nullptr ? session.run_image_registry : session.registry;
    absl::StatusOr<RunImageBase> pulled = PullRunImage(*client, *request.run_image, run.blobs);
    if (!pulled.ok()) return fail(FailureKind::kBadInput, "run-image", pulled.status());
    run_base = *std::move(pulled);
    for (const oci::LayerRecord& layer : run_base->layers) {
      if (absl::Status s = run.blobs.Hold(layer.blob.digest); !s.ok()) {
        return fail(FailureKind::kInternal, "run-image", s);
      }
    }
    outcome.run_image = run_base->reference;
    run.Step("run image", started, run_base->reference);
  }

  if (run.cancelled()) return cancelled_before("build");
  started = absl::Now();
  // The app is its image repository on its registry: two registries' "acme/api" are two apps.
  const std::string app_identity =
      absl::StrCat(request.image.registry(), "/", request.image.repository());
  BuildDirs::Options dir_options;
  dir_options.scratch_parent = options_.scratch_dir;
  dir_options.cache_parent = options_.cache_dir;
  dir_options.build_owner = options_.build_owner.value_or(CurrentOwner());
  dir_options.shared_seeds_root = options_.shared_seeds_root;
  dir_options.cancel = session.cancel;
  absl::StatusOr<BuildDirs> dirs = BuildDirs::Open(dir_options, app_identity, session.log);
  if (!dirs.ok()) return fail(FailureKind::kInternal, "build", dirs.status());

  // A source the build user cannot reach or read (say under root's private home, or a 0700
  // directory) is built from a copy, the way a worker builds from a fresh checkout. The copy is
  // made while the scratch directory is still root's.
  std::string build_source = app->app_dir;
  if (deps_.source_reachable && !deps_.source_reachable(build_source).ok()) {
    absl::StatusOr<std::string> copy = CopySourceTree(build_source, dirs->scratch() + "/src");
    if (!copy.ok()) return fail(FailureKind::kInternal, "build", copy.status());
    build_source = *copy;
  }
  if (absl::Status s = dirs->HandOverScratch(); !s.ok()) {
    return fail(FailureKind::kInternal, "build", s);
  }
  if (deps_.prepare_writable_dir) {
    for (const std::string& dir : {dirs->scratch(), dirs->app_cache()}) {
      if (absl::Status s = deps_.prepare_writable_dir(dir); !s.ok()) {
        return fail(FailureKind::kInternal, "build", s);
      }
    }
  }

  buildpacks::BuildContext context;
  context.source_dir = build_source;
  context.scratch_dir = dirs->scratch();
  context.cache_dir = dirs->app_cache();
  context.deb_cache_dir = dirs->shared_debs();
  context.toolchain_seed_dir = dirs->toolchain_seeds();
  context.build_env = app->build_env;
  context.include_files = app->include_files;
  context.exclude_files = app->exclude_files;
  context.sandbox = &run.sandbox;
  context.limits = request.limits;
  context.log = session.log;
  // A later step that needs an earlier layer's files (Python's collectstatic and the venv) gets
  // them from the layer as this build has it: built, reused from the cache, or from the fleet.
  context.extract_layer = [&outcome, &run](buildpacks::LayerRole role, const std::string& dir) {
    return ExtractBuiltLayer(outcome.layers, role, dir, run.blobs, run.blob_sources,
                             *run.session.registry);
  };
  absl::StatusOr<buildpacks::BuildRecipe> recipe = buildpack->Prepare(plan, context);
  if (!recipe.ok()) return fail(FailureKind::kBadInput, "build", recipe.status());
  // The operator's env over the buildpack's; where the start command came from, for whoever
  // reads the image.
  for (const auto& [name, value] : request.runtime_env) recipe->config.env[name] = value;
  if (!plan.start_source.empty()) {
    recipe->config.labels["dev.tempa.start-source"] = plan.start_source;
  }

  if (run_base) {
    for (const oci::LayerRecord& layer : run_base->layers) {
      outcome.layers.push_back({buildpacks::LayerRole::kBase, layer, true});
    }
  }
  const std::string env_scope = BuildEnvScope(app->build_env);
  const std::string build_scope = AppBuildScope(app_identity, app->build_env);
  for (const buildpacks::PlannedLayer& planned : recipe->layers) {
    if (run_base && planned.role == buildpacks::LayerRole::kBase) continue;  // replaced
    std::string step = absl::StrCat("layer ", buildpacks::LayerRoleName(planned.role));
    if (run.cancelled()) return cancelled_before(step);
    absl::Time layer_started = absl::Now();
    absl::StatusOr<BuiltLayer> layer =
        ProduceLayer(planned, source->source_date_epoch, build_scope, env_scope, run);
    if (!layer.ok()) {
      // A layer source that is not what the build should have left (a symlink where a file
      // belongs, a fifo) is the repository's doing: bad input, naming the path.
      FailureKind kind = layer.status().code() == absl::StatusCode::kInvalidArgument
                             ? FailureKind::kBadInput
                             : FailureKind::kCompile;
      return fail(kind, step, layer.status());
    }
    run.Step(step, layer_started,
             absl::StrCat(layer->record.blob.digest.ToString().substr(0, 19), " ",
                          layer->record.blob.size, " bytes",
                          !layer->reused_from.empty() ? " (reused from " + layer->reused_from + ")"
                          : layer->reused             ? " (reused)"
                                                      : ""));
    outcome.layers.push_back(*std::move(layer));
  }

  if (run.cancelled()) return cancelled_before("image");
  started = absl::Now();
  ImageInputs inputs;
  inputs.spec = recipe->config;
  if (run_base) inputs.base_config = run_base->config;
  for (const BuiltLayer& layer : outcome.layers) inputs.layers.push_back(layer.record);
  inputs.created_epoch = source->source_date_epoch;
  inputs.revision = source->revision;
  absl::StatusOr<AssembledImage> image = AssembleImage(inputs, run.blobs);
  if (!image.ok()) return fail(FailureKind::kInternal, "image", image.status());
  run.Step("image", started, image->manifest_digest.ToString());

  if (run.cancelled()) return cancelled_before("push");
  started = absl::Now();
  registry::PushOptions push_options;
  if (request.run_image && request.run_image->registry() == request.image.registry() &&
      request.run_image->repository() != request.image.repository()) {
    push_options.mount_from.push_back(request.run_image->repository());
  }
  push_options.blob_sources = run.blob_sources;
  absl::StatusOr<registry::PushResult> pushed =
      registry::PushImage(*session.registry, request.image, run.blobs, image->config, image->layers,
                          image->manifest_json, push_options);
  if (!pushed.ok()) return fail(FailureKind::kPush, "push", pushed.status());
  outcome.manifest_digest = pushed->manifest_digest;
  outcome.image = request.image.WithDigest(pushed->manifest_digest);
  outcome.blobs_uploaded = pushed->uploaded;
  outcome.blobs_skipped = pushed->skipped;
  outcome.blobs_mounted = pushed->mounted;
  run.Step("push", started,
           absl::StrCat(pushed->uploaded, " blobs uploaded, ", pushed->skipped, " already there, ",
                        pushed->mounted, " mounted, ", pushed->bytes_uploaded, " bytes"));
  // Now that the registry holds them, the fleet may reuse the layers built here.
  const std::string repository =
      absl::StrCat(request.image.registry(), "/", request.image.repository());
  for (const auto& [key, record] : run.fleet_puts) {
    if (absl::Status s = deps_.remote_layers->Put(key, record, repository);
        !s.ok() && session.log) {
      session.log(
          absl::StrCat("tempa: could not record the layer in the fleet's cache: ", s.message()));
    }
  }
  return outcome;
}

}  // namespace tempa::worker
