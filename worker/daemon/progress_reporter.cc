#include "worker/daemon/progress_reporter.h"

#include "absl/strings/str_cat.h"

namespace tempa::worker {

ProgressReporter::ProgressReporter(CoordinatorLink* link, const v1::Job& job, CancelToken* cancel,
                                   ProgressReporterOptions options)
    : link_(link),
      build_id_(job.build_id()),
      lease_id_(job.lease_id()),
      cancel_(cancel),
      options_(options) {
  thread_ = std::thread([this] { Loop(); });
}

ProgressReporter::~ProgressReporter() { Finish(absl::ZeroDuration()); }

void ProgressReporter::Line(absl::string_view line) {
  absl::MutexLock lock(&mu_);
  if (lines_.size() >= options_.max_buffered_lines) {
    ++dropped_;
    return;
  }
  lines_.emplace_back(line);
}

void ProgressReporter::Step(absl::string_view step, absl::Duration took, absl::string_view detail) {
  absl::MutexLock lock(&mu_);
  v1::StepEvent event;
  event.set_step(std::string(step));
  event.set_took_ms(absl::ToInt64Milliseconds(took));
  event.set_detail(std::string(detail));
  steps_.push_back(std::move(event));
}

void ProgressReporter::Commit(const std::string& commit) {
  absl::MutexLock lock(&mu_);
  commit_ = commit;
}

bool ProgressReporter::lost() {
  absl::MutexLock lock(&mu_);
  return lost_;
}

bool ProgressReporter::FlushOnce() {
  absl::MutexLock send(&send_mu_);
  v1::ReportProgressRequest request;
  size_t taken_lines = 0, taken_steps = 0;
  {
    absl::MutexLock lock(&mu_);
    if (lost_) return true;
    if (lines_.empty() && steps_.empty() && commit_.empty() && dropped_ == 0) return true;
    request.set_build_id(build_id_);
    request.set_lease_id(lease_id_);
    request.set_resolved_commit(commit_);
    // Steps and lines interleave in the log by batch, steps first: a step ends after its lines.
    for (const v1::StepEvent& step : steps_) *request.add_steps() = step;
    taken_steps = steps_.size();
    if (dropped_ > 0) {
      request.add_log_lines(absl::StrCat("tempa: ", dropped_,
                                         " log lines were dropped while the coordinator was "
                                         "unreachable"));
    }
    for (; taken_lines < lines_.size() && taken_lines < options_.max_lines_per_report;
         ++taken_lines) {
      request.add_log_lines(lines_[taken_lines]);
    }
  }
  absl::StatusOr<v1::ReportProgressResponse> response = link_->ReportProgress(request);
  absl::MutexLock lock(&mu_);
  if (!response.ok()) {
    if (response.status().code() == absl::StatusCode::kFailedPrecondition ||
        response.status().code() == absl::StatusCode::kNotFound) {
      lost_ = true;
      cancel_->Cancel();
      return true;
    }
    return false;  // unreachable for now: keep the batch, try again
  }
  steps_.erase(steps_.begin(), steps_.begin() + taken_steps);
  lines_.erase(lines_.begin(), lines_.begin() + taken_lines);
  dropped_ = 0;
  if (!request.resolved_commit().empty() && commit_ == request.resolved_commit()) commit_.clear();
  if (response->cancel()) cancel_->Cancel();
  return true;
}

void ProgressReporter::Loop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&stop), options_.flush_interval)) return;
    }
    // A full batch goes at once; the rest waits for the next interval.
    while (FlushOnce()) {
      absl::MutexLock lock(&mu_);
      if (lost_ || lines_.size() < options_.max_lines_per_report) break;
    }
  }
}

void ProgressReporter::Finish(absl::Duration deadline) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  absl::Time until = absl::Now() + deadline;
  absl::Duration backoff = absl::Milliseconds(100);
  while (true) {
    bool sent = FlushOnce();
    {
      absl::MutexLock lock(&mu_);
      if (lost_ || (sent && lines_.empty() && steps_.empty() && commit_.empty())) return;
    }
    if (sent) continue;  // more than one batch was waiting
    if (absl::Now() + backoff > until) return;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(2));
  }
}

}  // namespace tempa::worker
