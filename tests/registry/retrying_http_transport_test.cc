// RetryingHttpTransport on a scripted transport: what is repeated, how often, and what is not.
#include "common/registry/retrying_http_transport.h"

#include <deque>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::registry {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Answers from a script (a status code, or 0 for a connection failure); the last one repeats.
class ScriptedTransport : public HttpTransport {
 public:
  explicit ScriptedTransport(std::vector<int> script) : script_(script.begin(), script.end()) {}
  absl::StatusOr<HttpResponse> Send(const HttpRequest&) override {
    ++sent;
    int status = script_.front();
    if (script_.size() > 1) script_.pop_front();
    if (status == 0) return absl::UnavailableError("GET r.example: connection failed");
    HttpResponse response;
    response.status = status;
    return response;
  }
  int sent = 0;

 private:
  std::deque<int> script_;
};

class RetryingHttpTransportTest : public ::testing::Test {
 protected:
  RetryingHttpTransport Retrying(ScriptedTransport* inner) {
    return RetryingHttpTransport(inner, RetryPolicy{.max_attempts = 4},
                                 [this](absl::Duration d) { sleeps_.push_back(d); });
  }
  std::vector<absl::Duration> sleeps_;
};

TEST_F(RetryingHttpTransportTest, ServerErrorsAndConnectionFailuresAreRetriedWithBackoff) {
  ScriptedTransport inner({503, 0, 429, 200});
  auto response = Retrying(&inner).Send(HttpRequest{});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->attempts, 4);
  EXPECT_THAT(sleeps_, ElementsAre(absl::Milliseconds(200), absl::Milliseconds(400),
                                   absl::Milliseconds(800)));
}

TEST_F(RetryingHttpTransportTest, ClientErrorsAreAnsweredAtOnce) {
  ScriptedTransport inner({404});
  auto response = Retrying(&inner).Send(HttpRequest{});
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(inner.sent, 1);
}

TEST_F(RetryingHttpTransportTest, ExhaustedAttemptsSaySo) {
  ScriptedTransport down({0});
  auto failed = Retrying(&down).Send(HttpRequest{});
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("gave up after 4 attempts"));
  ScriptedTransport erroring({500});
  auto last = Retrying(&erroring).Send(HttpRequest{});
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->status, 500);
  EXPECT_EQ(last->attempts, 4);
}

TEST_F(RetryingHttpTransportTest, WhatCannotBeRepeatedIsSentOnce) {
  ScriptedTransport inner({500, 200});
  HttpRequest once;
  once.retryable = false;
  EXPECT_EQ(Retrying(&inner).Send(once)->status, 500);
  EXPECT_EQ(inner.sent, 1);

  ScriptedTransport streaming({500, 200});
  HttpRequest consumed;
  consumed.rewind_sink = [] { return false; };  // bytes already went somewhere that keeps them
  EXPECT_EQ(Retrying(&streaming).Send(consumed)->status, 500);
  EXPECT_EQ(streaming.sent, 1);
  EXPECT_TRUE(sleeps_.empty());
}

}  // namespace
}  // namespace tempa::registry
