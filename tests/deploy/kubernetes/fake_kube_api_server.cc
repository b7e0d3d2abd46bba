#include "tests/deploy/kubernetes/fake_kube_api_server.h"

#include <chrono>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tempa::testing {
namespace {

using nlohmann::json;

const std::map<std::string, std::string>& Kinds() {
  static const auto* kinds = new std::map<std::string, std::string>{
      {"secrets", "Secret"},
      {"services", "Service"},
      {"pods", "Pod"},
      {"deployments", "Deployment"},
      {"ingresses", "Ingress"},
      {"networkpolicies", "NetworkPolicy"},
      {"horizontalpodautoscalers", "HorizontalPodAutoscaler"},
      {"poddisruptionbudgets", "PodDisruptionBudget"},
  };
  return *kinds;
}

std::string StatusBody(int code, const std::string& reason, const std::string& message) {
  return json{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
              {"reason", reason}, {"message", message}, {"code", code}}
      .dump();
}

std::string StringAt(const json& j, const char* a, const char* b) {
  if (!j.is_object() || !j.contains(a) || !j[a].is_object() || !j[a].contains(b) ||
      !j[a][b].is_string()) {
    return "";
  }
  return j[a][b].get<std::string>();
}

}  // namespace

FakeKubeApiServer::FakeKubeApiServer(Options options) : options_(std::move(options)) {
  if (!options_.cert_file.empty()) {
    server_ =
        std::make_unique<httplib::SSLServer>(options_.cert_file.c_str(), options_.key_file.c_str());
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  auto handler = [this](const httplib::Request& req, httplib::Response& res) { Handle(req, res); };
  server_->Get(".*", handler);
  server_->Patch(".*", handler);
  server_->Post(".*", handler);
  server_->Put(".*", handler);
  server_->Delete(".*", handler);
  port_ = server_->bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

FakeKubeApiServer::~FakeKubeApiServer() {
  server_->stop();
  thread_.join();
}

std::string FakeKubeApiServer::url() const {
  return absl::StrCat(options_.cert_file.empty() ? "http" : "https", "://127.0.0.1:", port_);
}

void FakeKubeApiServer::SetRolloutScenario(RolloutScenario scenario, int times) {
  absl::MutexLock lock(&mu_);
  scenario_ = scenario;
  scenario_times_ = times;
}
void FakeKubeApiServer::SetPodLog(const std::string& pod, const std::string& container,
                                  const std::string& text) {
  absl::MutexLock lock(&mu_);
  pod_logs_[absl::StrCat(pod, "/", container)] = text;
}
void FakeKubeApiServer::FailApplies(int status, int times) {
  absl::MutexLock lock(&mu_);
  apply_fail_status_ = status;
  apply_fail_times_ = times;
}
void FakeKubeApiServer::DropWatches(int events, int times) {
  absl::MutexLock lock(&mu_);
  watch_drop_events_ = events;
  watch_drop_times_ = times;
}
void FakeKubeApiServer::FailWatches(int status, int times) {
  absl::MutexLock lock(&mu_);
  watch_fail_status_ = status;
  watch_fail_times_ = times;
}
void FakeKubeApiServer::SetPods(json pod_list) {
  absl::MutexLock lock(&mu_);
  pods_ = std::move(pod_list);
}
std::vector<KubeRequest> FakeKubeApiServer::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}
std::vector<KubeRequest> FakeKubeApiServer::applies() const {
  std::vector<KubeRequest> out;
  for (KubeRequest& r : requests()) {
    if (r.method == "PATCH") out.push_back(std::move(r));
  }
  return out;
}
std::vector<std::string> FakeKubeApiServer::violations() const {
  absl::MutexLock lock(&mu_);
  return violations_;
}
std::vector<std::vector<std::string>> FakeKubeApiServer::watch_events() const {
  absl::MutexLock lock(&mu_);
  return watch_events_;
}
std::optional<json> FakeKubeApiServer::object(const std::string& path) const {
  absl::MutexLock lock(&mu_);
  auto it = objects_.find(path);
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

// /api/v1/namespaces/NS/RES[/NAME] or /apis/GROUP/VERSION/namespaces/NS/RES[/NAME].
std::optional<FakeKubeApiServer::Target> FakeKubeApiServer::ParsePath(const std::string& path) {
  std::vector<std::string> p = absl::StrSplit(path, '/');  // p[0] is ""
  Target t;
  size_t i;
  if (p.size() >= 5 && p[1] == "api" && p[2] == "v1") {
    t.api_version = "v1";
    i = 3;
  } else if (p.size() >= 6 && p[1] == "apis") {
    t.api_version = absl::StrCat(p[2], "/", p[3]);
    i = 4;
  } else {
    return std::nullopt;
  }
  if (p[i] != "namespaces" || p.size() < i + 3 || p.size() > i + 5) return std::nullopt;
  t.ns = p[i + 1];
  t.resource = p[i + 2];
  if (p.size() >= i + 4) t.name = p[i + 3];
  if (p.size() == i + 5) {
    t.subresource = p[i + 4];
    if (t.resource != "pods" || t.subresource != "log") return std::nullopt;
  }
  if (Kinds().count(t.resource) == 0) return std::nullopt;
  return t;
}

void FakeKubeApiServer::Violation(const std::string& what, httplib::Response& res, int status) {
  {
    absl::MutexLock lock(&mu_);
    violations_.push_back(what);
  }
  res.status = status;
  res.set_content(StatusBody(status, "BadRequest", what), "application/json");
}

void FakeKubeApiServer::Handle(const httplib::Request& req, httplib::Response& res) {
  KubeRequest r;
  r.method = req.method;
  r.path = req.path;
  r.params.insert(req.params.begin(), req.params.end());
  r.content_type = req.get_header_value("Content-Type");
  r.authorization = req.get_header_value("Authorization");
  r.body = req.body;
  {
    absl::MutexLock lock(&mu_);
    requests_.push_back(r);
  }
  if (r.authorization != absl::StrCat("Bearer ", options_.token)) {
    res.status = 401;
    res.set_content(StatusBody(401, "Unauthorized", "Unauthorized"), "application/json");
    return;
  }
  std::optional<Target> target = ParsePath(r.path);
  if (!target) return Violation(absl::StrCat("no such API path: ", r.path), res, 404);
  if (r.method == "PATCH") return HandleApply(r, *target, res);
  if (r.method == "DELETE" && !target->name.empty() && target->subresource.empty()) {
    absl::MutexLock lock(&mu_);
    if (objects_.erase(r.path) == 0) {
      res.status = 404;
      res.set_content(StatusBody(404, "NotFound", "not found"), "application/json");
      return;
    }
    res.set_content(json{{"kind", "Status"}, {"status", "Success"}}.dump(), "application/json");
    return;
  }
  if (r.method != "GET") {
    return Violation(absl::StrCat(r.method, " ", r.path, ": tempa must only GET, apply and delete"),
                     res, 405);
  }
  if (target->subresource == "log") {
    absl::MutexLock lock(&mu_);
    auto it = pod_logs_.find(absl::StrCat(target->name, "/", r.Param("container")));
    if (it == pod_logs_.end()) {
      res.status = 400;
      res.set_content(StatusBody(400, "BadRequest", "container not found"), "application/json");
      return;
    }
    res.set_content(it->second, "text/plain");
    return;
  }
  if (target->name.empty() && r.Param("watch") == "1") return HandleWatch(r, *target, res);
  absl::MutexLock lock(&mu_);
  if (target->name.empty()) {
    if (target->resource == "pods") {
      res.set_content(pods_.dump(), "application/json");
      return;
    }
    json list = {{"kind", "List"}, {"items", json::array()}};
    for (const auto& [path, obj] : objects_) {
      if (absl::StartsWith(path, r.path + "/")) list["items"].push_back(obj);
    }
    res.set_content(list.dump(), "application/json");
    return;
  }
  auto it = objects_.find(r.path);
  if (it == objects_.end()) {
    res.status = 404;
    res.set_content(StatusBody(404, "NotFound",
                               absl::StrCat(target->resource, " \"", target->name, "\" not found")),
                    "application/json");
    return;
  }
  res.set_content(it->second.dump(), "application/json");
}

void FakeKubeApiServer::HandleApply(const KubeRequest& r, const Target& t, httplib::Response& res) {
  if (r.content_type != "application/apply-patch+yaml") {
    return Violation(absl::StrCat("PATCH ", r.path, " with Content-Type \"", r.content_type,
                                  "\", not application/apply-patch+yaml"),
                     res, 415);
  }
  if (r.Param("fieldManager") != "tempa") {
    return Violation(absl::StrCat("PATCH ", r.path, " with fieldManager \"",
                                  r.Param("fieldManager"), "\", not tempa"),
                     res, 400);
  }
  if (r.Param("force") != "true") {
    return Violation(absl::StrCat("PATCH ", r.path, " without force=true"), res, 400);
  }
  if (t.name.empty()) return Violation(absl::StrCat("PATCH of a collection ", r.path), res, 405);
  json body = json::parse(r.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return Violation(absl::StrCat("PATCH ", r.path, ": the body is not a JSON/YAML object"), res,
                     400);
  }
  const std::string kind = Kinds().at(t.resource);
  std::string api_version = body.value("apiVersion", "");
  std::string body_kind = body.value("kind", "");
  std::string name = StringAt(body, "metadata", "name");
  std::string ns = StringAt(body, "metadata", "namespace");
  if (api_version != t.api_version || body_kind != kind || name != t.name ||
      (!ns.empty() && ns != t.ns)) {
    return Violation(
        absl::StrCat("PATCH ", r.path, " carries ", api_version, " ", body_kind, " ", ns, "/", name,
                     ", not ", t.api_version, " ", kind, " ", t.ns, "/", t.name),
        res, 400);
  }
  absl::MutexLock lock(&mu_);
  if (apply_fail_times_ != 0) {
    if (apply_fail_times_ > 0) --apply_fail_times_;
    res.status = apply_fail_status_;
    res.set_content(
        StatusBody(apply_fail_status_, apply_fail_status_ == 409 ? "Conflict" : "InternalError",
                   apply_fail_status_ == 409
                       ? "Apply failed with 1 conflict: conflict with \"kubectl-edit\": "
                         ".spec.replicas"
                       : "etcdserver: request timed out"),
        "application/json");
    return;
  }
  auto it = objects_.find(r.path);
  bool created = it == objects_.end();
  json stored = body;
  stored["metadata"]["namespace"] = t.ns;
  int64_t generation = 1;
  int64_t old_replicas = 0;
  if (!created) {
    const json& old = it->second;
    generation = old["metadata"].value("generation", 1);
    if (old.value("spec", json()) != body.value("spec", json())) ++generation;
    stored["metadata"]["uid"] = old["metadata"]["uid"];
    if (old.contains("status")) stored["status"] = old["status"];
    if (old.contains("status")) old_replicas = old["status"].value("replicas", 0);
  } else {
    stored["metadata"]["uid"] = absl::StrCat("uid-", resource_version_);
  }
  stored["metadata"]["generation"] = generation;
  stored["metadata"]["managedFields"] = json::array({{{"manager", r.Param("fieldManager")},
                                                      {"operation", "Apply"},
                                                      {"apiVersion", api_version}}});
  stored["metadata"]["resourceVersion"] = std::to_string(++resource_version_);
  bool spec_changed = created || generation != it->second["metadata"].value("generation", 1);
  if (t.resource == "deployments" && spec_changed) QueueRollout(r.path, stored, old_replicas);
  objects_[r.path] = stored;
  res.status = created ? 201 : 200;
  res.set_content(stored.dump(), "application/json");
}

void FakeKubeApiServer::QueueRollout(const std::string& path, json& deployment,
                                     int64_t old_replicas) {
  int64_t g = deployment["metadata"]["generation"].get<int64_t>();
  int64_t n = 1;
  if (deployment["spec"].contains("replicas") && deployment["spec"]["replicas"].is_number()) {
    n = deployment["spec"]["replicas"].get<int64_t>();
  }
  auto status = [&](int64_t replicas, int64_t updated, int64_t available, json conditions) {
    return json{{"observedGeneration", g},        {"replicas", replicas},
                {"updatedReplicas", updated},     {"readyReplicas", available},
                {"availableReplicas", available}, {"conditions", conditions}};
  };
  auto progressing = [](const std::string& s, const std::string& reason) {
    return json::array({{{"type", "Progressing"},
                         {"status", s},
                         {"reason", reason},
                         {"message", absl::StrCat("ReplicaSet has reason ", reason)}}});
  };
  std::deque<json>& steps = rollouts_[path];
  steps.clear();
  RolloutScenario scenario = scenario_;
  if (scenario_times_ > 0 && --scenario_times_ == 0) {
    scenario_ = RolloutScenario::kSucceeds;
    scenario_times_ = -1;
  }
  switch (scenario) {
    case RolloutScenario::kSucceeds:
      if (old_replicas > 0) {
        steps.push_back(
            status(old_replicas + 1, 1, old_replicas, progressing("True", "ReplicaSetUpdated")));
        steps.push_back(
            status(old_replicas + n, n, old_replicas, progressing("True", "ReplicaSetUpdated")));
      } else {
        steps.push_back(status(n, n, 0, progressing("True", "ReplicaSetUpdated")));
      }
      steps.push_back(status(n, n, n, progressing("True", "NewReplicaSetAvailable")));
      break;
    case RolloutScenario::kProgressDeadlineExceeded:
      steps.push_back(
          status(old_replicas + 1, 1, old_replicas, progressing("True", "ReplicaSetUpdated")));
      steps.push_back(status(old_replicas + 1, 1, old_replicas,
                             progressing("False", "ProgressDeadlineExceeded")));
      break;
    case RolloutScenario::kHangs:
      break;
  }
}

bool FakeKubeApiServer::AdvanceRollout(const std::string& path) {
  auto steps = rollouts_.find(path);
  auto object = objects_.find(path);
  if (steps == rollouts_.end() || steps->second.empty() || object == objects_.end()) return false;
  object->second["status"] = steps->second.front();
  steps->second.pop_front();
  object->second["metadata"]["resourceVersion"] = std::to_string(++resource_version_);
  return true;
}

void FakeKubeApiServer::HandleWatch(const KubeRequest& r, const Target& t, httplib::Response& res) {
  std::string selector = r.Param("fieldSelector");
  if (!absl::StartsWith(selector, "metadata.name=")) {
    return Violation(absl::StrCat("watch of ", r.path, " without fieldSelector=metadata.name=..."),
                     res, 400);
  }
  std::string path = absl::StrCat(r.path, "/", selector.substr(strlen("metadata.name=")));
  int drop_after = -1;
  size_t index;
  {
    absl::MutexLock lock(&mu_);
    if (watch_fail_times_ != 0) {
      if (watch_fail_times_ > 0) --watch_fail_times_;
      res.status = watch_fail_status_;
      res.set_content(StatusBody(watch_fail_status_, "InternalError", "watch failed"),
                      "application/json");
      return;
    }
    if (watch_drop_times_ != 0) {
      if (watch_drop_times_ > 0) --watch_drop_times_;
      drop_after = watch_drop_events_;
    }
    index = watch_events_.size();
    watch_events_.emplace_back();
  }
  res.set_chunked_content_provider(
      "application/json",
      [this, path, drop_after, index, sent = 0](size_t, httplib::DataSink& sink) mutable {
        if (drop_after >= 0 && sent >= drop_after) return false;  // the connection drops
        std::string line;
        {
          absl::MutexLock lock(&mu_);
          if (!AdvanceRollout(path)) {
            sink.done();  // nothing more to tell: the watch ends as on a server timeout
            return true;
          }
          line = json{{"type", "MODIFIED"}, {"object", objects_[path]}}.dump() + "\n";
          watch_events_[index].push_back(objects_[path]["metadata"]["resourceVersion"]);
        }
        sink.write(line.data(), line.size());
        ++sent;
        return true;
      });
}

bool MakeLoopbackCertificate(const std::string& dir, const std::string& name) {
  std::string command =
      absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 ",
                   "-addext subjectAltName=IP:127.0.0.1 -keyout ", dir, "/", name, ".key -out ",
                   dir, "/", name, ".crt 2>/dev/null");
  return std::system(command.c_str()) == 0;
}

}  // namespace tempa::testing
