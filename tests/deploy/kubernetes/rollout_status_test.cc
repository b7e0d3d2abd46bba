// `kubectl rollout status`'s judgement of a Deployment object.
#include "deploy/kubernetes/rollout_status.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::deploy {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json Deployment(int64_t generation, json status, int64_t replicas = 3) {
  return {{"metadata", {{"name", "shop"}, {"generation", generation}}},
          {"spec", {{"replicas", replicas}}},
          {"status", status}};
}

TEST(RolloutStatusTest, WaitsUntilTheControllerObservedTheAppliedGeneration) {
  RolloutVerdict v = JudgeRollout(Deployment(4, {{"observedGeneration", 3},
                                                 {"replicas", 3},
                                                 {"updatedReplicas", 3},
                                                 {"availableReplicas", 3}}),
                                  4);
  EXPECT_EQ(v.state, RolloutVerdict::kWaiting);
  EXPECT_THAT(v.message, HasSubstr("spec update to be observed"));
  // An older generation than the one our apply produced says nothing about this rollout.
  v = JudgeRollout(Deployment(3, {{"observedGeneration", 3},
                                  {"replicas", 3},
                                  {"updatedReplicas", 3},
                                  {"availableReplicas", 3}}),
                   4);
  EXPECT_EQ(v.state, RolloutVerdict::kWaiting);
}

TEST(RolloutStatusTest, WaitsForUpdatedThenOldGoneThenAvailable) {
  EXPECT_THAT(JudgeRollout(Deployment(2, {{"observedGeneration", 2},
                                          {"replicas", 4},
                                          {"updatedReplicas", 1},
                                          {"availableReplicas", 3}}),
                           2)
                  .message,
              HasSubstr("1 out of 3 new replicas have been updated"));
  EXPECT_THAT(JudgeRollout(Deployment(2, {{"observedGeneration", 2},
                                          {"replicas", 4},
                                          {"updatedReplicas", 3},
                                          {"availableReplicas", 3}}),
                           2)
                  .message,
              HasSubstr("1 old replicas are pending termination"));
  EXPECT_THAT(JudgeRollout(Deployment(2, {{"observedGeneration", 2},
                                          {"replicas", 3},
                                          {"updatedReplicas", 3},
                                          {"availableReplicas", 2}}),
                           2)
                  .message,
              HasSubstr("2 of 3 updated replicas are available"));
  EXPECT_EQ(JudgeRollout(Deployment(2, {{"observedGeneration", 2},
                                        {"replicas", 3},
                                        {"updatedReplicas", 3},
                                        {"availableReplicas", 3}}),
                         2)
                .state,
            RolloutVerdict::kDone);
}

TEST(RolloutStatusTest, ProgressDeadlineExceededIsAFailure) {
  RolloutVerdict v = JudgeRollout(
      Deployment(2, {{"observedGeneration", 2},
                     {"replicas", 4},
                     {"updatedReplicas", 1},
                     {"availableReplicas", 3},
                     {"conditions",
                      {{{"type", "Progressing"},
                        {"status", "False"},
                        {"reason", "ProgressDeadlineExceeded"},
                        {"message", "ReplicaSet \"shop-7d\" has timed out progressing."}}}}}),
      2);
  EXPECT_EQ(v.state, RolloutVerdict::kFailed);
  EXPECT_THAT(v.message, HasSubstr("ProgressDeadlineExceeded"));
  EXPECT_THAT(v.message, HasSubstr("timed out progressing"));
}

TEST(RolloutStatusTest, MistypedFieldsNeverCountAsDone) {
  RolloutVerdict v = JudgeRollout(Deployment(2, {{"observedGeneration", "2"},
                                                 {"replicas", "3"},
                                                 {"updatedReplicas", 3},
                                                 {"availableReplicas", 3}}),
                                  2);
  EXPECT_EQ(v.state, RolloutVerdict::kWaiting);
  EXPECT_EQ(JudgeRollout(json::array(), 1).state, RolloutVerdict::kWaiting);
  EXPECT_EQ(JudgeRollout(json{{"metadata", 5}}, 1).state, RolloutVerdict::kWaiting);
}

}  // namespace
}  // namespace tempa::deploy
