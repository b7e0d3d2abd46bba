#include "deploy/local/local_backend.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/posix_status.h"
#include "common/status_macros.h"
#include "common/tree_copy.h"
#include "deploy/local/run_plan.h"

namespace tempa::deploy {
namespace {

constexpr absl::Duration kStopGrace = absl::Seconds(10);
constexpr int kLogTailLines = 30;

absl::Status MakePrivateDir(const std::string& path) {
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoStatus(errno, "mkdir", path);
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return ErrnoStatus(errno, "stat", path);
  if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, " is not a directory of the deployer's closed to others: remove it"));
  }
  return absl::OkStatus();
}

std::string HealthPath(const std::string& path) {
  if (path.empty()) return "/";
  return path[0] == '/' ? path : "/" + path;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocalBackend>> LocalBackend::Create(
    const LocalBackendOptions& options, LocalBackendDeps deps) {
  if (deps.unpacker == nullptr || deps.runtime == nullptr || deps.edge == nullptr) {
    return absl::InvalidArgumentError(
        "LocalBackend needs an image unpacker, a runtime and an edge");
  }
  if (options.work_dir.empty())
    return absl::InvalidArgumentError("the local backend needs --work-dir");
  RETURN_IF_ERROR(MakePrivateDir(options.work_dir));
  RETURN_IF_ERROR(MakePrivateDir(options.work_dir + "/local"));
  RETURN_IF_ERROR(MakePrivateDir(options.work_dir + "/local/containers"));
  ASSIGN_OR_RETURN(std::unique_ptr<LocalStateStore> store,
                   LocalStateStore::Open(options.work_dir + "/local"));
  ASSIGN_OR_RETURN(LocalState state, store->Load());
  return std::unique_ptr<LocalBackend>(
      new LocalBackend(options, std::move(deps), std::move(store), std::move(state)));
}

LocalBackend::LocalBackend(const LocalBackendOptions& options, LocalBackendDeps deps,
                           std::unique_ptr<LocalStateStore> store, LocalState state)
    : options_(options),
      deps_(std::move(deps)),
      store_(std::move(store)),
      state_(std::move(state)) {
  if (!deps_.now) deps_.now = [] { return absl::Now(); };
  if (!deps_.sleep) deps_.sleep = [](absl::Duration d) { absl::SleepFor(d); };
  if (deps_.health == nullptr) {
    HealthCheckerOptions health;
    health.now = deps_.now;
    health.sleep = deps_.sleep;
    own_health_ = std::make_unique<HealthChecker>(health);
    deps_.health = own_health_.get();
  }
  if (deps_.ports == nullptr) {
    own_ports_ = std::make_unique<PortAllocator>(options_.first_port, options_.last_port);
    deps_.ports = own_ports_.get();
  }
}

absl::Status LocalBackend::StartContainer(const std::string& id, const UnpackedImage& image,
                                          const std::map<std::string, std::string>& env,
                                          const RunSettings& settings, int port) {
  ASSIGN_OR_RETURN(RunPlan plan, ResolveRunPlan(image.manifest_digest, image.config, env, port));
  ContainerSpec spec;
  spec.id = id;
  spec.rootfs = image.rootfs;
  spec.state_dir = absl::StrCat(options_.work_dir, "/local/containers/", id);
  RETURN_IF_ERROR(MakePrivateDir(spec.state_dir));
  spec.args = std::move(plan.args);
  spec.env = std::move(plan.env);
  spec.cwd = plan.cwd;
  spec.uid = plan.uid;
  spec.gid = plan.gid;
  spec.memory_bytes = settings.memory_bytes;
  spec.cpu_millis = settings.cpu_millis;
  spec.pids_max = settings.pids_max;
  spec.port = port;
  return Annotate(deps_.runtime->Start(spec), absl::StrCat("start container ", id));
}

std::string LocalBackend::FreshContainerId(const Release& release) {
  const std::string base = ContainerIdFor(release.app, release.track, release.deploy_id);
  std::string id = base;
  for (int n = 2; deps_.runtime->Status(id).ok(); ++n) id = absl::StrCat(base, "-", n);
  return id;
}

void LocalBackend::StopAndForget(const std::string& container_id) {
  // Best effort: a container that will not stop is found again by Recover's sweep.
  absl::Status stopped = deps_.runtime->Stop(container_id, kStopGrace);
  if (!stopped.ok() && !absl::IsNotFound(stopped)) return;
  // Its state directory holds its config (the env in clear) and its log: gone with it.
  const std::string dir = options_.work_dir + "/local/containers";
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.valid()) RemoveTreeAt(fd.get(), container_id, dir + "/" + container_id).IgnoreError();
}

DeployOutcome LocalBackend::Fail(absl::Status status, const std::string& container_id, int port,
                                 bool started) {
  DeployOutcome outcome;
  outcome.status = std::move(status);
  if (started) {
    outcome.log_tail = deps_.runtime->LogTail(container_id, kLogTailLines);
    StopAndForget(container_id);
  }
  if (port != 0) deps_.ports->Release(port);
  return outcome;
}

bool LocalBackend::IsLiveAndRunning(const std::string& key, const Release& release) {
  std::string container_id;
  {
    absl::MutexLock lock(&mu_);
    auto it = state_.tracks.find(key);
    if (it == state_.tracks.end() || !it->second.live) return false;
    const LiveRelease& live = *it->second.live;
    if (live.deploy_id != release.deploy_id || live.image != release.image ||
        live.hosts != release.hosts) {
      return false;
    }
    container_id = live.container_id;
  }
  absl::StatusOr<ContainerStatus> status = deps_.runtime->Status(container_id);
  return status.ok() && status->running;
}

bool LocalBackend::IsKept(const std::string& image) {
  absl::MutexLock lock(&mu_);
  for (const auto& [key, track] : state_.tracks) {
    for (const KeptRelease& kept : track.kept) {
      if (kept.image == image) return true;
    }
  }
  return false;
}

std::vector<Route> LocalBackend::EdgeTable(const LocalState& state) const {
  // A host goes to one upstream: track hosts (APP.DOMAIN, APP-BRANCH.DOMAIN) first, then
  // commit hosts not routed yet (one commit live on two tracks).
  std::vector<Route> routes;
  std::set<std::string> routed;
  for (int pass = 0; pass < 2; ++pass) {
    size_t i = 0;
    for (const auto& [key, track] : state.tracks) {
      if (!track.live || track.live->hosts.empty()) continue;
      if (pass == 0) routes.push_back(Route{{}, track.live->port});
      Route& route = routes[i++];
      const std::vector<std::string>& hosts = track.live->hosts;
      for (size_t h = pass == 0 ? 0 : 1; h < (pass == 0 ? 1 : hosts.size()); ++h) {
        if (routed.insert(hosts[h]).second) route.hosts.push_back(hosts[h]);
      }
    }
  }
  routes.erase(
      std::remove_if(routes.begin(), routes.end(), [](const Route& r) { return r.hosts.empty(); }),
      routes.end());
  return routes;
}

DeployOutcome LocalBackend::Deploy(const Release& release, DeployObserver& observer) {
  if (release.app.empty() || release.track.empty() || release.deploy_id.empty() ||
      release.image.empty()) {
    return Fail(absl::InvalidArgumentError(
                    "a release needs an app, a track, a deploy id and an image by digest"),
                "", 0, false);
  }
  const std::string key = TrackKey(release.app, release.track);
  {
    absl::MutexLock lock(&mu_);
    if (!in_flight_.insert(key).second) {
      return Fail(absl::FailedPreconditionError(absl::StrCat(
                      "a deploy of ", release.app, "'s track ", release.track,
                      " is already under way: deploys of one track must wait for each other")),
                  "", 0, false);
    }
  }
  DeployOutcome outcome = DeployTrack(key, release, observer);
  absl::MutexLock lock(&mu_);
  in_flight_.erase(key);
  return outcome;
}

DeployOutcome LocalBackend::DeployTrack(const std::string& key, const Release& release,
                                        DeployObserver& observer) {
  if (IsLiveAndRunning(key, release)) {
    // The same deploy delivered again (the core retries until it hears back): already live.
    observer.Step("already live");
    DeployOutcome outcome;
    for (const std::string& host : release.hosts) outcome.urls.push_back(deps_.edge->UrlFor(host));
    return outcome;
  }
  const bool kept = IsKept(release.image);
  observer.Step(kept ? "using the kept image (no pull)" : "pulling");
  absl::StatusOr<UnpackedImage> image = deps_.unpacker->Unpack(release.image);
  if (!image.ok()) {
    return Fail(Annotate(image.status(), absl::StrCat("pull and unpack ", release.image)), "", 0,
                false);
  }
  absl::StatusOr<int> port = deps_.ports->Allocate();
  if (!port.ok()) return Fail(port.status(), "", 0, false);

  const std::string id = FreshContainerId(release);
  observer.Step("starting");
  absl::Status started = StartContainer(id, *image, release.env, release.settings, *port);
  if (!started.ok()) return Fail(started, id, *port, /*started=*/true);

  const std::string health_path = HealthPath(release.settings.health_path);
  observer.Step(absl::StrCat("health check at ", health_path));
  absl::Status healthy = deps_.health->WaitHealthy(*port, health_path, options_.health_timeout,
                                                   [&] { return deps_.runtime->Status(id); });
  if (!healthy.ok()) return Fail(healthy, id, *port, true);

  observer.Step("switching");
  std::optional<LiveRelease> old;
  absl::Status switched;
  {
    absl::MutexLock lock(&mu_);
    LocalState next = state_;
    TrackState& track = next.tracks[key];
    track.app = release.app;
    track.track = release.track;
    old = track.live;
    LiveRelease live;
    live.deploy_id = release.deploy_id;
    live.commit = release.commit;
    live.image = release.image;
    live.manifest_digest = image->manifest_digest;
    live.container_id = id;
    live.port = *port;
    live.hosts = release.hosts;
    live.settings = release.settings;
    live.env = release.env;
    track.live = std::move(live);
    track.kept.erase(std::remove_if(track.kept.begin(), track.kept.end(),
                                    [&](const KeptRelease& k) {
                                      return k.manifest_digest == image->manifest_digest;
                                    }),
                     track.kept.end());
    track.kept.insert(track.kept.begin(),
                      KeptRelease{release.deploy_id, release.image, image->manifest_digest});
    track.kept.resize(std::min<size_t>(track.kept.size(), std::max(1, options_.kept_releases)));

    switched = Annotate(store_->Save(next), "record the new release before switching to it");
    if (switched.ok()) {
      switched = Annotate(deps_.edge->Apply(EdgeTable(next)), "switch the edge to the new release");
      // The edge kept the old table: so does the state.
      if (!switched.ok()) store_->Save(state_).IgnoreError();
    }
    if (switched.ok()) state_ = std::move(next);
  }
  // Outside the lock: stopping a container takes its grace period.
  if (!switched.ok()) return Fail(switched, id, *port, true);

  DeployOutcome outcome;
  for (const std::string& host : release.hosts) outcome.urls.push_back(deps_.edge->UrlFor(host));
  if (old && old->container_id != id) {
    observer.Step("draining the previous release");
    deps_.sleep(options_.drain);
    StopAndForget(old->container_id);
    deps_.ports->Release(old->port);
  }
  PruneImages(observer);
  observer.Step("live");
  return outcome;
}

void LocalBackend::PruneImages(DeployObserver& observer) {
  // Held throughout: a deploy of another track must not unpack an image (not in any kept list
  // yet) while it is pruned. When another deploy is under way, the next deploy prunes.
  absl::MutexLock lock(&mu_);
  if (in_flight_.size() > 1) return;
  std::vector<std::string> keep;
  for (const auto& [key, track] : state_.tracks) {
    if (track.live) keep.push_back(track.live->manifest_digest);
    for (const KeptRelease& k : track.kept) keep.push_back(k.manifest_digest);
  }
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
  absl::Status pruned = deps_.unpacker->Prune(keep);
  if (!pruned.ok()) observer.Step(absl::StrCat("could not prune old images: ", pruned.message()));
}

absl::Status LocalBackend::Recover() {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> failures;
  std::set<std::string> live_ids;
  bool changed = false;
  for (auto& [key, track] : state_.tracks) {
    if (!track.live) continue;
    LiveRelease& live = *track.live;
    live_ids.insert(live.container_id);
    if (deps_.runtime->Status(live.container_id).ok()) {
      deps_.ports->Hold(live.port);  // the runtime still supervises it: adopt it
      continue;
    }
    absl::StatusOr<UnpackedImage> image = deps_.unpacker->Unpack(live.image);
    if (!image.ok()) {
      failures.push_back(
          absl::StrCat(key, ": pull and unpack ", live.image, ": ", image.status().message()));
      continue;
    }
    int port = live.port;
    if (!deps_.ports->Claim(port)) {
      absl::StatusOr<int> fresh = deps_.ports->Allocate();
      if (!fresh.ok()) {
        failures.push_back(absl::StrCat(key, ": ", fresh.status().message()));
        continue;
      }
      port = *fresh;
    }
    absl::Status started = StartContainer(live.container_id, *image, live.env, live.settings, port);
    if (!started.ok()) {
      deps_.ports->Release(port);
      failures.push_back(absl::StrCat(key, ": ", started.message()));
      continue;
    }
    if (port != live.port) {
      live.port = port;
      changed = true;
    }
  }
  // Ours but not live: a deploy cut short by the restart, or an old release never drained.
  for (const std::string& id : deps_.runtime->List()) {
    if (absl::StartsWith(id, "tempa-") && live_ids.count(id) == 0) {
      StopAndForget(id);
    }
  }
  if (changed) {
    absl::Status saved = store_->Save(state_);
    if (!saved.ok()) failures.push_back(absl::StrCat("save the state: ", saved.message()));
  }
  absl::Status applied = deps_.edge->Apply(EdgeTable(state_));
  if (!applied.ok()) failures.push_back(absl::StrCat("apply the edge table: ", applied.message()));
  if (failures.empty()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("the local backend could not recover everything: ",
                                             absl::StrJoin(failures, "; ")));
}

}  // namespace tempa::deploy
