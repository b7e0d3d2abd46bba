// A fake Kubernetes API server for the backend's tests (no real one can run here): cpp-httplib
// on loopback, HTTP or HTTPS. It checks what a real one would refuse (bearer token, server-side
// apply's Content-Type and fieldManager, an object whose apiVersion/kind/name/namespace differ
// from its URL), stores applied objects (create or replace, metadata.generation bumped when the
// spec changes), and plays out a Deployment's rollout status after every spec change, one step
// per watch event (the controller's updates as they would arrive), by scenario. Faults on demand:
// apply answers of a given status, watches that drop mid-stream or fail. Every request is recorded.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace tempa::testing {

struct KubeRequest {
  std::string method;
  std::string path;                                // without the query
  std::multimap<std::string, std::string> params;  // the decoded query
  std::string content_type;
  std::string authorization;
  std::string body;
  std::string Param(const std::string& key) const {
    auto it = params.find(key);
    return it == params.end() ? "" : it->second;
  }
};

enum class RolloutScenario {
  kSucceeds,                  // a few updates, then every replica updated and available
  kProgressDeadlineExceeded,  // one update, then Progressing=False ProgressDeadlineExceeded
  kHangs,                     // the controller never observes the new generation
};

class FakeKubeApiServer {
 public:
  struct Options {
    std::string token = "test-token";  // the bearer token it accepts
    std::string cert_file;             // both set: HTTPS with this certificate
    std::string key_file;
  };
  explicit FakeKubeApiServer(Options options);
  FakeKubeApiServer() : FakeKubeApiServer(Options{}) {}
  ~FakeKubeApiServer();
  FakeKubeApiServer(const FakeKubeApiServer&) = delete;
  FakeKubeApiServer& operator=(const FakeKubeApiServer&) = delete;

  std::string url() const;  // "http://127.0.0.1:PORT" or https://

  // How the next `times` rollouts (-1: all) play out; then they succeed.
  void SetRolloutScenario(RolloutScenario scenario, int times = -1);
  // The next `times` applies (-1: all) answer `status` with a Status object.
  void FailApplies(int status, int times);
  // The next `times` watches (-1: all) send `events` events, then the connection drops.
  void DropWatches(int events, int times);
  // The next `times` watches (-1: all) answer `status`.
  void FailWatches(int status, int times);
  // The pod list answered for any labelSelector, and a container's log.
  void SetPods(nlohmann::json pod_list);
  void SetPodLog(const std::string& pod, const std::string& container, const std::string& text);

  std::vector<KubeRequest> requests() const;
  std::vector<KubeRequest> applies() const;  // the PATCH requests, in order
  std::vector<std::string> violations() const;
  // For each watch that streamed, in order: the resourceVersions of the events it sent.
  std::vector<std::vector<std::string>> watch_events() const;
  std::optional<nlohmann::json> object(const std::string& path) const;

 private:
  struct Target {
    std::string api_version, ns, resource, name, subresource;
  };
  static std::optional<Target> ParsePath(const std::string& path);
  void Handle(const httplib::Request& req, httplib::Response& res);
  void HandleApply(const KubeRequest& r, const Target& t, httplib::Response& res);
  void HandleWatch(const KubeRequest& r, const Target& t, httplib::Response& res);
  // Applies the next scripted status of the Deployment at `path`; false when none is left.
  bool AdvanceRollout(const std::string& path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void QueueRollout(const std::string& path, nlohmann::json& deployment, int64_t old_replicas)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Violation(const std::string& what, httplib::Response& res, int status);

  const Options options_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;

  mutable absl::Mutex mu_;
  std::vector<KubeRequest> requests_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> violations_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, nlohmann::json> objects_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<std::string>> watch_events_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::deque<nlohmann::json>> rollouts_ ABSL_GUARDED_BY(mu_);
  int64_t resource_version_ ABSL_GUARDED_BY(mu_) = 100;
  RolloutScenario scenario_ ABSL_GUARDED_BY(mu_) = RolloutScenario::kSucceeds;
  int scenario_times_ ABSL_GUARDED_BY(mu_) = -1;
  std::map<std::string, std::string> pod_logs_ ABSL_GUARDED_BY(mu_);  // "pod/container"
  int apply_fail_status_ ABSL_GUARDED_BY(mu_) = 0;
  int apply_fail_times_ ABSL_GUARDED_BY(mu_) = 0;
  int watch_drop_events_ ABSL_GUARDED_BY(mu_) = 0;
  int watch_drop_times_ ABSL_GUARDED_BY(mu_) = 0;
  int watch_fail_status_ ABSL_GUARDED_BY(mu_) = 0;
  int watch_fail_times_ ABSL_GUARDED_BY(mu_) = 0;
  nlohmann::json pods_ ABSL_GUARDED_BY(mu_) = {{"kind", "PodList"},
                                               {"items", nlohmann::json::array()}};
};

// Writes DIR/NAME.crt and DIR/NAME.key: a self-signed certificate for 127.0.0.1 made with the
// openssl CLI. False when openssl failed.
bool MakeLoopbackCertificate(const std::string& dir, const std::string& name);

}  // namespace tempa::testing
