#include "common/cancel_token.h"

#include <thread>

#include "gtest/gtest.h"

namespace tempa {
namespace {

TEST(CancelTokenTest, StartsUnsetAndStaysSetOnceCancelled) {
  CancelToken token;
  EXPECT_FALSE(token.cancelled());
  EXPECT_FALSE(IsCancelled(&token));
  EXPECT_FALSE(IsCancelled(nullptr));
  token.Cancel();
  token.Cancel();
  EXPECT_TRUE(token.cancelled());
  EXPECT_TRUE(IsCancelled(&token));
}

TEST(CancelTokenTest, WaitForReturnsFalseWhenNobodyCancels) {
  CancelToken token;
  EXPECT_FALSE(token.WaitFor(absl::Milliseconds(1)));
}

TEST(CancelTokenTest, WaitForWakesWhenAnotherThreadCancels) {
  CancelToken token;
  std::thread canceller([&] { token.Cancel(); });
  // Not a timing assertion: the timeout only keeps a broken wake-up from hanging the test.
  EXPECT_TRUE(token.WaitFor(absl::Minutes(5)));
  canceller.join();
}

}  // namespace
}  // namespace tempa
