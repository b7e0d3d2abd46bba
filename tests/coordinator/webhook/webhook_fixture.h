// Shared by the webhook tests: the realistic GitHub push payload (testdata/github_push.json),
// variants of it, and a WebhookTargets fake that records every call.
#pragma once

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/webhook/github_webhook.h"
#include "coordinator/webhook/webhook_handler.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace tempa::coordinator::testing {

inline nlohmann::json PushFixture() {
  std::ifstream in(std::string(TEMPA_SOURCE_DIR) +
                   "/tests/coordinator/webhook/testdata/github_push.json");
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, false);
  EXPECT_TRUE(doc.is_object()) << "fixture github_push.json did not parse";
  return doc;
}

inline std::string PushFixtureText() { return PushFixture().dump(); }

// The fixture's push URL forms (as an app would be created with).
inline constexpr char kCloneUrl[] = "https://github.com/Octo-Org/hello-go.git";
inline constexpr char kAfter[] = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c";

// Apps by repository URL; deliveries accepted in memory. Thread-safe (the HTTP tests call it
// from server threads).
class FakeWebhookTargets : public WebhookTargets {
 public:
  struct Repo {
    std::string url;
    WebhookApp app;
  };

  void AddApp(const std::string& url, WebhookApp app) {
    absl::MutexLock lock(&mu_);
    repos_.push_back({url, std::move(app)});
  }
  void FailWith(absl::Status status) {
    absl::MutexLock lock(&mu_);
    failure_ = std::move(status);
  }

  absl::StatusOr<std::vector<WebhookApp>> AppsForRepository(
      const std::vector<std::string>& urls) override;
  absl::StatusOr<std::optional<std::vector<AcceptedBuild>>> FindDelivery(
      absl::string_view delivery_id) override {
    absl::MutexLock lock(&mu_);
    ++find_calls_;
    if (!failure_.ok()) return failure_;
    auto it = deliveries_.find(std::string(delivery_id));
    if (it == deliveries_.end()) return std::optional<std::vector<AcceptedBuild>>();
    return std::optional<std::vector<AcceptedBuild>>(it->second);
  }
  absl::StatusOr<std::vector<AcceptedBuild>> AcceptPush(
      absl::string_view delivery_id, const std::vector<PushTarget>& targets) override {
    absl::MutexLock lock(&mu_);
    accept_calls_.push_back({std::string(delivery_id), targets});
    if (!failure_.ok()) return failure_;
    auto [it, fresh] = deliveries_.try_emplace(std::string(delivery_id));
    if (fresh) {
      for (const PushTarget& t : targets) {
        it->second.push_back({t.app, absl::StrCat("b", ++next_build_)});
      }
    }
    return it->second;
  }

  struct AcceptCall {
    std::string delivery_id;
    std::vector<PushTarget> targets;
  };
  std::vector<AcceptCall> accept_calls() const {
    absl::MutexLock lock(&mu_);
    return accept_calls_;
  }
  int lookups() const {
    absl::MutexLock lock(&mu_);
    return lookups_;
  }
  // Builds queued over all deliveries.
  int builds() const {
    absl::MutexLock lock(&mu_);
    return next_build_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<Repo> repos_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<AcceptedBuild>> deliveries_ ABSL_GUARDED_BY(mu_);
  std::vector<AcceptCall> accept_calls_ ABSL_GUARDED_BY(mu_);
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  int lookups_ ABSL_GUARDED_BY(mu_) = 0;
  int find_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int next_build_ ABSL_GUARDED_BY(mu_) = 0;
};

inline absl::StatusOr<std::vector<WebhookApp>> FakeWebhookTargets::AppsForRepository(
    const std::vector<std::string>& urls) {
  absl::MutexLock lock(&mu_);
  ++lookups_;
  if (!failure_.ok()) return failure_;
  std::vector<WebhookApp> apps;
  for (const Repo& repo : repos_) {
    for (const std::string& url : urls) {
      if (RepoUrlsMatch(repo.url, url)) {
        apps.push_back(repo.app);
        break;
      }
    }
  }
  return apps;
}

}  // namespace tempa::coordinator::testing
