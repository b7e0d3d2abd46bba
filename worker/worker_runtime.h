// WorkerRuntime: the one composition root of a worker. It opens everything a build needs once —
// the cache directory's layout, the CAS (whose one-process lock it holds for its lifetime), the
// sandbox, the buildpacks, the HTTP transport and the pipeline — and runs builds on it, each with
// its own per-build context (registry access, observers, cancel token). The `tempa build` CLI
// runs one build on it; the worker daemon holds one and runs a build per slot, from several
// threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "buildpacks/detector.h"
#include "common/cancel_token.h"
#include "common/cas/local_cas.h"
#include "common/registry/curl_http_transport.h"
#include "common/registry/registry_client.h"
#include "worker/build_pipeline.h"
#include "worker/cache_layout.h"
#include "worker/sandbox/bubblewrap_sandbox.h"

namespace tempa::worker {

struct WorkerRuntimeOptions {
  // The cache directory (CAS, app caches, scratch); made when missing. See PrepareCacheDir.
  std::string cache_dir;
  BubblewrapSandboxOptions sandbox;
  buildpacks::DefaultBuildpackOptions buildpacks;
  // The buildpacks to detect with instead of the defaults (tests); must be safe to share by
  // concurrent builds.
  std::shared_ptr<buildpacks::Detector> detector;
  // How long Open waits for another process holding the CAS, calling `on_cas_wait` once first.
  absl::Duration cas_lock_wait = absl::Seconds(30);
  std::function<void()> on_cas_wait;
  uint64_t cas_max_bytes = 0;  // 0: no cap
  // The fleet's layer cache (see PipelineDeps::remote_layers); must outlive the runtime.
  RemoteLayerIndex* remote_layers = nullptr;
  int compression_level = 6;
};

// How to talk to one registry.
struct RegistryAccess {
  bool insecure = false;  // plain HTTP to a non-loopback registry
  std::optional<registry::RegistryCredentials> credentials;
  // Token services on other hosts that may receive `credentials` (the operator's word).
  std::vector<std::string> token_hosts;
};

// One build's own context; everything here must outlive the Build call.
struct JobContext {
  // For the registry of BuildRequest::image.
  RegistryAccess registry;
  // For BuildRequest::run_image's registry when it is another one; unset: `registry`'s access.
  std::optional<RegistryAccess> run_image_registry;
  std::function<void(absl::string_view step, absl::Duration took, absl::string_view detail)>
      on_step;
  std::function<void(absl::string_view line)> log;
  const CancelToken* cancel = nullptr;  // null: never cancelled
};

struct JobOutcome {
  BuildOutcome build;
  registry::RequestCounts registry_requests;  // to the image's registry, by this build
};

class WorkerRuntime {
 public:
  // Prepares the cache directory and opens everything. Errors carry a BuildFailure (kind
  // internal, step "cache"): a cache directory that cannot be made safe, a CAS another process
  // holds past cas_lock_wait.
  static absl::StatusOr<std::unique_ptr<WorkerRuntime>> Open(WorkerRuntimeOptions options);
  ~WorkerRuntime();
  WorkerRuntime(const WorkerRuntime&) = delete;
  WorkerRuntime& operator=(const WorkerRuntime&) = delete;

  // Runs one build to the end (see BuildPipeline::Build). Safe to call from several threads at
  // once; builds of one app wait for each other (its cache is locked), others run side by side.
  absl::StatusOr<JobOutcome> Build(const BuildRequest& request, const JobContext& context);

  // Compiles what toolchains can share across apps (the Go standard library for Tempa's flags)
  // once, by Tempa itself, before any build needs it. Errors are worth a log line only: builds
  // then compile it themselves.
  absl::Status PrepareToolchainSeeds(const std::function<void(absl::string_view)>& log);

  const CacheLayout& layout() const { return layout_; }
  cas::LocalCas& cas() { return *cas_; }
  // Who owns what builds write (the sandbox's build user when the worker is root).
  DirOwner build_owner() const { return build_owner_; }

 private:
  explicit WorkerRuntime(WorkerRuntimeOptions options);

  const WorkerRuntimeOptions options_;
  std::unique_ptr<BubblewrapSandbox> sandbox_;
  DirOwner build_owner_;
  CacheLayout layout_;
  std::unique_ptr<cas::LocalCas> cas_;
  std::shared_ptr<buildpacks::Detector> detector_;
  registry::CurlHttpTransport transport_;
  std::unique_ptr<BuildPipeline> pipeline_;
};

}  // namespace tempa::worker
