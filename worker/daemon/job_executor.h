// What a worker does with a leased job: fetch the commit and build it. The daemon's loop
// (leases, heartbeats, progress) is independent of how; the real executor is
// pipeline_job_executor.h (libgit2 fetch + the build pipeline).
#pragma once

#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/cancel_token.h"
#include "tempa/v1/worker.pb.h"

namespace tempa::worker {

struct JobHooks {
  std::function<void(absl::string_view line)> log;
  std::function<void(absl::string_view step, absl::Duration took, absl::string_view detail)>
      on_step;
  // The branch head the job resolved to, when it named no commit.
  std::function<void(const std::string& commit)> on_commit;
  const CancelToken* cancel = nullptr;
};

class JobExecutor {
 public:
  virtual ~JobExecutor() = default;
  // Runs the job to its end and says how it ended; never throws. Called from several slot
  // threads at once.
  virtual v1::BuildResult Execute(const v1::Job& job, const JobHooks& context) = 0;
};

}  // namespace tempa::worker
