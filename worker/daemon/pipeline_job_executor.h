// The real JobExecutor: fetches the job's commit from the app's bare mirror (libgit2) into a
// fresh checkout, builds it with the worker's runtime (the same composition root `tempa build`
// uses), pushes REGISTRY/APP:COMMIT, and turns the outcome into a BuildResult.
#pragma once

#include <string>

#include "worker/daemon/job_executor.h"
#include "worker/git/git_fetcher.h"
#include "worker/worker_runtime.h"

namespace tempa::worker {

struct PipelineJobExecutorOptions {
  // Root-owned (0700) parent of per-job checkouts; each is removed when its job ends.
  std::string checkouts_dir;
  RegistryAccess registry;
  uint64_t max_fetch_bytes = 2ull << 30;
  SandboxLimits limits;  // the defaults; a job's own memory/time limits win
};

class PipelineJobExecutor final : public JobExecutor {
 public:
  PipelineJobExecutor(GitFetcher* fetcher, WorkerRuntime* runtime,
                      PipelineJobExecutorOptions options);
  v1::BuildResult Execute(const v1::Job& job, const JobHooks& hooks) override;

 private:
  GitFetcher* fetcher_;
  WorkerRuntime* runtime_;
  PipelineJobExecutorOptions options_;
};

// "a1b2" → a failed result of `kind` at `step` with `reason`.
v1::BuildResult FailedResult(absl::string_view kind, absl::string_view step,
                             absl::string_view reason, absl::string_view log_tail = "");

}  // namespace tempa::worker
