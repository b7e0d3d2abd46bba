#include "worker/daemon/pipeline_job_executor.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/build_error.h"
#include "common/posix_status.h"
#include "common/registry/image_reference.h"
#include "common/tree_copy.h"

namespace tempa::worker {
namespace {

// Where fetch errors point the user.
std::string FetchReason(const absl::Status& status, const v1::Job& job) {
  std::string fix;
  switch (status.code()) {
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      fix = absl::StrCat("; give the app credentials: tempa apps update ", job.app(),
                         " --git-token-file F (or --ssh-key-file)");
      break;
    case absl::StatusCode::kNotFound:
      fix = "; check the app's --repo and --branch, or the pushed commit";
      break;
    case absl::StatusCode::kUnavailable:
      fix = "; is the git host reachable from this worker?";
      break;
    default:
      break;
  }
  return absl::StrCat("fetch ", job.repo_url(), ": ", status.message(), fix);
}

v1::LayerDescriptor ToDescriptor(const BuiltLayer& layer) {
  v1::LayerDescriptor out;
  out.set_media_type(layer.record.blob.media_type);
  out.set_digest(layer.record.blob.digest.ToString());
  out.set_size(static_cast<int64_t>(layer.record.blob.size));
  out.set_diff_id(layer.record.diff_id.ToString());
  switch (layer.role) {
    case buildpacks::LayerRole::kBase:
      out.set_role(v1::LAYER_ROLE_BASE);
      break;
    case buildpacks::LayerRole::kDeps:
      out.set_role(v1::LAYER_ROLE_DEPS);
      break;
    case buildpacks::LayerRole::kApp:
      out.set_role(v1::LAYER_ROLE_APP);
      break;
    case buildpacks::LayerRole::kServer:
      out.set_role(v1::LAYER_ROLE_SERVER);
      break;
    case buildpacks::LayerRole::kFiles:
      out.set_role(v1::LAYER_ROLE_FILES);
      break;
    case buildpacks::LayerRole::kStatic:
      out.set_role(v1::LAYER_ROLE_STATIC);
      break;
  }
  out.set_reused(layer.reused);
  return out;
}

}  // namespace

v1::BuildResult FailedResult(absl::string_view kind, absl::string_view step,
                             absl::string_view reason, absl::string_view log_tail) {
  v1::BuildResult result;
  result.set_succeeded(false);
  result.mutable_error()->set_kind(std::string(kind));
  result.mutable_error()->set_step(std::string(step));
  result.mutable_error()->set_reason(std::string(reason));
  result.mutable_error()->set_log_tail(std::string(log_tail));
  return result;
}

PipelineJobExecutor::PipelineJobExecutor(GitFetcher* fetcher, WorkerRuntime* runtime,
                                         PipelineJobExecutorOptions options)
    : fetcher_(fetcher), runtime_(runtime), options_(std::move(options)) {}

v1::BuildResult PipelineJobExecutor::Execute(const v1::Job& job, const JobHooks& hooks) {
  const std::string name = absl::StrCat(job.build_id(), "-", job.attempt());
  const std::string checkout = absl::StrCat(options_.checkouts_dir, "/", name);
  UniqueFd parent(::open(options_.checkouts_dir.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (!parent.valid()) {
    return FailedResult("internal", "fetch",
                        absl::StrCat("open ", options_.checkouts_dir, ": ", strerror(errno)));
  }
  // A checkout left by an earlier run of this worker (it was killed) goes first.
  (void)RemoveTreeAt(parent.get(), name, checkout);
  struct Cleanup {
    int dir;
    std::string name;
    std::string path;
    ~Cleanup() { (void)RemoveTreeAt(dir, name, path); }
  } cleanup{parent.get(), name, checkout};

  absl::Time started = absl::Now();
  FetchRequest fetch;
  fetch.repo_url = job.repo_url();
  fetch.branch = job.branch();
  fetch.commit = job.commit();
  fetch.auth.https_username = job.git_credentials().https_username();
  fetch.auth.https_token = job.git_credentials().https_token();
  fetch.auth.ssh_private_key = job.git_credentials().ssh_private_key();
  fetch.auth.ssh_known_hosts = job.git_credentials().ssh_known_hosts();
  fetch.checkout_dir = checkout;
  fetch.max_fetch_bytes = options_.max_fetch_bytes;
  fetch.cancelled = [&hooks] { return IsCancelled(hooks.cancel); };
  fetch.log = hooks.log;
  absl::StatusOr<FetchResult> fetched = fetcher_->Fetch(fetch);
  if (!fetched.ok()) {
    if (fetched.status().code() == absl::StatusCode::kCancelled) {
      return FailedResult("cancelled", "fetch", "stopped while fetching");
    }
    bool bad_input = fetched.status().code() == absl::StatusCode::kInvalidArgument ||
                     fetched.status().code() == absl::StatusCode::kNotFound ||
                     fetched.status().code() == absl::StatusCode::kResourceExhausted;
    return FailedResult(bad_input ? "bad_input" : "fetch", "fetch",
                        FetchReason(fetched.status(), job));
  }
  if (hooks.on_commit && fetched->commit != job.commit()) hooks.on_commit(fetched->commit);
  if (hooks.on_step) {
    hooks.on_step("fetch", absl::Now() - started,
                  absl::StrFormat("%s at %s (%d objects, %.1f MiB)", job.repo_url(),
                                  fetched->commit.substr(0, 12), fetched->received_objects,
                                  fetched->received_bytes / 1048576.0));
  }

  absl::StatusOr<registry::ImageReference> image =
      registry::ImageReference::Parse(absl::StrCat(job.image_repository(), ":", fetched->commit));
  if (!image.ok()) {
    return FailedResult(
        "internal", "push",
        absl::StrCat("image name from the coordinator: ", image.status().message()));
  }
  BuildRequest request;
  request.source_dir = job.path().empty() ? checkout : absl::StrCat(checkout, "/", job.path());
  request.image = *image;
  request.build_env.insert(job.build_env().begin(), job.build_env().end());
  if (!job.start_command().empty()) {
    // The app's settings on the control plane: the operator's word, over the repository's.
    request.detect.start = job.start_command();
    request.detect.start_source = "app settings";
  }
  request.source_date_epoch = fetched->commit_time;
  request.revision = fetched->commit;
  request.limits = options_.limits;
  if (job.memory_bytes() > 0) request.limits.memory_bytes = job.memory_bytes();
  if (job.timeout_ms() > 0) request.limits.wall_time = absl::Milliseconds(job.timeout_ms());

  JobContext context;
  context.registry = options_.registry;
  context.on_step = hooks.on_step;
  context.log = hooks.log;
  context.cancel = hooks.cancel;
  absl::StatusOr<JobOutcome> outcome = runtime_->Build(request, context);
  if (!outcome.ok()) {
    std::optional<BuildFailure> failure = FailureOf(outcome.status());
    if (!failure) failure = BuildFailure{FailureKind::kInternal, "build", ""};
    v1::BuildResult result = FailedResult(FailureKindName(failure->kind), failure->step,
                                          outcome.status().message(), failure->log_tail);
    result.set_commit(fetched->commit);
    return result;
  }
  v1::BuildResult result;
  result.set_succeeded(true);
  result.set_image(outcome->build.image);
  result.set_language(outcome->build.plan.language);
  result.set_commit(fetched->commit);
  for (const BuiltLayer& layer : outcome->build.layers) *result.add_layers() = ToDescriptor(layer);
  return result;
}

}  // namespace tempa::worker
