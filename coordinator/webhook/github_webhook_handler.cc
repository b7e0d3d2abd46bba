#include "coordinator/webhook/github_webhook_handler.h"

#include <exception>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "coordinator/webhook/github_webhook.h"
#include "nlohmann/json.hpp"

namespace tempa::coordinator {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxDeliveryIdBytes = 128;

// Payload text may hold invalid UTF-8: replaced rather than thrown on.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

HttpReply Reply(int status, const json& body) {
  return HttpReply{status, "application/json", Dump(body)};
}

json BuildsJson(const std::vector<AcceptedBuild>& builds) {
  json list = json::array();
  for (const AcceptedBuild& b : builds) list.push_back({{"app", b.app}, {"id", b.build_id}});
  return list;
}

HttpReply Ignored(const std::string& reason) {
  return Reply(202, {{"builds", json::array()}, {"ignored", reason}});
}

HttpReply Unavailable(const absl::Status& status, absl::string_view what) {
  return JsonErrorReply(503, absl::StrCat(what, ": ", status.message()),
                        "the coordinator's state is unavailable; redeliver the webhook later");
}

std::string AppNames(const std::vector<WebhookApp>& apps) {
  return absl::StrJoin(apps, ", ",
                       [](std::string* out, const WebhookApp& a) { out->append(a.name); });
}

// Printable ASCII without spaces, as GitHub's GUIDs (and other forges' numbers) are: the id is
// a key in the state.
bool ValidDeliveryId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxDeliveryIdBytes) return false;
  for (char c : id) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// The apps among `apps` whose secret verifies the delivery's signature, or the 401 to send.
struct Authenticated {
  std::vector<WebhookApp> apps;
  std::optional<HttpReply> refusal;
};

Authenticated Authenticate(const std::vector<WebhookApp>& apps, const WebhookDelivery& delivery) {
  Authenticated out;
  std::vector<WebhookApp> with_secret;
  for (const WebhookApp& app : apps) {
    if (app.secret.has_value() && !app.secret->empty()) with_secret.push_back(app);
  }
  const std::string first = apps.front().name;
  if (with_secret.empty()) {
    out.refusal = JsonErrorReply(
        401,
        absl::StrCat("no webhook secret is set for ", AppNames(apps),
                     "; an app without one takes no webhooks"),
        absl::StrCat("put the GitHub webhook's secret in a file and run `tempa apps update ", first,
                     " --webhook-secret-file FILE`"));
    return out;
  }
  if (delivery.signature.empty()) {
    out.refusal = JsonErrorReply(
        401, "missing X-Hub-Signature-256 header: the webhook has no secret",
        absl::StrCat("set the webhook's secret on GitHub to the one given to `tempa apps update ",
                     with_secret.front().name, " --webhook-secret-file FILE`"));
    return out;
  }
  // Every secret is tried (no early exit) so the reply's timing does not tell which matched.
  for (const WebhookApp& app : with_secret) {
    if (VerifyGithubSignature(*app.secret, delivery.body, delivery.signature)) {
      out.apps.push_back(app);
    }
  }
  if (out.apps.empty()) {
    out.refusal = JsonErrorReply(
        401, "signature does not match: X-Hub-Signature-256 verifies against no app's secret",
        absl::StrCat("set the webhook's secret on GitHub to the one given to `tempa apps update ",
                     with_secret.front().name, " --webhook-secret-file FILE`"));
  }
  return out;
}

HttpReply NoApp(const std::vector<std::string>& urls) {
  const std::string url = urls.empty() ? "URL" : urls.front();
  return JsonErrorReply(404, absl::StrCat("no app has repository URL ", url),
                        absl::StrCat("create one with `tempa apps create NAME --repo ", url, "`"));
}

const char* EventLabel(const std::string& event) {
  if (event == "push") return "push";
  if (event == "ping") return "ping";
  return "other";
}

}  // namespace

HttpReply JsonErrorReply(int status, const std::string& error, const std::string& fix) {
  json body = {{"error", error}};
  if (!fix.empty()) body["fix"] = fix;
  return Reply(status, body);
}

GithubWebhookHandler::GithubWebhookHandler(WebhookTargets* targets,
                                           metrics::MetricsRegistry* metrics)
    : targets_(targets), metrics_(metrics) {}

HttpReply GithubWebhookHandler::Handle(const WebhookDelivery& delivery) {
  HttpReply reply;
  try {
    reply = HandleUnchecked(delivery);
  } catch (const std::exception& e) {
    reply = JsonErrorReply(500, absl::StrCat("internal error: ", e.what()), "");
  } catch (...) {
    reply = JsonErrorReply(500, "internal error", "");
  }
  if (metrics_ != nullptr) {
    metrics_
        ->AddCounter(
            "tempa_webhook_deliveries_total", "Webhook deliveries by event and reply.",
            {{"event", EventLabel(delivery.event)}, {"status", absl::StrCat(reply.status)}})
        ->Inc();
  }
  return reply;
}

HttpReply GithubWebhookHandler::HandleUnchecked(const WebhookDelivery& delivery) {
  if (delivery.event.empty()) {
    return JsonErrorReply(400, "missing X-GitHub-Event header",
                          "send GitHub's webhook headers (X-GitHub-Event, X-GitHub-Delivery, "
                          "X-Hub-Signature-256)");
  }
  if (delivery.delivery_id.empty()) {
    return JsonErrorReply(400, "missing X-GitHub-Delivery header",
                          "send GitHub's webhook headers (X-GitHub-Event, X-GitHub-Delivery, "
                          "X-Hub-Signature-256)");
  }
  if (!ValidDeliveryId(delivery.delivery_id)) {
    return JsonErrorReply(400, "X-GitHub-Delivery is not a delivery id",
                          "send at most 128 printable characters without spaces");
  }
  std::string media_type(absl::StripAsciiWhitespace(
      absl::string_view(delivery.content_type).substr(0, delivery.content_type.find(';'))));
  absl::AsciiStrToLower(&media_type);
  if (media_type != "application/json") {
    std::string error =
        media_type == "application/x-www-form-urlencoded"
            ? "the webhook sends form-encoded payloads (payload=...)"
            : absl::StrCat("content type \"", media_type, "\" is not application/json");
    return JsonErrorReply(415, error, "set the webhook's content type to application/json");
  }
  if (delivery.event == "ping") return HandlePing(delivery);
  if (delivery.event == "push") return HandlePush(delivery);
  return Ignored(absl::StrCat("ignored event ", delivery.event, "; only push and ping are used"));
}

HttpReply GithubWebhookHandler::HandlePing(const WebhookDelivery& delivery) {
  absl::StatusOr<GithubRepository> repo = ParseGithubPingRepository(delivery.body);
  if (absl::IsNotFound(repo.status())) {
    return Reply(200, {{"builds", json::array()},
                       {"message",
                        "pong; the ping names no repository (an organization's "
                        "hook?): each push is matched by its repository URL"}});
  }
  if (!repo.ok()) {
    return JsonErrorReply(400, absl::StrCat("ping payload: ", repo.status().message()),
                          "send GitHub's ping payload as application/json");
  }
  std::vector<std::string> urls = repo->Urls();
  absl::StatusOr<std::vector<WebhookApp>> apps = targets_->AppsForRepository(urls);
  if (!apps.ok()) return Unavailable(apps.status(), "find apps of the repository");
  if (apps->empty()) return NoApp(urls);
  Authenticated auth = Authenticate(*apps, delivery);
  if (auth.refusal.has_value()) return *auth.refusal;
  return Reply(200, {{"builds", json::array()},
                     {"message", absl::StrCat("pong; pushes will build ", AppNames(auth.apps))}});
}

HttpReply GithubWebhookHandler::HandlePush(const WebhookDelivery& delivery) {
  absl::StatusOr<GithubPush> push = ParseGithubPush(delivery.body);
  if (!push.ok()) {
    return JsonErrorReply(400, absl::StrCat("push payload: ", push.status().message()),
                          "send GitHub's push payload as application/json");
  }
  std::vector<std::string> urls = push->repository.Urls();
  absl::StatusOr<std::vector<WebhookApp>> apps = targets_->AppsForRepository(urls);
  if (!apps.ok()) return Unavailable(apps.status(), "find apps of the repository");
  if (apps->empty()) return NoApp(urls);
  Authenticated auth = Authenticate(*apps, delivery);
  if (auth.refusal.has_value()) return *auth.refusal;

  if (push->deleted) return Ignored(absl::StrCat(push->ref, " was deleted; nothing to build"));
  if (push->branch.empty()) {
    return Ignored(absl::StrCat(push->ref, " is not a branch; only branch pushes are built"));
  }
  std::vector<PushTarget> targets;
  std::vector<std::string> skipped;
  for (const WebhookApp& app : auth.apps) {
    const std::string& followed = app.branch.empty() ? push->repository.default_branch : app.branch;
    if (followed == push->branch) {
      targets.push_back(PushTarget{app.name, push->branch, push->after});
    } else {
      skipped.push_back(
          absl::StrCat(app.name, " builds ", followed.empty() ? "(unknown)" : followed));
    }
  }
  if (targets.empty()) {
    return Ignored(absl::StrCat("no app follows branch ", push->branch, " (",
                                absl::StrJoin(skipped, ", "), ")"));
  }

  absl::StatusOr<std::optional<std::vector<AcceptedBuild>>> earlier =
      targets_->FindDelivery(delivery.delivery_id);
  if (!earlier.ok()) return Unavailable(earlier.status(), "look up the delivery");
  if (earlier->has_value()) {
    return Reply(200, {{"builds", BuildsJson(**earlier)},
                       {"message", "delivery already accepted; no new builds"}});
  }
  absl::StatusOr<std::vector<AcceptedBuild>> builds =
      targets_->AcceptPush(delivery.delivery_id, targets);
  if (!builds.ok()) return Unavailable(builds.status(), "accept the push");
  return Reply(201, {{"builds", BuildsJson(*builds)}});
}

}  // namespace tempa::coordinator
