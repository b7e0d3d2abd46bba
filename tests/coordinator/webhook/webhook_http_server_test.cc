// The webhook listener for real over loopback: cpp-httplib's client for well-formed requests,
// raw sockets for what a hostile or broken client sends.
#include "coordinator/webhook/webhook_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/metrics/metrics.h"
#include "coordinator/webhook/github_webhook.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/coordinator/webhook/webhook_fixture.h"

namespace tempa::coordinator {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::kCloneUrl;
using testing::PushFixture;
using ::testing::StartsWith;

constexpr char kSecret[] = "loopback-secret";
constexpr size_t kLimit = 64 << 10;

// Sends `request` on a fresh connection (ignoring a failed send: the server may stop reading)
// and returns everything the server answers until it closes.
std::string RawExchange(int port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string answer;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return answer;
}

std::string PostHead(const std::string& extra_headers) {
  return absl::StrCat("POST /webhooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                      "Content-Type: application/json\r\nX-GitHub-Event: push\r\n",
                      "X-GitHub-Delivery: raw-1\r\n", extra_headers, "\r\n");
}

class WebhookHttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    targets_.AddApp(kCloneUrl, {"web", "main", kSecret});
    StartServer({});
  }

  void StartServer(WebhookHttpServer::Options options) {
    options.max_body_bytes = kLimit;
    server_ = std::make_unique<WebhookHttpServer>(options, &handler_,
                                                  [this] { return registry_.Render(); });
    absl::StatusOr<int> port = server_->Start();
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
  }

  httplib::Result Post(const std::string& body, const std::string& signature,
                       const std::string& event = "push", const std::string& id = "d-1") {
    httplib::Client client("127.0.0.1", port_);
    httplib::Headers headers = {{"X-GitHub-Event", event}, {"X-GitHub-Delivery", id}};
    if (!signature.empty()) headers.emplace("X-Hub-Signature-256", signature);
    return client.Post("/webhooks/github", headers, body, "application/json");
  }

  testing::FakeWebhookTargets targets_;
  metrics::MetricsRegistry registry_;
  GithubWebhookHandler handler_{&targets_, &registry_};
  std::unique_ptr<WebhookHttpServer> server_;
  int port_ = 0;
};

TEST_F(WebhookHttpServerTest, SignedPushIs201WithItsBuilds) {
  std::string body = PushFixture().dump();
  httplib::Result res = Post(body, GithubSignature(kSecret, body));
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 201);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(res->body)["builds"][0]["app"], "web");
  EXPECT_EQ(targets_.builds(), 1);
}

TEST_F(WebhookHttpServerTest, RefusalsKeepTheirStatusOverHttpAndQueueNothing) {
  std::string body = PushFixture().dump();
  httplib::Result bad = Post(body, GithubSignature("wrong", body));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 401);
  EXPECT_THAT(bad->body, HasSubstr("signature does not match"));

  httplib::Client client("127.0.0.1", port_);
  httplib::Result no_event =
      client.Post("/webhooks/github", {{"X-GitHub-Delivery", "d-2"}}, body, "application/json");
  ASSERT_TRUE(no_event);
  EXPECT_EQ(no_event->status, 400);
  EXPECT_THAT(no_event->body, HasSubstr("X-GitHub-Event"));

  nlohmann::json other = PushFixture();
  other["repository"]["clone_url"] = "https://github.com/Octo-Org/unknown.git";
  other["repository"].erase("ssh_url");
  other["repository"].erase("git_url");
  other["repository"].erase("html_url");
  std::string other_body = other.dump();
  httplib::Result unknown = Post(other_body, GithubSignature(kSecret, other_body));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_THAT(unknown->body, HasSubstr("tempa apps create NAME --repo"));
  EXPECT_THAT(targets_.accept_calls(), IsEmpty());
}

TEST_F(WebhookHttpServerTest, PingIs200) {
  nlohmann::json ping = {{"zen", "Speak like a human."}, {"hook_id", 1}};
  ping["repository"] = PushFixture()["repository"];
  std::string body = ping.dump();
  httplib::Result res = Post(body, GithubSignature(kSecret, body), "ping");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST_F(WebhookHttpServerTest, OversizedBodyIs413AndNeverReachesTheHandler) {
  // Valid, signed JSON that the handler would look up if it ever saw it.
  nlohmann::json doc = PushFixture();
  doc["padding"] = std::string(4 * kLimit, 'x');
  std::string body = doc.dump();
  httplib::Result res = Post(body, GithubSignature(kSecret, body));
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 413);
  EXPECT_THAT(res->body, HasSubstr("over this server's limit"));
  EXPECT_EQ(targets_.lookups(), 0);
}

TEST_F(WebhookHttpServerTest, AClaimedHugeLengthIs413BeforeAnyBodyIsSent) {
  std::string answer = RawExchange(port_, PostHead("Content-Length: 10000000000\r\n"));
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 413"));
  EXPECT_EQ(targets_.lookups(), 0);
}

TEST_F(WebhookHttpServerTest, AClientExpecting100ContinueIsToldThe413Instead) {
  std::string answer =
      RawExchange(port_, PostHead("Content-Length: 10000000\r\nExpect: 100-continue\r\n"));
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 413"));
  EXPECT_THAT(answer, HasSubstr("over this server's limit"));
}

TEST_F(WebhookHttpServerTest, AClientExpecting100ContinueWithASmallBodyIsDelivered) {
  std::string body = PushFixture().dump();
  std::string request =
      PostHead(absl::StrCat("X-Hub-Signature-256: ", GithubSignature(kSecret, body),
                            "\r\nContent-Length: ", body.size(), "\r\nExpect: 100-continue\r\n"));
  std::string answer = RawExchange(port_, request + body);
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201"));
}

TEST_F(WebhookHttpServerTest, AChunkedBodyOverTheLimitIs413) {
  std::string request = PostHead("Transfer-Encoding: chunked\r\n");
  std::string chunk(8192, 'x');
  for (size_t sent = 0; sent <= 2 * kLimit; sent += chunk.size()) {
    absl::StrAppend(&request, "2000\r\n", chunk, "\r\n");
  }
  request += "0\r\n\r\n";
  std::string answer = RawExchange(port_, request);
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 413"));
  EXPECT_EQ(targets_.lookups(), 0);
}

TEST_F(WebhookHttpServerTest, AChunkedBodyUnderTheLimitIsDelivered) {
  std::string body = PushFixture().dump();
  std::string request =
      PostHead(absl::StrCat("X-Hub-Signature-256: ", GithubSignature(kSecret, body),
                            "\r\nTransfer-Encoding: chunked\r\n"));
  for (size_t i = 0; i < body.size(); i += 1000) {
    std::string part = body.substr(i, 1000);
    absl::StrAppend(&request, absl::Hex(part.size()), "\r\n", part, "\r\n");
  }
  request += "0\r\n\r\n";
  EXPECT_THAT(RawExchange(port_, request), StartsWith("HTTP/1.1 201"));
}

TEST_F(WebhookHttpServerTest, CompressedOrLengthlessBodiesAreRefusedUnread) {
  EXPECT_THAT(RawExchange(port_, PostHead("Content-Encoding: gzip\r\nContent-Length: 20\r\n") +
                                     std::string(20, 'x')),
              StartsWith("HTTP/1.1 415"));
  EXPECT_THAT(RawExchange(port_, PostHead("")), StartsWith("HTTP/1.1 411"));
  EXPECT_THAT(RawExchange(port_, PostHead("Content-Length: 12abc\r\n")),
              StartsWith("HTTP/1.1 411"));
  EXPECT_THAT(RawExchange(port_, PostHead("Transfer-Encoding: gzip, chunked\r\n")),
              StartsWith("HTTP/1.1 400"));
  EXPECT_EQ(targets_.lookups(), 0);
}

TEST_F(WebhookHttpServerTest, AnEndlessHeaderIsCutOffAndTheServerKeepsServing) {
  std::string request = "POST /webhooks/github HTTP/1.1\r\nX-Big: " + std::string(4 << 20, 'a');
  std::string answer = RawExchange(port_, request);
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 400"));
  httplib::Client client("127.0.0.1", port_);
  httplib::Result health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST_F(WebhookHttpServerTest, UnknownPathIs404AndWrongMethodIs405) {
  httplib::Client client("127.0.0.1", port_);
  httplib::Result other = client.Post("/webhooks/gitlab", "{}", "application/json");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
  EXPECT_THAT(other->body, HasSubstr("POST /webhooks/github"));
  httplib::Result get = client.Get("/webhooks/github");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  httplib::Result root = client.Get("/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 404);
}

TEST_F(WebhookHttpServerTest, MetricsServesPrometheusTextOfTheDeliveries) {
  std::string body = PushFixture().dump();
  ASSERT_TRUE(Post(body, GithubSignature(kSecret, body)));
  httplib::Client client("127.0.0.1", port_);
  httplib::Result res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(res->body, HasSubstr("# TYPE tempa_webhook_deliveries_total counter\n"));
  EXPECT_THAT(res->body,
              HasSubstr("tempa_webhook_deliveries_total{event=\"push\",status=\"201\"} 1\n"));
}

TEST_F(WebhookHttpServerTest, HealthzIsOk) {
  httplib::Client client("127.0.0.1", port_);
  httplib::Result res = client.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok\n");
}

TEST_F(WebhookHttpServerTest, AClientThatStallsIsDisconnectedAtTheRequestTimeout) {
  server_->Stop();
  WebhookHttpServer::Options options;
  options.request_timeout = absl::Milliseconds(300);
  StartServer(options);
  // Half a request line, then nothing: the server gives up and closes.
  std::string answer = RawExchange(port_, "POST /webhooks/gi");
  EXPECT_THAT(answer, ::testing::AnyOf(IsEmpty(), StartsWith("HTTP/1.1 400")));
}

TEST_F(WebhookHttpServerTest, ASecondServerCannotTakeTheSamePort) {
  WebhookHttpServer::Options options;
  options.port = port_;
  WebhookHttpServer second(options, &handler_, nullptr);
  absl::StatusOr<int> port = second.Start();
  EXPECT_TRUE(absl::IsUnavailable(port.status())) << port.status();
  EXPECT_THAT(port.status().message(), HasSubstr("--webhook-listen"));
}

TEST_F(WebhookHttpServerTest, StopRightAfterStartReturns) {
  WebhookHttpServer server({}, &handler_, nullptr);
  ASSERT_TRUE(server.Start().ok());
  server.Stop();
  server.Stop();
}

}  // namespace
}  // namespace tempa::coordinator
