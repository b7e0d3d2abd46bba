#include "deploy/kubernetes/retrying_kube_api.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "deploy/kubernetes/rollout_watcher.h"

namespace tempa::deploy {
namespace {

class RetryingKubeApi : public KubeApi {
 public:
  RetryingKubeApi(KubeApi* inner, KubeRetryPolicy policy)
      : inner_(inner), policy_(std::move(policy)) {
    if (!policy_.sleep) policy_.sleep = [](absl::Duration d) { absl::SleepFor(d); };
    if (policy_.max_attempts < 1) policy_.max_attempts = 1;
  }

  absl::StatusOr<nlohmann::json> Get(const std::string& path) override {
    return Retry<nlohmann::json>([&] { return inner_->Get(path); });
  }
  absl::StatusOr<std::string> GetText(const std::string& path) override {
    return Retry<std::string>([&] { return inner_->GetText(path); });
  }
  absl::Status Delete(const std::string& path) override {
    return Retry<bool>([&]() -> absl::StatusOr<bool> {
             absl::Status s = inner_->Delete(path);
             if (!s.ok()) return s;
             return true;
           })
        .status();
  }
  absl::StatusOr<nlohmann::json> Apply(const std::string& path, const nlohmann::json& body,
                                       const std::string& field_manager, bool force) override {
    return Retry<nlohmann::json>([&] { return inner_->Apply(path, body, field_manager, force); });
  }
  absl::Status Watch(const std::string& path, const std::string& resource_version,
                     absl::Duration timeout,
                     const std::function<WatchNext(const nlohmann::json&)>& on_event) override {
    return inner_->Watch(path, resource_version, timeout, on_event);
  }

 private:
  template <typename T>
  absl::StatusOr<T> Retry(const std::function<absl::StatusOr<T>()>& call) {
    for (int attempt = 1;; ++attempt) {
      absl::StatusOr<T> result = call();
      if (result.ok() || !IsRetryableKubeError(result.status())) return result;
      if (attempt >= policy_.max_attempts) {
        if (attempt == 1) return result;
        return absl::Status(
            result.status().code(),
            absl::StrCat("failed ", attempt, " times, giving up: ", result.status().message()));
      }
      policy_.sleep(Backoff(attempt, policy_.initial_backoff, policy_.max_backoff));
    }
  }

  KubeApi* const inner_;
  KubeRetryPolicy policy_;
};

}  // namespace

std::unique_ptr<KubeApi> MakeRetryingKubeApi(KubeApi* inner, KubeRetryPolicy policy) {
  return std::make_unique<RetryingKubeApi>(inner, std::move(policy));
}

}  // namespace tempa::deploy
