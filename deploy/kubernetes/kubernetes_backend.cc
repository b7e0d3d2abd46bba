#include "deploy/kubernetes/kubernetes_backend.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "deploy/kubernetes/curl_kube_api.h"
#include "deploy/kubernetes/kube_config.h"
#include "deploy/kubernetes/pod_report.h"
#include "deploy/kubernetes/retrying_kube_api.h"
#include "deploy/kubernetes/rollout_watcher.h"

namespace tempa::deploy {
namespace {

constexpr char kFieldManager[] = "tempa";
constexpr char kDeployIdAnnotation[] = "tempa.dev/deploy-id";
constexpr char kCommitAnnotation[] = "tempa.dev/commit";

// What was live before this deploy: enough to render it again.
struct Previous {
  std::string image;
  std::string deploy_id;
  std::string commit;
  std::vector<std::string> hosts;  // the live Ingress's, when there is one
};

const KubeObject* FindKind(const std::vector<KubeObject>& objects, absl::string_view kind) {
  for (const KubeObject& o : objects) {
    if (o.kind == kind) return &o;
  }
  return nullptr;
}

class KubernetesBackend : public DeployBackend {
 public:
  KubernetesBackend(KubernetesBackendOptions options, KubernetesBackendDeps deps)
      : options_(std::move(options)), deps_(std::move(deps)) {
    if (!deps_.sleep) deps_.sleep = [](absl::Duration d) { absl::SleepFor(d); };
    if (!deps_.now) deps_.now = [] { return absl::Now(); };
    retrying_ = MakeRetryingKubeApi(
        deps_.api.get(),
        {options_.max_attempts, options_.initial_backoff, options_.max_backoff, deps_.sleep});
  }

  std::string name() const override { return "kubernetes"; }

  DeployOutcome Deploy(const Release& release, DeployObserver& observer) override {
    DeployOutcome outcome;
    std::vector<KubeObject> objects = Render(release);
    const KubeObject* deployment = FindKind(objects, "Deployment");
    if (deployment == nullptr) {
      outcome.status = absl::InternalError("the rendered release has no Deployment (a tempa bug)");
      return outcome;
    }
    observer.Step(absl::StrCat("reading the live deployment ", deployment->name));
    absl::StatusOr<std::optional<Previous>> previous =
        ReadPrevious(*deployment, FindKind(objects, "Ingress"));
    if (!previous.ok()) {
      outcome.status = Annotate(previous.status(), "nothing was changed");
      return outcome;
    }

    int64_t generation = 0;
    bool deployment_applied = false;
    absl::Status status = ApplyAll(objects, observer, &generation, &deployment_applied);
    if (status.ok()) status = PruneAutoscaling(release, objects, observer);
    if (status.ok()) {
      observer.Step(absl::StrCat("waiting for the rollout of deployment ", deployment->name));
      status = WatchRollout(*deps_.api, deployment->api_path, generation,
                            WatchOptions(options_.rollout_timeout), observer);
    }
    if (status.ok()) {
      for (const std::string& host : release.hosts) {
        outcome.urls.push_back(
            absl::StrCat(options_.objects.tls_issuer.empty() ? "http://" : "https://", host));
      }
      return outcome;
    }
    if (deployment_applied) {
      const nlohmann::json* labels = JsonAt(deployment->body, {"spec", "selector", "matchLabels"});
      outcome.log_tail = DescribeUnreadyPods(*retrying_, options_.objects.namespace_name,
                                             labels != nullptr ? *labels : nlohmann::json());
    }
    std::string restored;
    if (!deployment_applied) {
      restored = "the live Deployment was not changed";
    } else if (!previous->has_value()) {
      restored = "there was no previous version to restore";
    } else {
      restored = Restore(release, **previous, observer);
    }
    outcome.status = absl::Status(status.code(), absl::StrCat(status.message(), "; ", restored));
    return outcome;
  }

 private:
  std::vector<KubeObject> Render(const Release& release) {
    std::vector<KubeObject> objects = RenderRelease(release, options_.objects);
    for (KubeObject& o : objects) {
      if (o.kind != "Deployment" || !o.body.is_object()) continue;
      // Which release runs, so a later deploy that fails can put this one back.
      nlohmann::json& annotations = o.body["metadata"]["annotations"];
      if (!annotations.is_object()) annotations = nlohmann::json::object();
      annotations[kDeployIdAnnotation] = release.deploy_id;
      annotations[kCommitAnnotation] = release.commit;
    }
    return objects;
  }

  // The HPA and PDB a former deploy made (with --max-replicas) and this one no longer renders:
  // left alone they would keep scaling the app. Only objects tempa applied are deleted.
  absl::Status PruneAutoscaling(const Release& release, const std::vector<KubeObject>& objects,
                                DeployObserver& observer) {
    const std::string name = WorkloadName(release);
    const std::string& ns = options_.objects.namespace_name;
    struct Kind {
      const char* kind;
      std::string path;
    };
    for (const Kind& k :
         {Kind{"HorizontalPodAutoscaler", absl::StrCat("/apis/autoscaling/v2/namespaces/", ns,
                                                       "/horizontalpodautoscalers/", name)},
          Kind{"PodDisruptionBudget",
               absl::StrCat("/apis/policy/v1/namespaces/", ns, "/poddisruptionbudgets/", name)}}) {
      if (FindKind(objects, k.kind) != nullptr) continue;
      absl::StatusOr<nlohmann::json> live = retrying_->Get(k.path);
      if (absl::IsNotFound(live.status())) continue;
      if (!live.ok()) return Annotate(live.status(), absl::StrCat("reading ", k.kind, " ", name));
      if (!AppliedByTempa(*live)) continue;
      observer.Step(absl::StrCat("deleting ", k.kind, " ", name, " (autoscaling is off)"));
      absl::Status deleted = retrying_->Delete(k.path);
      if (!deleted.ok() && !absl::IsNotFound(deleted)) {
        return Annotate(deleted, absl::StrCat("deleting ", k.kind, " ", name));
      }
    }
    return absl::OkStatus();
  }

  static bool AppliedByTempa(const nlohmann::json& object) {
    const nlohmann::json* managers = JsonAt(object, {"metadata", "managedFields"});
    if (managers == nullptr || !managers->is_array()) return false;
    for (const nlohmann::json& m : *managers) {
      if (JsonString(m, {"manager"}) == kFieldManager) return true;
    }
    return false;
  }

  RolloutWatchOptions WatchOptions(absl::Duration timeout) const {
    RolloutWatchOptions w;
    w.timeout = timeout;
    w.max_failures = options_.max_watch_failures;
    w.watch_timeout = options_.watch_timeout;
    w.poll_interval = options_.poll_interval;
    w.initial_backoff = options_.initial_backoff;
    w.max_backoff = options_.max_backoff;
    w.sleep = deps_.sleep;
    w.now = deps_.now;
    return w;
  }

  absl::StatusOr<std::optional<Previous>> ReadPrevious(const KubeObject& deployment,
                                                       const KubeObject* ingress) {
    absl::StatusOr<nlohmann::json> live = retrying_->Get(deployment.api_path);
    if (absl::IsNotFound(live.status())) return std::optional<Previous>();
    if (!live.ok()) {
      return Annotate(live.status(), absl::StrCat("reading deployment ", deployment.name));
    }
    const nlohmann::json* containers = JsonAt(*live, {"spec", "template", "spec", "containers"});
    if (containers == nullptr || !containers->is_array() || containers->empty()) {
      return std::optional<Previous>();
    }
    // The container tempa renders (by name), else the first.
    std::string wanted;
    if (const nlohmann::json* ours =
            JsonAt(deployment.body, {"spec", "template", "spec", "containers"});
        ours != nullptr && ours->is_array() && !ours->empty()) {
      wanted = JsonString((*ours)[0], {"name"});
    }
    Previous previous;
    for (const nlohmann::json& c : *containers) {
      if (previous.image.empty() || JsonString(c, {"name"}) == wanted) {
        previous.image = JsonString(c, {"image"});
      }
    }
    if (previous.image.empty()) return std::optional<Previous>();
    previous.deploy_id = JsonString(*live, {"metadata", "annotations", kDeployIdAnnotation});
    previous.commit = JsonString(*live, {"metadata", "annotations", kCommitAnnotation});
    if (ingress != nullptr) {
      absl::StatusOr<nlohmann::json> live_ingress = retrying_->Get(ingress->api_path);
      const nlohmann::json* rules =
          live_ingress.ok() ? JsonAt(*live_ingress, {"spec", "rules"}) : nullptr;
      if (rules != nullptr && rules->is_array()) {
        for (const nlohmann::json& rule : *rules) {
          std::string host = JsonString(rule, {"host"});
          if (!host.empty()) previous.hosts.push_back(host);
        }
      }
    }
    return std::optional<Previous>(std::move(previous));
  }

  absl::Status ApplyAll(const std::vector<KubeObject>& objects, DeployObserver& observer,
                        int64_t* generation, bool* deployment_applied) {
    for (const KubeObject& object : objects) {
      observer.Step(absl::StrCat("applying ", object.kind, " ", object.name));
      absl::StatusOr<nlohmann::json> stored =
          retrying_->Apply(object.api_path, object.body, kFieldManager, /*force=*/true);
      if (!stored.ok()) {
        return Annotate(stored.status(), absl::StrCat("applying ", object.kind, " ", object.name));
      }
      if (object.kind == "Deployment") {
        *deployment_applied = true;
        *generation = JsonInt(*stored, {"metadata", "generation"});
      }
    }
    return absl::OkStatus();
  }

  // Re-applies what was live before; a sentence for the failure's reason.
  std::string Restore(const Release& failed, const Previous& previous, DeployObserver& observer) {
    Release back = failed;
    back.image = previous.image;
    back.deploy_id = previous.deploy_id.empty() ? "previous" : previous.deploy_id;
    back.commit = previous.commit;
    if (!previous.hosts.empty()) back.hosts = previous.hosts;
    back.rollback = true;
    observer.Step(absl::StrCat("re-applying the previous image ", previous.image));
    int64_t generation = 0;
    bool applied = false;
    std::vector<KubeObject> objects = Render(back);
    absl::Status status = ApplyAll(objects, observer, &generation, &applied);
    std::string which = previous.deploy_id.empty()
                            ? previous.image
                            : absl::StrCat(previous.image, " (deploy ", previous.deploy_id, ")");
    if (!status.ok()) {
      return absl::StrCat("re-applying the previous image ", which,
                          " failed too: ", status.message(),
                          "; fix the cluster and roll back with `tempa deploys rollback`");
    }
    // Its old pods were never taken down (maxUnavailable 0), so this is normally quick.
    const KubeObject* deployment = FindKind(objects, "Deployment");
    status = WatchRollout(*deps_.api, deployment->api_path, generation,
                          WatchOptions(options_.restore_timeout), observer);
    if (!status.ok()) {
      return absl::StrCat(
          "the previous image ", which,
          " was applied again, but its rollout did not finish either: ", status.message());
    }
    return absl::StrCat("the previous image ", which, " was applied again and is live");
  }

  const KubernetesBackendOptions options_;
  KubernetesBackendDeps deps_;         // deps_.api: watches (the watcher resumes them)
  std::unique_ptr<KubeApi> retrying_;  // reads, applies and deletes, over deps_.api
};

}  // namespace

std::unique_ptr<DeployBackend> MakeKubernetesBackendWithApi(const KubernetesBackendOptions& options,
                                                            KubernetesBackendDeps deps) {
  return std::make_unique<KubernetesBackend>(options, std::move(deps));
}

absl::StatusOr<std::unique_ptr<DeployBackend>> MakeKubernetesBackend(
    const KubernetesBackendOptions& options) {
  absl::StatusOr<KubeConfig> config = options.kubeconfig.empty()
                                          ? LoadInClusterConfig()
                                          : LoadKubeconfig(options.kubeconfig, options.context);
  if (!config.ok()) return config.status();
  KubernetesBackendOptions resolved = options;
  if (resolved.objects.namespace_name.empty()) {
    resolved.objects.namespace_name =
        config->namespace_name.empty() ? "default" : config->namespace_name;
  }
  KubernetesBackendDeps deps;
  deps.api = MakeCurlKubeApi(*std::move(config));
  return MakeKubernetesBackendWithApi(resolved, std::move(deps));
}

}  // namespace tempa::deploy
