#include "coordinator/poller/branch_poller.h"

#include <algorithm>
#include <cstdio>
#include <system_error>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace tempa::coordinator {
namespace {

constexpr size_t kMaxErrorBytes = 1024;

std::string Short(const std::string& commit) { return commit.substr(0, 12); }

std::string Clip(std::string text) {
  if (text.size() > kMaxErrorBytes) text = absl::StrCat(text.substr(0, kMaxErrorBytes), "...");
  return text;
}

}  // namespace

// One resolution, shared with the thread running it: the thread touches nothing else.
struct BranchPoller::Call {
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  absl::StatusOr<std::string> result ABSL_GUARDED_BY(mu) = absl::UnknownError("not run");

  bool Done() {
    absl::MutexLock lock(&mu);
    return done;
  }
};

BranchPoller::BranchPoller(PollTargets* targets, std::shared_ptr<BranchResolver> resolver,
                           BranchPollerOptions options, Clock clock)
    : targets_(targets),
      resolver_(std::move(resolver)),
      options_(std::move(options)),
      clock_(std::move(clock)) {
  if (!options_.log) {
    options_.log = [](const std::string& line) {
      std::fprintf(stderr, "tempa-coordinator: %s\n", line.c_str());
      std::fflush(stderr);
    };
  }
  if (!options_.random) {
    auto gen = std::make_shared<absl::BitGen>();
    options_.random = [gen] { return absl::Uniform(*gen, 0.0, 1.0); };
  }
  options_.max_concurrent = std::max(options_.max_concurrent, 1);
}

BranchPoller::~BranchPoller() { Stop(); }

void BranchPoller::Start() {
  runner_ = std::thread([this] {
    while (true) {
      PollOnce();
      absl::MutexLock lock(&run_mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_) { return stopping_; };
      if (run_mu_.AwaitWithTimeout(absl::Condition(&stop), options_.tick)) return;
    }
  });
}

void BranchPoller::Stop() {
  {
    absl::MutexLock lock(&run_mu_);
    stopping_ = true;
  }
  if (runner_.joinable()) runner_.join();
  absl::MutexLock lock(&mu_);
  auto release = [](const std::shared_ptr<Call>& call, std::thread& thread) {
    if (!thread.joinable()) return;
    if (call->Done()) {
      thread.join();
    } else {
      thread.detach();  // it holds only the call and the resolver
    }
  };
  for (auto& [name, app] : apps_) release(app.call, app.thread);
  for (auto& [call, thread] : orphans_) release(call, thread);
  apps_.clear();
  orphans_.clear();
}

void BranchPoller::PollOnce() {
  absl::MutexLock lock(&mu_);
  absl::Time now = clock_();
  RefreshAppsLocked(now);
  ReapOrphansLocked();
  for (auto& [name, app] : apps_) {
    if (app.call == nullptr) continue;
    if (app.call->Done()) {
      FinishLocked(name, app, now);
    } else if (!app.timed_out && now - app.started >= options_.resolve_timeout) {
      app.timed_out = true;
      SetErrorLocked(name, app,
                     absl::StrCat("the git server did not answer within ",
                                  absl::FormatDuration(options_.resolve_timeout),
                                  " reading branch ", app.branch, "; still waiting on it"));
    }
  }
  StartDueLocked(now);
}

bool BranchPoller::AwaitResolution(const std::string& app, absl::Duration timeout) {
  std::shared_ptr<Call> call;
  {
    absl::MutexLock lock(&mu_);
    auto it = apps_.find(app);
    if (it == apps_.end() || it->second.call == nullptr) return true;
    call = it->second.call;
  }
  absl::MutexLock lock(&call->mu);
  return call->mu.AwaitWithTimeout(absl::Condition(&call->done), timeout);
}

int BranchPoller::running() {
  absl::MutexLock lock(&mu_);
  return RunningLocked();
}

int BranchPoller::RunningLocked() {
  int running = static_cast<int>(orphans_.size());
  for (const auto& [name, app] : apps_) running += app.call != nullptr;
  return running;
}

void BranchPoller::ReapOrphansLocked() {
  for (auto it = orphans_.begin(); it != orphans_.end();) {
    if (it->first->Done()) {
      it->second.join();
      it = orphans_.erase(it);
    } else {
      ++it;
    }
  }
}

absl::Time BranchPoller::NextDue(absl::Time from, absl::Duration interval) {
  double stretch = 1.0 + options_.jitter * (2.0 * options_.random() - 1.0);
  return from + interval * stretch;
}

void BranchPoller::RefreshAppsLocked(absl::Time now) {
  absl::StatusOr<std::vector<PolledApp>> listed = targets_->PolledApps();
  if (!listed.ok()) {
    std::string error(listed.status().message());
    if (list_error_ != error) options_.log(absl::StrCat("polling: cannot list apps: ", error));
    list_error_ = error;
    return;
  }
  list_error_.reset();
  std::map<std::string, const PolledApp*> wanted;
  for (const PolledApp& polled : *listed) wanted[polled.name] = &polled;
  for (auto it = apps_.begin(); it != apps_.end();) {
    auto want = wanted.find(it->first);
    AppState& app = it->second;
    bool moved = want == wanted.end() || want->second->repo_url != app.repo_url ||
                 want->second->branch != app.branch;
    if (moved && app.call != nullptr) {
      orphans_.emplace_back(std::move(app.call), std::move(app.thread));
      app.call = nullptr;
    }
    if (want == wanted.end()) {
      it = apps_.erase(it);
      continue;
    }
    if (moved) {
      app.last_head.reset();
      app.repo_url = want->second->repo_url;
      app.branch = want->second->branch;
      app.next_due = now;
    }
    if (app.interval != want->second->interval) {
      app.interval = want->second->interval;
      app.next_due = std::min(app.next_due, now + app.interval);
    }
    wanted.erase(want);
    ++it;
  }
  for (const auto& [name, polled] : wanted) {
    AppState& app = apps_[name];
    app.repo_url = polled->repo_url;
    app.branch = polled->branch;
    app.interval = polled->interval;
    // New apps (and all of them after a restart) start spread over the first tenth or so.
    app.next_due = now + polled->interval * (options_.jitter * options_.random());
  }
}

void BranchPoller::StartDueLocked(absl::Time now) {
  int running = RunningLocked();
  std::vector<std::pair<absl::Time, std::string>> due;
  for (const auto& [name, app] : apps_) {
    if (app.call == nullptr && app.next_due <= now) due.emplace_back(app.next_due, name);
  }
  std::sort(due.begin(), due.end());
  for (const auto& [when, name] : due) {
    if (running >= options_.max_concurrent) return;
    AppState& app = apps_[name];
    absl::StatusOr<std::optional<v1::GitCredentials>> credentials =
        targets_->GitCredentialsOf(name);
    if (!credentials.ok()) {
      SetErrorLocked(
          name, app,
          absl::StrCat("cannot open the app's git credentials: ", credentials.status().message()));
      app.next_due = NextDue(now, app.interval);
      continue;
    }
    auto call = std::make_shared<Call>();
    try {
      app.thread = std::thread([resolver = resolver_, call, url = app.repo_url, branch = app.branch,
                                auth = credentials->value_or(v1::GitCredentials())] {
        absl::StatusOr<std::string> result = resolver->ResolveBranch(url, branch, auth);
        absl::MutexLock lock(&call->mu);
        call->result = std::move(result);
        call->done = true;
      });
    } catch (const std::system_error& e) {
      options_.log(absl::StrCat("polling: cannot start a thread: ", e.what()));
      return;
    }
    app.call = std::move(call);
    app.started = now;
    app.timed_out = false;
    ++running;
  }
}

void BranchPoller::FinishLocked(const std::string& name, AppState& app, absl::Time now) {
  app.thread.join();
  absl::StatusOr<std::string> result = absl::UnknownError("not run");
  {
    absl::MutexLock lock(&app.call->mu);
    result = std::move(app.call->result);
  }
  app.call = nullptr;
  app.timed_out = false;
  app.next_due = std::max(NextDue(app.started, app.interval), now);
  if (!result.ok()) {
    SetErrorLocked(
        name, app,
        absl::StrCat("cannot read branch ", app.branch, ": ", result.status().message()));
    return;
  }
  std::string head = absl::AsciiStrToLower(*result);
  if (app.last_head != head) {
    absl::StatusOr<PollOutcome> outcome = targets_->AcceptPoll(name, app.branch, head);
    if (absl::IsNotFound(outcome.status())) return;  // deleted meanwhile
    if (!outcome.ok()) {
      SetErrorLocked(name, app,
                     absl::StrCat("branch ", app.branch, " is at ", Short(head),
                                  " but queueing its build failed: ", outcome.status().message()));
      return;
    }
    app.last_head = head;
    if (outcome->queued_now) {
      options_.log(absl::StrCat("poll app ", name, ": branch ", app.branch, " is at ", Short(head),
                                "; queued build ", outcome->build_id));
    }
  }
  SetErrorLocked(name, app, "");
}

void BranchPoller::SetErrorLocked(const std::string& name, AppState& app,
                                  const std::string& error) {
  std::string clipped = Clip(error);
  if (app.last_error == clipped) return;
  if (!clipped.empty()) {
    options_.log(absl::StrCat("poll app ", name, ": ", clipped));
  } else if (app.last_error.has_value()) {
    options_.log(absl::StrCat("poll app ", name, ": polling works again"));
  }
  absl::Status recorded = targets_->RecordPollError(name, clipped);
  if (!recorded.ok() && !absl::IsNotFound(recorded)) {
    options_.log(
        absl::StrCat("poll app ", name, ": cannot record the poll error: ", recorded.message()));
    return;
  }
  app.last_error = clipped;
}

}  // namespace tempa::coordinator
