// The delivery rules, driven with deliveries as GitHub sends them against a fake state: what is
// answered, which builds are queued, and that a refused delivery never reaches AcceptPush.
#include "coordinator/webhook/github_webhook_handler.h"

#include <string>

#include "common/metrics/metrics.h"
#include "coordinator/webhook/github_webhook.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/coordinator/webhook/webhook_fixture.h"

namespace tempa::coordinator {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::kAfter;
using testing::kCloneUrl;
using testing::PushFixture;
using ::testing::SizeIs;
using json = nlohmann::json;

constexpr char kSecret[] = "hunter2-but-longer";

WebhookDelivery Delivery(const std::string& event, const std::string& body,
                         const std::string& secret = kSecret, const std::string& id = "d-1") {
  return WebhookDelivery{event, id, GithubSignature(secret, body), "application/json", body};
}

json Body(const HttpReply& reply) {
  EXPECT_EQ(reply.content_type, "application/json");
  json doc = json::parse(reply.body, nullptr, false);
  EXPECT_TRUE(doc.is_object()) << reply.body;
  return doc;
}

std::string PingBody(bool with_repository = true) {
  json ping = {{"zen", "Design for failure."},
               {"hook_id", 109948940},
               {"hook", {{"type", "Repository"}, {"events", {"push"}}}}};
  if (with_repository) ping["repository"] = PushFixture()["repository"];
  return ping.dump();
}

class GithubWebhookHandlerTest : public ::testing::Test {
 protected:
  testing::FakeWebhookTargets targets_;
  GithubWebhookHandler handler_{&targets_};
};

TEST_F(GithubWebhookHandlerTest, SignedPushQueuesOneBuildPerAppFollowingTheBranch) {
  targets_.AddApp(kCloneUrl, {"web", "main", kSecret});
  targets_.AddApp("git@github.com:Octo-Org/hello-go", {"jobs", "main", kSecret});
  HttpReply reply = handler_.Handle(Delivery("push", PushFixture().dump()));
  EXPECT_EQ(reply.status, 201) << reply.body;
  EXPECT_EQ(Body(reply)["builds"],
            json::parse(R"([{"app":"web","id":"b1"},{"app":"jobs","id":"b2"}])"));
  auto calls = targets_.accept_calls();
  ASSERT_THAT(calls, SizeIs(1));
  EXPECT_EQ(calls[0].delivery_id, "d-1");
  ASSERT_THAT(calls[0].targets, SizeIs(2));
  EXPECT_EQ(calls[0].targets[0].app, "web");
  EXPECT_EQ(calls[0].targets[0].branch, "main");
  EXPECT_EQ(calls[0].targets[0].commit, kAfter);
}

TEST_F(GithubWebhookHandlerTest, AnAppMatchesByAnyOfThePayloadsRepositoryUrls) {
  for (const char* url :
       {"https://github.com/Octo-Org/hello-go/", "git://github.com/Octo-Org/hello-go",
        "https://GITHUB.com/Octo-Org/hello-go"}) {
    testing::FakeWebhookTargets targets;
    targets.AddApp(url, {"web", "main", kSecret});
    GithubWebhookHandler handler(&targets);
    EXPECT_EQ(handler.Handle(Delivery("push", PushFixture().dump())).status, 201) << url;
  }
}

TEST_F(GithubWebhookHandlerTest, UnknownRepositoryIs404WithTheCommandThatCreatesTheApp) {
  targets_.AddApp("https://github.com/Octo-Org/other.git", {"other", "main", kSecret});
  HttpReply reply = handler_.Handle(Delivery("push", PushFixture().dump()));
  EXPECT_EQ(reply.status, 404);
  json body = Body(reply);
  EXPECT_THAT(body["error"].get<std::string>(), HasSubstr(kCloneUrl));
  EXPECT_THAT(body["fix"].get<std::string>(),
              HasSubstr(std::string("tempa apps create NAME --repo ") + kCloneUrl));
  EXPECT_THAT(targets_.accept_calls(), IsEmpty());
}

TEST_F(GithubWebhookHandlerTest, BadSignatureIs401AndQueuesNothing) {
  targets_.AddApp(kCloneUrl, {"web", "main", kSecret});
  HttpReply reply = handler_.Handle(Delivery("push", PushFixture().dump(), "not-the-secret"));
  EXPECT_EQ(reply.status, 401);
  EXPECT_THAT(Body(reply)["error"].get<std::string>(), HasSubstr("signature does not match"));

  // A body altered after signing.
  WebhookDelivery altered = Delivery("push", PushFixture().dump());
  altered.body.insert(altered.body.size() - 1, ",\"x\":1");
  EXPECT_EQ(handler_.Handle(altered).status, 401);
  EXPECT_THAT(targets_.accept_calls(), IsEmpty());
  EXPECT_EQ(targets_.builds(), 0);
}

TEST_F(GithubWebhookHandlerTest, MissingSignatureIs401) {
  targets_.AddApp(kCloneUrl, {"web", "main", kSecret});
  WebhookDelivery delivery = Delivery("push", PushFixture().dump());
  delivery.signature.clear();
  HttpReply reply = handler_.Handle(delivery);
  EXPECT_EQ(reply.status, 401);
  EXPECT_THAT(Body(reply)["error"].get<std::string>(), HasSubstr("X-Hub-Signature-256"));
  EXPECT_THAT(targets_.accept_calls(), IsEmpty());
}

TEST_F(GithubWebhookHandlerTest, AnAppWithoutASecretTakesNoWebhooksAndSaysHowToSetOne) {
  targets_.AddApp(kCloneUrl, {"web", "main", std::nullopt});
  targets_.AddApp(kCloneUrl, {"api", "main", std::string()});
  // Even a delivery "signed" with the empty secret.
  HttpReply reply = handler_.Handle(Delivery("push", PushFixture().dump(), ""));
  EXPECT_EQ(reply.status, 401);
  json body = Body(reply);
  EXPECT_THAT(body["error"].get<std::string>(), HasSubstr("no webhook secret is set for web, api"));
  EXPECT_THAT(body["fix"].get<std::string>(),
              HasSubstr("tempa apps update web --webhook-secret-file FILE"));
  EXPECT_THAT(targets_.accept_calls(), IsEmpty());
}

TEST_F(GithubWebhookHandlerTest, OnlyAppsWhoseSecretVerifiesAreBuilt) {
  targets_.AddApp(kCloneUrl, {"ours", "main", kSecret});
  targets_.AddApp(kCloneUrl, {"theirs", "main", std::string("another-secret")});
  targets_.AddApp(kCloneUrl, {"nosecret", "main", std::nullopt});
  HttpReply reply = handler_.Handle(Delivery("push", PushFixture().dump()));
  EXPECT_EQ(reply.status, 201);
  EXPECT_EQ(Body(reply)["builds"], json::parse(R"([{"app":"ours","id":"b1"}])"));
}

TEST_F(GithubWebhookHandlerTest, TheSameDeliveryTwiceQueuesOneBuildAndAnswersItsBuilds) {
  targets_.AddApp(kCloneUrl, {"web", "main", kSecret});
  HttpReply first = handler_.Handle(Delivery("push", PushFixture().dump()));
  HttpReply second = handler_.Handle(Delivery("push", PushFixture().dump()));
  EXPECT_EQ(first.status, 201);
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(Body(second)["builds"], Body(first)["builds"]);
  EXPECT_THAT(targets_.accept_calls(), SizeIs(1));
  EXPECT_EQ(targets_.builds(), 1);
  // Another delivery of the same commit is a new delivery (GitHub's redeliver keeps the id).
  EXPECT_EQ(handler_.Handle(Delivery("push", PushFixture().dump(), kSecret, "d-2")).status, 201);
}

TEST_F(GithubWebhookHandlerTest, AppsFollowingAnotherBranchAreSkipped) {
  targets_.AddApp(kCloneUrl, {"web", "main", kSecret});
  targets_.AddApp(kCloneUrl, {"staging", "release", kSecret});
  HttpReply reply = handler_.Handle(Delivery("push", PushFixture().dump()));
  EXPECT_EQ(Body(reply)["builds"], json::parse(R"([{"app":"web","id":"b1"}])"));

  json doc = PushFixture();
  doc["ref"] = "refs/heads/feature/x";
  HttpReply ignored = handler_.Handle(Delivery("push", doc.dump(), kSecret, "d-2"));
  EXPECT_EQ(ignored.status, 202);
  EXPECT_THAT(Body(ignored)["ignored"].get<std::string>(),
              HasSubstr("no app follows branch feature/x"));
  EXPECT_THAT(Body(ignored)["builds"], IsEmpty());
  EXPECT_THAT(targets_.accept_calls(), SizeIs(1));
}

TEST_F(GithubWebhookHandlerTest, AnAppWithoutABranchFollowsTheDefaultBranch) {
  targets_.AddApp(kCloneUrl, {"web", "", kSecret});
  EXPECT_EQ(handler_.Handle(Delivery("push", PushFixture().dump())).status, 201);
  json doc = PushFixture();
  doc["ref"] = "refs/heads/dev";
  EXPECT_EQ(handler_.Handle(Delivery("push", doc.dump(), kSecret, "d-2")).status, 202);
  EXPECT_THAT(targets_.accept_calls(), SizeIs(1));
}

TEST_F(GithubWebhookHandlerTest, TagPushAndBranchDeletionAreIgnoredWithAReason) {
  targets_.AddApp(kCloneUrl, {"web", "main", kSecret});
  json tag = PushFixture();
  tag["ref"] = "refs/tags/v2";
  HttpReply reply = handler_.Handle(Delivery("push", tag.dump()));
  EXPECT_EQ(reply.status, 202);
  EXPECT_THAT(Body(reply)["ignored"].get<std::string>(), HasSubstr("refs/tags/v2 is not a branch"));

  json deleted = PushFixture();
  deleted["after"] = std::string(40, '0');
  deleted["deleted"] = true;
  deleted["head_commit"] = nullptr;
  reply = handler_.Handle(Delivery("push", deleted.dump(), kSecret, "d-2"));
  EXPECT_EQ(reply.status, 202);
  EXPECT_THAT(Body(reply)["ignored"].get<std::string>(), HasSubstr("was deleted"));
  EXPECT_THAT(targets_.accept_calls(), IsEmpty());
}

TEST_F(GithubWebhookHandlerTest, AnIgnoredRefWithABadSignatureIsStill401) {
  targets_.AddApp(kCloneUrl, {"web", "main", kSecret});
  json tag = PushFixture();
  tag["ref"] = "refs/tags/v2";
  EXPECT_EQ(handler_.Handle(Delivery("push", tag.dump(), "wrong")).status, 401);
}

TEST_F(GithubWebhookHandlerTest, OtherEventsAreIgnoredWithoutTouchingTheState) {
  HttpReply reply = handler_.Handle(Delivery("issues", R"({"action":"opened"})"));
  EXPECT_EQ(reply.status, 202);
  EXPECT_THAT(Body(reply)["ignored"].get<std::string>(), HasSubstr("ignored event issues"));
  EXPECT_EQ(targets_.lookups(), 0);
}

TEST_F(GithubWebhookHandlerTest, MissingEventOrDeliveryHeaderIs400NamingIt) {
  WebhookDelivery no_event = Delivery("push", PushFixture().dump());
  no_event.event.clear();
  HttpReply reply = handler_.Handle(no_event);
  EXPECT_EQ(reply.status, 400);
  EXPECT_THAT(Body(reply)["error"].get<std::string>(), HasSubstr("X-GitHub-Event"));

  WebhookDelivery no_id = Delivery("push", PushFixture().dump(), kSecret, "");
  reply = handler_.Handle(no_id);
  EXPECT_EQ(reply.status, 400);
  EXPECT_THAT(Body(reply)["error"].get<std::string>(), HasSubstr("X-GitHub-Delivery"));

  for (const std::string& id : {std::string(129, 'a'), std::string("a b"), std::string("a\x01")}) {
    EXPECT_EQ(handler_.Handle(Delivery("push", PushFixture().dump(), kSecret, id)).status, 400);
  }
  EXPECT_EQ(targets_.lookups(), 0);
}

TEST_F(GithubWebhookHandlerTest, FormEncodedPayloadIs415SayingToSwitchToJson) {
  targets_.AddApp(kCloneUrl, {"web", "main", kSecret});
  WebhookDelivery form = Delivery("push", "payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D");
  form.content_type = "application/x-www-form-urlencoded";
  HttpReply reply = handler_.Handle(form);
  EXPECT_EQ(reply.status, 415);
  EXPECT_THAT(Body(reply)["fix"].get<std::string>(),
              HasSubstr("set the webhook's content type to application/json"));

  WebhookDelivery plain = Delivery("push", PushFixture().dump());
  plain.content_type = "text/plain";
  EXPECT_EQ(handler_.Handle(plain).status, 415);
  plain.content_type = "";
  EXPECT_EQ(handler_.Handle(plain).status, 415);
  EXPECT_THAT(targets_.accept_calls(), IsEmpty());

  WebhookDelivery json_utf8 = Delivery("push", PushFixture().dump());
  json_utf8.content_type = "Application/JSON; charset=utf-8";
  EXPECT_EQ(handler_.Handle(json_utf8).status, 201);
}

TEST_F(GithubWebhookHandlerTest, MalformedPushPayloadIs400NamingTheField) {
  targets_.AddApp(kCloneUrl, {"web", "main", kSecret});
  json doc = PushFixture();
  doc["after"] = "HEAD";
  HttpReply reply = handler_.Handle(Delivery("push", doc.dump()));
  EXPECT_EQ(reply.status, 400);
  EXPECT_THAT(Body(reply)["error"].get<std::string>(), HasSubstr("field after"));
  EXPECT_EQ(handler_.Handle(Delivery("push", "{\"ref\":")).status, 400);
  EXPECT_THAT(targets_.accept_calls(), IsEmpty());
}

TEST_F(GithubWebhookHandlerTest, StateErrorsAre503WithTheReason) {
  targets_.AddApp(kCloneUrl, {"web", "main", kSecret});
  targets_.FailWith(absl::UnavailableError("rocksdb: No space left on device"));
  HttpReply reply = handler_.Handle(Delivery("push", PushFixture().dump()));
  EXPECT_EQ(reply.status, 503);
  EXPECT_THAT(Body(reply)["error"].get<std::string>(), HasSubstr("No space left on device"));
  EXPECT_THAT(Body(reply)["fix"].get<std::string>(), HasSubstr("redeliver"));
}

TEST_F(GithubWebhookHandlerTest, PingOfAFollowedRepositoryIs200AndNamesTheApps) {
  targets_.AddApp(kCloneUrl, {"web", "main", kSecret});
  HttpReply reply = handler_.Handle(Delivery("ping", PingBody()));
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_THAT(Body(reply)["message"].get<std::string>(), HasSubstr("web"));
  EXPECT_THAT(targets_.accept_calls(), IsEmpty());
}

TEST_F(GithubWebhookHandlerTest, PingIsRefusedLikeAPushWouldBe) {
  EXPECT_EQ(handler_.Handle(Delivery("ping", PingBody())).status, 404);
  targets_.AddApp(kCloneUrl, {"web", "main", kSecret});
  EXPECT_EQ(handler_.Handle(Delivery("ping", PingBody(), "wrong")).status, 401);
  EXPECT_EQ(handler_.Handle(Delivery("ping", "{\"repository\": 3}")).status, 400);
}

TEST_F(GithubWebhookHandlerTest, PingWithoutARepositoryIs200) {
  HttpReply reply = handler_.Handle(Delivery("ping", PingBody(/*with_repository=*/false)));
  EXPECT_EQ(reply.status, 200);
  EXPECT_THAT(Body(reply)["message"].get<std::string>(), HasSubstr("names no repository"));
}

TEST(GithubWebhookHandlerMetricsTest, CountsDeliveriesByEventAndStatus) {
  testing::FakeWebhookTargets targets;
  targets.AddApp(kCloneUrl, {"web", "main", kSecret});
  metrics::MetricsRegistry registry;
  GithubWebhookHandler handler(&targets, &registry);
  handler.Handle(Delivery("push", PushFixture().dump()));
  handler.Handle(Delivery("push", PushFixture().dump(), "wrong", "d-2"));
  handler.Handle(Delivery("push", PushFixture().dump(), "wrong", "d-3"));
  handler.Handle(Delivery("weird-event-name", "{}"));
  std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("tempa_webhook_deliveries_total{event=\"push\",status=\"201\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("tempa_webhook_deliveries_total{event=\"push\",status=\"401\"} 2\n"));
  EXPECT_THAT(text,
              HasSubstr("tempa_webhook_deliveries_total{event=\"other\",status=\"202\"} 1\n"));
}

}  // namespace
}  // namespace tempa::coordinator
