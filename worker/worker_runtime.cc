#include "worker/worker_runtime.h"

#include <utility>

#include "buildpacks/go/go_toolchain.h"
#include "common/build_error.h"
#include "common/status_macros.h"
#include "worker/toolchain_seeds.h"

namespace tempa::worker {
namespace {

registry::RegistryClientOptions ClientOptions(const RegistryAccess& access) {
  registry::RegistryClientOptions options;
  options.insecure = access.insecure;
  options.credentials = access.credentials;
  options.token_hosts = access.token_hosts;
  return options;
}

absl::Status CacheFailure(absl::Status status) {
  return WithFailure(std::move(status), {FailureKind::kInternal, "cache", ""});
}

}  // namespace

WorkerRuntime::WorkerRuntime(WorkerRuntimeOptions options) : options_(std::move(options)) {}

WorkerRuntime::~WorkerRuntime() = default;

absl::StatusOr<std::unique_ptr<WorkerRuntime>> WorkerRuntime::Open(WorkerRuntimeOptions options) {
  std::unique_ptr<WorkerRuntime> runtime(new WorkerRuntime(std::move(options)));
  const WorkerRuntimeOptions& opts = runtime->options_;
  runtime->sandbox_ = std::make_unique<BubblewrapSandbox>(opts.sandbox);
  runtime->build_owner_ = runtime->sandbox_->drops_privileges()
                              ? DirOwner{opts.sandbox.build_uid, opts.sandbox.build_gid}
                              : CurrentOwner();
  absl::StatusOr<CacheLayout> layout = PrepareCacheDir(opts.cache_dir, runtime->build_owner_);
  if (!layout.ok()) return CacheFailure(layout.status());
  runtime->layout_ = *std::move(layout);

  cas::LocalCasOptions cas_options;
  cas_options.max_bytes = opts.cas_max_bytes;
  cas_options.lock_wait = opts.cas_lock_wait;
  cas_options.on_wait = opts.on_cas_wait;
  absl::StatusOr<std::unique_ptr<cas::LocalCas>> cas =
      cas::LocalCas::Open(runtime->layout_.cas, cas_options);
  if (!cas.ok()) return CacheFailure(cas.status());
  runtime->cas_ = *std::move(cas);
  runtime->detector_ = opts.detector;
  if (!runtime->detector_) {
    runtime->detector_ = std::make_shared<buildpacks::Detector>(
        buildpacks::Detector::WithDefaultBuildpacks(opts.buildpacks));
  }

  PipelineDeps deps;
  deps.blobs = &runtime->cas_->blobs();
  deps.actions = &runtime->cas_->actions();
  deps.sandbox = runtime->sandbox_.get();
  deps.detector = runtime->detector_.get();
  deps.remote_layers = opts.remote_layers;
  BubblewrapSandbox* sandbox = runtime->sandbox_.get();
  const BubblewrapSandboxOptions* sandbox_options = &runtime->options_.sandbox;
  deps.prepare_writable_dir = [sandbox_options](const std::string& dir) {
    return PrepareForSandbox(dir, *sandbox_options);
  };
  deps.source_reachable = [sandbox, sandbox_options](const std::string& dir) {
    if (!sandbox->drops_privileges()) return absl::OkStatus();
    return CheckReadableBy(dir, sandbox_options->build_uid, sandbox_options->build_gid);
  };
  PipelineOptions pipeline_options;
  pipeline_options.cache_dir = runtime->layout_.work_area;
  pipeline_options.scratch_dir = runtime->layout_.work_area + "/tmp";
  pipeline_options.build_owner = runtime->build_owner_;
  pipeline_options.compression_level = opts.compression_level;
  runtime->pipeline_ = std::make_unique<BuildPipeline>(std::move(deps), pipeline_options);
  return runtime;
}

absl::StatusOr<JobOutcome> WorkerRuntime::Build(const BuildRequest& request,
                                                const JobContext& context) {
  // Clients are the build's own: its credentials, and request counts that are its alone.
  registry::RegistryClient client(request.image.registry(), &transport_,
                                  ClientOptions(context.registry));
  std::optional<registry::RegistryClient> run_image_client;
  if (request.run_image && request.run_image->registry() != request.image.registry()) {
    run_image_client.emplace(request.run_image->registry(), &transport_,
                             ClientOptions(context.run_image_registry.value_or(context.registry)));
  }
  BuildSession session;
  session.registry = &client;
  session.run_image_registry = run_image_client ? &*run_image_client : nullptr;
  session.on_step = context.on_step;
  session.log = context.log;
  session.cancel = context.cancel;
  ASSIGN_OR_RETURN(BuildOutcome outcome, pipeline_->Build(request, session));
  return JobOutcome{std::move(outcome), client.counts()};
}

absl::Status WorkerRuntime::PrepareToolchainSeeds(
    const std::function<void(absl::string_view)>& log) {
  buildpacks::HostGoToolchainLocator go;
  return ::tempa::worker::PrepareToolchainSeeds(layout_.work_area, kDefaultSharedSeedsRoot,
                                                *sandbox_, build_owner_, go, log);
}

}  // namespace tempa::worker
