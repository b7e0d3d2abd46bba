// The build pipeline: source directory → plan → sandboxed build → cached layers → image → push.
// The `tempa build` CLI is a thin front over it; the worker daemon will drive the same object.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "buildpacks/build_plan.h"
#include "buildpacks/buildpack.h"
#include "buildpacks/detector.h"
#include "common/cancel_token.h"
#include "common/cas/action_cache.h"
#include "common/cas/blob_store.h"
#include "common/digest.h"
#include "common/oci/descriptor.h"
#include "common/registry/image_reference.h"
#include "common/registry/registry_client.h"
#include "common/sandbox/sandbox.h"
#include "worker/build_pipeline_dirs.h"
#include "worker/remote_layer_index.h"

namespace tempa::worker {

struct BuildRequest {
  std::string source_dir;
  registry::ImageReference image;
  std::map<std::string, std::string> build_env;
  buildpacks::DetectOptions detect;
  // The operator's run-time env (`tempa build --env`): written into the image config's Env over
  // the buildpack's. Visible to whoever pulls the image; checked by CheckRuntimeEnv.
  std::map<std::string, std::string> runtime_env;
  // SOURCE_DATE_EPOCH from the environment, which wins over the commit time.
  std::optional<int64_t> source_date_epoch;
  // The commit the source is, when the source directory has no .git of its own (a worker's
  // checkout); with it, `source_date_epoch` should be the commit's time.
  std::optional<std::string> revision;
  // Limits for every sandboxed build step.
  SandboxLimits limits;
  // A base image to build onto instead of the buildpack's own run base.
  std::optional<registry::ImageReference> run_image;
};

struct BuiltLayer {
  buildpacks::LayerRole role;
  oci::LayerRecord record;
  bool reused = false;  // came from the action cache instead of being built
  // When reused from the fleet's layer cache: the "REGISTRY/REPO" its blob is mounted from.
  std::string reused_from;
  // The producer's account of what the layer holds (LayerOutput::report); empty when the layer
  // was reused without producing it.
  std::map<std::string, std::string> report;
};

struct BuildOutcome {
  std::string image;  // HOST[:PORT]/NAME@sha256:...
  Digest manifest_digest;
  buildpacks::BuildPlan plan;
  std::vector<BuiltLayer> layers;
  std::optional<std::string> revision;
  std::string run_image;  // the pinned run image reference, when one was used
  int blobs_uploaded = 0;
  int blobs_skipped = 0;
  int blobs_mounted = 0;  // cross-repository mounts (fleet layers, a run image's)
};

// Everything external the pipeline uses, injected; shared by every build the pipeline runs,
// so each must be safe to use from several builds at once.
struct PipelineDeps {
  cas::BlobStore* blobs = nullptr;
  cas::ActionCache* actions = nullptr;
  Sandbox* sandbox = nullptr;
  buildpacks::Detector* detector = nullptr;
  // Hands a tree the daemon made for one build (its scratch directory, the app's cache) to the
  // sandbox's build user, never following a link in it (the sandbox's own rule).
  std::function<absl::Status(const std::string& dir)> prepare_writable_dir;
  // OK when the sandbox's build user can reach and read `dir` to mount it; otherwise the
  // source is copied into the build's scratch directory first.
  std::function<absl::Status(const std::string& dir)> source_reachable;
  // The fleet's layer cache; null: layers are only reused from this worker's own cache. A
  // dependency layer it knows (keyed by its inputs and build env, not by app) is mounted from
  // the repository holding it instead of being built; one built here is recorded after the push.
  RemoteLayerIndex* remote_layers = nullptr;
};

// What belongs to one build and is passed with it: where it pushes, who watches it, and how it
// is stopped. Everything here must outlive the Build call.
struct BuildSession {
  // Client for the registry of BuildRequest::image (required).
  registry::RegistryClient* registry = nullptr;
  // Client for the run image's registry; null when it is the same as `registry`.
  registry::RegistryClient* run_image_registry = nullptr;
  // Step progress: name, how long it took, one-line detail. Build log lines go to `log`. Both
  // are called on the thread running Build.
  std::function<void(absl::string_view step, absl::Duration took, absl::string_view detail)>
      on_step;
  std::function<void(absl::string_view line)> log;
  // Set by another thread to stop the build: the running sandboxed step is killed, no further
  // step starts, and Build fails with FailureKind::kCancelled. Null: never cancelled.
  const CancelToken* cancel = nullptr;
};

struct PipelineOptions {
  // Per-app tool caches live in cache_dir/apps/<AppCacheKey>/ (owned by the build user, 0700),
  // each locked by cache_dir/locks/<key>.lock (root's, 0700) for a whole build; apps/ is
  // root's (0711).
  std::string cache_dir;
  // Parent of per-build scratch directories (root's, 0711); each scratch directory is the
  // build user's, 0700, and removed when the build ends.
  std::string scratch_dir;
  // Who owns the directories a build writes (the sandbox's build user). Unset: this process.
  std::optional<DirOwner> build_owner;
  // Toolchain seeds shared by every work area on the machine (see OpenToolchainSeeds); empty:
  // each cache_dir keeps its own in seeds/.
  std::string shared_seeds_root = kDefaultSharedSeedsRoot;
  int compression_level = 6;
};

// One object serves any number of concurrent builds (a worker's slots): it holds no per-build
// state; each Build call keeps its own.
class BuildPipeline {
 public:
  BuildPipeline(PipelineDeps deps, PipelineOptions options);
  // Runs the whole build. Failures carry a BuildFailure (common/build_error.h). Every blob the
  // build uses stays pinned in the store (no eviction) until Build returns.
  absl::StatusOr<BuildOutcome> Build(const BuildRequest& request, const BuildSession& session);

 private:
  struct Run;  // one build's state (build_pipeline.cc)
  absl::StatusOr<BuildOutcome> BuildWith(const BuildRequest& request, Run& run);
  // `build_scope` (the app and its build env) keys layers made by the build's own code.
  // `env_scope` (the build env) keys them in the fleet's cache.
  absl::StatusOr<BuiltLayer> ProduceLayer(const buildpacks::PlannedLayer& planned, int64_t epoch,
                                          absl::string_view build_scope,
                                          absl::string_view env_scope, Run& run);

  PipelineDeps deps_;
  PipelineOptions options_;
};

}  // namespace tempa::worker
