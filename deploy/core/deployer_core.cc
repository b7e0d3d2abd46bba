#include "deploy/core/deployer_core.h"

#include <algorithm>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "deploy/core/deploy_request_rules.h"
#include "deploy/core/hosts.h"

namespace tempa::deploy {

using tempa::v1::Deploy;

namespace {
constexpr int kDefaultListLimit = 100;
constexpr int kMaxListLimit = 1000;
// How far back a track's history is read to find its newest started deploy.
constexpr int kHistoryScan = 500;
}  // namespace

DeployerCore::DeployerCore(DeployStore* store, DeployBackend* backend, Clock clock,
                           std::string domain, size_t finished_cached)
    : store_(store),
      backend_(backend),
      clock_(std::move(clock)),
      domain_(std::move(domain)),
      finished_cached_(finished_cached) {}

DeployerCore::~DeployerCore() { Stop(); }

absl::Status DeployerCore::Start() {
  RETURN_IF_ERROR(Annotate(backend_->Recover(), absl::StrCat("restore what the ", backend_->name(),
                                                             " backend should be running")));
  absl::StatusOr<std::vector<Deploy>> unfinished = store_->ListUnfinished();
  if (!unfinished.ok()) return Annotate(unfinished.status(), "read the unfinished deploys");
  absl::MutexLock lock(&mu_);
  if (started_) return absl::FailedPreconditionError("the deployer core is already started");
  if (stopping_) return absl::FailedPreconditionError("the deployer core was stopped");
  started_ = true;
  for (Deploy& deploy : *unfinished) {
    if (deploy.track().empty()) deploy.set_track(TrackFor(deploy.branch(), deploy.production()));
    if (entries_.count(deploy.id()) == 0) {
      Entry& entry = entries_[deploy.id()];
      entry.order = {deploy.created_unix_ms(), ++arrivals_};
      entry.deploy = deploy;
    }
  }
  for (const Deploy& deploy : *unfinished) {
    auto it = entries_.find(deploy.id());
    if (it != entries_.end() && !IsTerminal(it->second.deploy.status())) Enqueue(deploy.id());
  }
  if (!unfinished->empty()) {
    std::cerr << "tempa-deployer: " << unfinished->size()
              << " unfinished deploy(s) from before the restart run again\n";
  }
  return absl::OkStatus();
}

void DeployerCore::Stop() {
  std::vector<std::thread> workers;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (auto& [key, track] : tracks_) {
      if (track.worker.joinable()) workers.push_back(std::move(track.worker));
    }
  }
  for (std::thread& worker : workers) worker.join();
}

absl::StatusOr<Deploy> DeployerCore::Submit(const tempa::v1::DeployRequest& request) {
  RETURN_IF_ERROR(CheckDeployRequest(request));
  Deploy deploy = request.deploy();
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    return absl::UnavailableError(
        "the deployer is stopping: submit the deploy again once it is up");
  }
  if (auto it = entries_.find(deploy.id()); it != entries_.end()) return it->second.deploy;
  absl::StatusOr<Deploy> known = store_->Get(deploy.id());
  if (known.ok()) return *known;
  if (!absl::IsNotFound(known.status())) return known.status();

  deploy.set_status(tempa::v1::DEPLOY_PENDING);
  deploy.clear_reason();
  deploy.clear_log_tail();
  deploy.clear_urls();
  deploy.clear_started_unix_ms();
  deploy.clear_finished_unix_ms();
  deploy.set_track(TrackFor(deploy.branch(), deploy.production()));
  if (deploy.created_unix_ms() <= 0) deploy.set_created_unix_ms(NowMs());
  // The record names the env it runs with, never the values (which go sealed to the store).
  EnvMap env(request.env().begin(), request.env().end());
  deploy.mutable_settings()->clear_env_names();
  for (const auto& [name, value] : env) deploy.mutable_settings()->add_env_names(name);

  RETURN_IF_ERROR(Annotate(Publish(deploy, &env), "store deploy " + deploy.id()));
  std::cerr << "tempa-deployer: accepted deploy " << deploy.id() << " of " << deploy.app()
            << " (build " << deploy.build_id() << ", commit " << deploy.commit().substr(0, 12)
            << (deploy.rollback() ? ", a rollback" : "") << ")\n";
  entries_[deploy.id()].order = {deploy.created_unix_ms(), ++arrivals_};
  if (started_) Enqueue(deploy.id());
  // As it is now: pending, or already superseded (and then perhaps only in the store).
  if (auto it = entries_.find(deploy.id()); it != entries_.end()) return it->second.deploy;
  return store_->Get(deploy.id());
}

absl::StatusOr<Deploy> DeployerCore::Get(absl::string_view id) {
  {
    absl::MutexLock lock(&mu_);
    if (auto it = entries_.find(std::string(id)); it != entries_.end()) return it->second.deploy;
  }
  return store_->Get(id);
}

absl::StatusOr<std::vector<Deploy>> DeployerCore::List(absl::string_view app, int limit) {
  if (limit <= 0) limit = kDefaultListLimit;
  return store_->List(app, std::min(limit, kMaxListLimit));
}

absl::StatusOr<DeployerCore::Versioned> DeployerCore::WaitForChange(absl::string_view id,
                                                                    uint64_t after_version,
                                                                    absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(std::string(id));
  if (it == entries_.end()) {
    // Untouched since Start: finished before it (unfinished records are all loaded), or unknown.
    absl::StatusOr<Deploy> stored = store_->Get(id);
    if (!stored.ok()) return stored.status();
    return Versioned{*std::move(stored), 0};
  }
  // Looked up on every evaluation: a finished entry may leave the cache meanwhile.
  std::string key(id);
  auto ready = [this, &key, after_version]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto found = entries_.find(key);
    if (found == entries_.end() || stopping_) return true;
    return found->second.version > after_version || IsTerminal(found->second.deploy.status());
  };
  mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
  it = entries_.find(key);
  if (it == entries_.end()) {
    absl::StatusOr<Deploy> stored = store_->Get(id);
    if (!stored.ok()) return stored.status();
    return Versioned{*std::move(stored), 0};
  }
  const Entry& entry = it->second;
  if (stopping_ && entry.version <= after_version && !IsTerminal(entry.deploy.status())) {
    return absl::CancelledError("the deployer is stopping: watch again once it is up");
  }
  return Versioned{entry.deploy, entry.version};
}

absl::Status DeployerCore::Publish(Deploy deploy, const EnvMap* env) {
  absl::Status written = env != nullptr ? store_->PutWithEnv(deploy, *env) : store_->Put(deploy);
  if (!written.ok()) return written;
  std::string id = deploy.id();
  bool terminal = IsTerminal(deploy.status());
  Entry& entry = entries_[id];
  entry.deploy = std::move(deploy);
  entry.version = ++version_counter_;
  if (terminal) {
    // Finished records stay cached for watchers a while, then live in the store only.
    finished_.push_back(std::move(id));
    while (finished_.size() > finished_cached_) {
      auto old = entries_.find(finished_.front());
      if (old != entries_.end() && IsTerminal(old->second.deploy.status())) entries_.erase(old);
      finished_.pop_front();
    }
  }
  return absl::OkStatus();
}

bool DeployerCore::PublishOrLog(Deploy deploy) {
  std::string id = deploy.id();
  tempa::v1::DeployStatus status = deploy.status();
  absl::Status s = Publish(std::move(deploy));
  if (!s.ok()) {
    std::cerr << "tempa-deployer: " << id << ": cannot record "
              << tempa::v1::DeployStatus_Name(status) << " (" << s.message()
              << "); the store keeps the previous state, which the next start runs again\n";
  }
  return s.ok();
}

void DeployerCore::Supersede(const std::string& id, const std::string& by) {
  Deploy deploy = entries_[id].deploy;
  deploy.set_status(tempa::v1::DEPLOY_SUPERSEDED);
  deploy.set_reason(absl::StrCat("superseded by ", by));
  deploy.set_finished_unix_ms(NowMs());
  PublishOrLog(std::move(deploy));
}

void DeployerCore::LoadTrackHistory(Track& track, const Deploy& deploy) {
  track.history_loaded = true;
  absl::StatusOr<std::vector<Deploy>> history = store_->List(deploy.app(), kHistoryScan);
  if (!history.ok()) {
    std::cerr << "tempa-deployer: " << deploy.app() << ": cannot read its deploy history ("
              << history.status().message() << "); older intents are not filtered out\n";
    return;
  }
  for (const Deploy& old : *history) {
    if (old.track() != deploy.track() || old.started_unix_ms() == 0) continue;
    Order order{old.created_unix_ms(), 0};
    if (!track.newest_taken_id || track.newest_taken < order) {
      track.newest_taken = order;
      track.newest_taken_id = old.id();
    }
  }
}

void DeployerCore::Enqueue(const std::string& id) {
  const Entry& entry = entries_[id];
  std::string key = TrackKey(entry.deploy);
  Track& track = tracks_[key];
  if (!track.history_loaded) LoadTrackHistory(track, entry.deploy);
  if (track.newest_taken_id && *track.newest_taken_id != id && entry.order < track.newest_taken) {
    Supersede(id, *track.newest_taken_id);
    return;
  }
  if (track.pending) {
    if (entry.order < entries_[*track.pending].order) {
      Supersede(id, *track.pending);
      return;
    }
    Supersede(*track.pending, id);
  }
  track.pending = id;
  if (track.worker_active || stopping_) return;
  // The previous worker of this track has returned (worker_active is false): reap it.
  if (track.worker.joinable()) track.worker.join();
  track.worker_active = true;
  track.worker = std::thread(&DeployerCore::RunTrack, this, key);
}

}  // namespace tempa::deploy
