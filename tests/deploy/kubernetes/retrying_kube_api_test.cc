// The retry decorator: which failures are tried again, how often, and how it gives up.
#include "deploy/kubernetes/retrying_kube_api.h"

#include <deque>
#include <vector>

#include "common/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::deploy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Answers each call with the next scripted status (OK once the script is used up).
class ScriptedKubeApi : public KubeApi {
 public:
  std::deque<absl::Status> script;
  int calls = 0;
  int watches = 0;

  absl::StatusOr<nlohmann::json> Get(const std::string&) override {
    RETURN_IF_ERROR(Next());
    return nlohmann::json{{"kind", "Deployment"}};
  }
  absl::StatusOr<std::string> GetText(const std::string&) override {
    RETURN_IF_ERROR(Next());
    return std::string("log");
  }
  absl::Status Delete(const std::string&) override { return Next(); }
  absl::StatusOr<nlohmann::json> Apply(const std::string&, const nlohmann::json& body,
                                       const std::string&, bool) override {
    RETURN_IF_ERROR(Next());
    return body;
  }
  absl::Status Watch(const std::string&, const std::string&, absl::Duration,
                     const std::function<WatchNext(const nlohmann::json&)>&) override {
    ++watches;
    return absl::UnavailableError("watch dropped");
  }

 private:
  absl::Status Next() {
    ++calls;
    if (script.empty()) return absl::OkStatus();
    absl::Status s = script.front();
    script.pop_front();
    return s;
  }
};

class RetryingKubeApiTest : public ::testing::Test {
 protected:
  std::unique_ptr<KubeApi> Make(int attempts) {
    return MakeRetryingKubeApi(&inner_, {attempts, absl::Seconds(1), absl::Seconds(3),
                                         [this](absl::Duration d) { sleeps_.push_back(d); }});
  }
  ScriptedKubeApi inner_;
  std::vector<absl::Duration> sleeps_;
};

TEST_F(RetryingKubeApiTest, ConflictsAndServerErrorsAreTriedAgainWithGrowingBackoff) {
  inner_.script = {absl::AbortedError("409 Conflict"), absl::InternalError("500"),
                   absl::UnavailableError("connection refused"),
                   absl::DeadlineExceededError("timed out")};
  absl::StatusOr<nlohmann::json> applied =
      Make(5)->Apply("/x", nlohmann::json{{"a", 1}}, "tempa", true);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(inner_.calls, 5);
  EXPECT_THAT(sleeps_,
              ElementsAre(absl::Seconds(1), absl::Seconds(2), absl::Seconds(3), absl::Seconds(3)));
}

TEST_F(RetryingKubeApiTest, GivesUpAfterTheLastAttemptNamingHowMany) {
  inner_.script = {absl::InternalError("a"), absl::InternalError("b"),
                   absl::InternalError("500 Internal Server Error: etcd"),
                   absl::InternalError("never reached")};
  absl::Status deleted = Make(3)->Delete("/x");
  EXPECT_EQ(deleted.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(deleted.message()),
              HasSubstr("failed 3 times, giving up: 500 Internal Server Error: etcd"));
  EXPECT_EQ(inner_.calls, 3);
}

TEST_F(RetryingKubeApiTest, NotFoundRefusalsAndBadRequestsAreFinal) {
  for (absl::Status s : {absl::NotFoundError("404"), absl::UnauthenticatedError("401"),
                         absl::PermissionDeniedError("403"), absl::InvalidArgumentError("422")}) {
    inner_.calls = 0;
    inner_.script = {s};
    EXPECT_EQ(Make(5)->Get("/x").status(), s);
    EXPECT_EQ(inner_.calls, 1);
  }
  EXPECT_THAT(sleeps_, IsEmpty());
}

TEST_F(RetryingKubeApiTest, WatchesPassThroughUntried) {
  EXPECT_FALSE(Make(5)
                   ->Watch("/x", "", absl::Seconds(1),
                           [](const nlohmann::json&) { return WatchNext::kContinue; })
                   .ok());
  EXPECT_EQ(inner_.watches, 1);
  EXPECT_THAT(sleeps_, IsEmpty());
}

}  // namespace
}  // namespace tempa::deploy
