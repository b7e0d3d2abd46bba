// The soak test's judge, judged: each rule flags the farm misbehaving in the way it names, and a
// history the farm may produce passes.
#include "tests/e2e/soak_invariants.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kRegistry[] = "127.0.0.1:5000";

v1::Build Build(int sequence, const std::string& delivery, v1::BuildStatus status,
                int64_t queued_ms, int64_t finished_ms) {
  v1::Build b;
  b.set_id("b-" + std::to_string(sequence));
  b.set_sequence(sequence);
  b.set_app("api");
  b.set_branch("main");
  b.set_commit(std::string(40, static_cast<char>('a' + sequence % 6)));
  b.set_delivery_id(delivery);
  b.set_status(status);
  b.set_queued_unix_ms(queued_ms);
  b.set_finished_unix_ms(finished_ms);
  if (status == v1::SUCCEEDED) {
    b.set_image(SoakImage(std::string(kRegistry) + "/api", b.id(), b.commit()));
  }
  return b;
}

// Three pushes to api/main: the first built before the second came, the second superseded by
// the third, the third built.
SoakRecord GoodHistory() {
  SoakRecord record;
  record.registry = kRegistry;
  record.builds = {Build(1, "d1", v1::SUCCEEDED, 100, 150),
                   Build(2, "d2", v1::SUPERSEDED, 200, 310),
                   Build(3, "d3", v1::SUCCEEDED, 300, 400)};
  record.builds[1].set_superseded_by("b-3");
  for (const v1::Build& b : record.builds) {
    record.deliveries[b.delivery_id()] = SoakDelivery{"repo", "main", b.commit(), {"api"}};
    record.acked[b.delivery_id()] = {{"api", b.id()}};
    record.completions[b.id()].accepted = 1;
    record.completions[b.id()].images.push_back(b.image());
  }
  return record;
}

TEST(SoakInvariantsTest, AHistoryTheFarmMayProducePasses) {
  EXPECT_THAT(SoakViolations(GoodHistory()), IsEmpty());
}

TEST(SoakInvariantsTest, FlagsAnAcknowledgedBuildThatWasLost) {
  SoakRecord record = GoodHistory();
  record.builds.erase(record.builds.begin());
  std::vector<std::string> violations = SoakViolations(record);
  ASSERT_THAT(violations, ElementsAre(HasSubstr("acknowledged build b-1 of delivery d1 was lost")));
}

TEST(SoakInvariantsTest, FlagsAResultAcceptedTwice) {
  SoakRecord record = GoodHistory();
  record.completions["b-3"].accepted = 2;
  EXPECT_THAT(SoakViolations(record), ElementsAre(HasSubstr("built twice to completion")));
}

TEST(SoakInvariantsTest, FlagsAnOlderBuildThatSucceededAfterANewerPushCame) {
  SoakRecord record = GoodHistory();
  record.builds[0].set_finished_unix_ms(250);  // after b-2 was accepted at 200
  EXPECT_THAT(SoakViolations(record), ElementsAre(HasSubstr("older b-1")));
}

TEST(SoakInvariantsTest, FlagsTheNewestPushNotBuilt) {
  SoakRecord record = GoodHistory();
  record.builds[2].set_status(v1::FAILED);
  std::vector<std::string> violations = SoakViolations(record);
  EXPECT_THAT(violations, ::testing::Contains(HasSubstr("the newest push did not succeed")));
}

TEST(SoakInvariantsTest, FlagsADeliveryThatMadeTwoBuildsOfOneApp) {
  SoakRecord record = GoodHistory();
  v1::Build again = Build(4, "d3", v1::SUCCEEDED, 500, 600);
  again.set_commit(record.builds[2].commit());
  again.set_image(SoakImage(std::string(kRegistry) + "/api", again.id(), again.commit()));
  record.builds.push_back(again);
  EXPECT_THAT(SoakViolations(record),
              ::testing::Contains(HasSubstr("delivery d3 made two builds of api")));
}

TEST(SoakInvariantsTest, FlagsASucceededBuildCarryingAnotherBuildsImage) {
  SoakRecord record = GoodHistory();
  record.builds[2].set_image(record.builds[0].image());
  EXPECT_THAT(SoakViolations(record), ::testing::Contains(HasSubstr("not the one built for it")));
}

TEST(SoakInvariantsTest, FlagsASuccessNoWorkerReported) {
  SoakRecord record = GoodHistory();
  record.completions.erase("b-3");
  EXPECT_THAT(SoakViolations(record), ElementsAre(HasSubstr("no worker sent that result")));
}

TEST(SoakInvariantsTest, FlagsASupersededBuildWhoseSuccessorIsNotNewer) {
  SoakRecord record = GoodHistory();
  record.builds[1].set_superseded_by("b-1");
  EXPECT_THAT(SoakViolations(record), ElementsAre(HasSubstr("not a newer build")));
}

}  // namespace
}  // namespace tempa::testing
