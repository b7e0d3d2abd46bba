// Streams one build's steps and log lines to the coordinator in batches (every flush interval
// or when a batch is full), from its own thread so a slow coordinator never stalls the build.
// Learns from the answers whether the build must stop: cancelled, superseded, or its lease lost.
#pragma once

#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/cancel_token.h"
#include "worker/daemon/coordinator_link.h"

namespace tempa::worker {

struct ProgressReporterOptions {
  absl::Duration flush_interval = absl::Milliseconds(200);
  size_t max_lines_per_report = 1000;
  // Lines kept while the coordinator cannot be reached; older ones beyond this are dropped
  // (and counted in a notice line).
  size_t max_buffered_lines = 100000;
};

class ProgressReporter {
 public:
  // `cancel` is set when the coordinator says the build must stop.
  ProgressReporter(CoordinatorLink* link, const v1::Job& job, CancelToken* cancel,
                   ProgressReporterOptions options = {});
  ~ProgressReporter();

  void Line(absl::string_view line);
  void Step(absl::string_view step, absl::Duration took, absl::string_view detail);
  void Commit(const std::string& commit);
  // Sends what is left (retrying while the coordinator is unreachable, up to `deadline`) and
  // stops the thread.
  void Finish(absl::Duration deadline = absl::Seconds(30));
  // True when the coordinator said this lease is no longer the worker's: report nothing more.
  bool lost();

 private:
  void Loop();
  // Sends one batch; false when it could not (the batch stays queued).
  bool FlushOnce() ABSL_LOCKS_EXCLUDED(mu_);

  CoordinatorLink* link_;
  const std::string build_id_;
  const std::string lease_id_;
  CancelToken* cancel_;
  const ProgressReporterOptions options_;

  absl::Mutex send_mu_;  // one report in flight at a time, in order
  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::StepEvent> steps_ ABSL_GUARDED_BY(mu_);
  std::string commit_ ABSL_GUARDED_BY(mu_);
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool lost_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace tempa::worker
