#include "deploy/kubernetes/pod_report.h"

#include <curl/curl.h>

#include <cctype>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace tempa::deploy {
namespace {

// For a query value or a path segment (curl's escaping: everything but A-Za-z0-9-._~).
std::string PercentEncode(absl::string_view s) {
  char* escaped = curl_easy_escape(nullptr, s.data(), static_cast<int>(s.size()));
  if (escaped == nullptr) return "";
  std::string out(escaped);
  curl_free(escaped);
  return out;
}

// "waiting CrashLoopBackOff: back-off 5m0s ..., last terminated Error (exit 3)".
std::string DescribeContainer(const nlohmann::json& c) {
  std::string line = absl::StrCat("restarts ", JsonInt(c, {"restartCount"}));
  for (const char* state : {"waiting", "terminated"}) {
    std::string reason = JsonString(c, {"state", state, "reason"});
    if (reason.empty()) continue;
    absl::StrAppend(&line, ", ", state, " ", reason);
    std::string message = JsonString(c, {"state", state, "message"});
    if (!message.empty()) absl::StrAppend(&line, ": ", message.substr(0, 300));
  }
  std::string last = JsonString(c, {"lastState", "terminated", "reason"});
  if (!last.empty()) {
    absl::StrAppend(&line, ", last terminated ", last, " (exit ",
                    JsonInt(c, {"lastState", "terminated", "exitCode"}), ")");
  }
  return line;
}

}  // namespace

std::string DescribeUnreadyPods(KubeApi& api, const std::string& namespace_name,
                                const nlohmann::json& match_labels,
                                const PodReportOptions& options) {
  if (!match_labels.is_object() || match_labels.empty()) return "";
  std::vector<std::string> selector;
  for (auto it = match_labels.begin(); it != match_labels.end(); ++it) {
    if (it.value().is_string()) {
      selector.push_back(absl::StrCat(it.key(), "=", it.value().get<std::string>()));
    }
  }
  std::string pods_path = absl::StrCat("/api/v1/namespaces/", namespace_name, "/pods");
  absl::StatusOr<nlohmann::json> pods = api.Get(
      absl::StrCat(pods_path, "?labelSelector=", PercentEncode(absl::StrJoin(selector, ","))));
  if (!pods.ok()) return absl::StrCat("(could not list the pods: ", pods.status().message(), ")");
  const nlohmann::json* items = JsonAt(*pods, {"items"});
  if (items == nullptr || !items->is_array()) return "";

  std::vector<std::string> lines;
  int logs_fetched = 0;
  for (const nlohmann::json& pod : *items) {
    std::string pod_name = JsonString(pod, {"metadata", "name"});
    const nlohmann::json* statuses = JsonAt(pod, {"status", "containerStatuses"});
    if (statuses == nullptr || !statuses->is_array()) {
      std::string phase = JsonString(pod, {"status", "phase"});
      if (phase != "Running" && phase != "Succeeded") {
        lines.push_back(absl::StrCat("pod ", pod_name, ": ", phase.empty() ? "no status" : phase));
      }
      continue;
    }
    bool fetched = false;
    for (const nlohmann::json& c : *statuses) {
      const nlohmann::json* ready = JsonAt(c, {"ready"});
      if (ready != nullptr && ready->is_boolean() && ready->get<bool>()) continue;
      std::string container = JsonString(c, {"name"});
      lines.push_back(
          absl::StrCat("pod ", pod_name, " container ", container, ": ", DescribeContainer(c)));
      if (logs_fetched >= options.max_pods || pod_name.empty() || container.empty()) continue;
      // A container that crashed and waits to restart has no current log: the previous one's.
      bool previous =
          JsonInt(c, {"restartCount"}) > 0 && JsonAt(c, {"state", "running"}) == nullptr;
      absl::StatusOr<std::string> log = api.GetText(absl::StrCat(
          pods_path, "/", PercentEncode(pod_name), "/log?container=", PercentEncode(container),
          "&tailLines=", options.tail_lines, previous ? "&previous=true" : ""));
      fetched = true;
      if (!log.ok()) {
        lines.push_back(absl::StrCat("  (no log: ", log.status().message(), ")"));
        continue;
      }
      std::string text = *log;
      if (text.size() > options.max_log_bytes) {
        text = absl::StrCat("…", text.substr(text.size() - options.max_log_bytes));
      }
      text = std::string(absl::StripTrailingAsciiWhitespace(text));
      if (!text.empty()) {
        lines.push_back(absl::StrCat("--- ", previous ? "previous " : "", "log of ", pod_name, "/",
                                     container, " ---\n", text));
      }
    }
    if (fetched) ++logs_fetched;
    if (lines.size() >= 40) break;
  }
  return absl::StrJoin(lines, "\n");
}

}  // namespace tempa::deploy
