#include "common/grpc/retry.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::rpc {
namespace {

using ::testing::HasSubstr;

// A scripted clock: sleeping advances it, and every wait is recorded.
struct FakeTime {
  absl::Time now = absl::FromUnixSeconds(1'000'000);
  std::vector<absl::Duration> waits;

  RetryOptions Options() {
    RetryOptions options;
    options.now = [this] { return now; };
    options.sleep = [this](absl::Duration d) {
      waits.push_back(d);
      now += d;
    };
    return options;
  }
};

grpc::Status Unavailable() { return grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"); }

TEST(GrpcRetryTest, RetriesUnavailableThenSucceeds) {
  FakeTime time;
  int calls = 0;
  grpc::Status status = CallWithRetry(
      time.Options(), [&](absl::Time) { return ++calls < 3 ? Unavailable() : grpc::Status::OK; });
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(time.waits.size(), 2u);
}

TEST(GrpcRetryTest, NeverRetriesWhatAnotherAttemptCannotFix) {
  for (grpc::StatusCode code :
       {grpc::StatusCode::INVALID_ARGUMENT, grpc::StatusCode::NOT_FOUND,
        grpc::StatusCode::PERMISSION_DENIED, grpc::StatusCode::UNAUTHENTICATED,
        grpc::StatusCode::FAILED_PRECONDITION, grpc::StatusCode::ALREADY_EXISTS,
        grpc::StatusCode::INTERNAL, grpc::StatusCode::UNKNOWN, grpc::StatusCode::DEADLINE_EXCEEDED,
        grpc::StatusCode::CANCELLED, grpc::StatusCode::UNIMPLEMENTED, grpc::StatusCode::ABORTED}) {
    FakeTime time;
    int calls = 0;
    grpc::Status status = CallWithRetry(time.Options(), [&](absl::Time) {
      ++calls;
      return grpc::Status(code, "no");
    });
    EXPECT_EQ(status.error_code(), code);
    EXPECT_EQ(status.error_message(), "no");
    EXPECT_EQ(calls, 1) << "code " << code;
    EXPECT_TRUE(time.waits.empty());
  }
}

TEST(GrpcRetryTest, ResourceExhaustedIsRetriedUnlessTurnedOffOrTheMessageWasTooLarge) {
  FakeTime time;
  int calls = 0;
  auto exhausted_once = [&](absl::Time) {
    return ++calls == 1 ? grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "busy")
                        : grpc::Status::OK;
  };
  EXPECT_TRUE(CallWithRetry(time.Options(), exhausted_once).ok());
  EXPECT_EQ(calls, 2);

  calls = 0;
  RetryOptions off = time.Options();
  off.retry_resource_exhausted = false;
  EXPECT_EQ(CallWithRetry(off, exhausted_once).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(calls, 1);

  calls = 0;
  grpc::Status status = CallWithRetry(time.Options(), [&](absl::Time) {
    ++calls;
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "Received message larger than max (5000000 vs. 4194304)");
  });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(calls, 1);
}

TEST(GrpcRetryTest, WaitsGrowExponentiallyWithinTheJitterAndStopAtTheCap) {
  FakeTime time;
  RetryOptions options = time.Options();
  options.initial_backoff = absl::Milliseconds(100);
  options.multiplier = 2;
  options.max_backoff = absl::Seconds(1);
  options.jitter = 0.2;
  options.max_attempts = 9;
  int calls = 0;
  grpc::Status status = CallWithRetry(options, [&](absl::Time) {
    ++calls;
    return Unavailable();
  });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("9 attempts"));
  EXPECT_EQ(calls, 9);
  ASSERT_EQ(time.waits.size(), 8u);
  const double base_ms[] = {100, 200, 400, 800, 1000, 1000, 1000, 1000};
  for (size_t i = 0; i < time.waits.size(); ++i) {
    double ms = absl::ToDoubleMilliseconds(time.waits[i]);
    EXPECT_GE(ms, base_ms[i] * 0.8 - 1e-6) << "wait " << i;
    EXPECT_LE(ms, base_ms[i] * 1.2 + 1e-6) << "wait " << i;
  }
}

TEST(GrpcRetryTest, WithoutJitterTheWaitsAreExact) {
  FakeTime time;
  RetryOptions options = time.Options();
  options.initial_backoff = absl::Milliseconds(50);
  options.multiplier = 3;
  options.max_backoff = absl::Milliseconds(1000);
  options.jitter = 0;
  options.max_attempts = 5;
  CallWithRetry(options, [](absl::Time) { return Unavailable(); });
  EXPECT_THAT(time.waits,
              ::testing::ElementsAre(absl::Milliseconds(50), absl::Milliseconds(150),
                                     absl::Milliseconds(450), absl::Milliseconds(1000)));
}

TEST(GrpcRetryTest, GivesUpRatherThanWaitPastTheDeadlineWhichEveryAttemptGets) {
  FakeTime time;
  RetryOptions options = time.Options();
  options.deadline = time.now + absl::Seconds(2);
  options.initial_backoff = absl::Milliseconds(300);
  options.jitter = 0;
  std::vector<absl::Time> deadlines;
  grpc::Status status = CallWithRetry(options, [&](absl::Time deadline) {
    deadlines.push_back(deadline);
    return Unavailable();
  });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("the deadline came"));
  // Waits of 300 and 600 ms fit in 2 s; the next, 1200 ms, would end past it.
  EXPECT_THAT(time.waits, ::testing::ElementsAre(absl::Milliseconds(300), absl::Milliseconds(600)));
  EXPECT_EQ(deadlines.size(), 3u);
  for (absl::Time deadline : deadlines) EXPECT_EQ(deadline, options.deadline);
  EXPECT_LE(time.now, options.deadline);
}

TEST(GrpcRetryTest, RaisedCancelFlagStopsTheNextAttempt) {
  FakeTime time;
  std::atomic<bool> cancelled{false};
  RetryOptions options = time.Options();
  options.cancelled = &cancelled;
  int calls = 0;
  grpc::Status status = CallWithRetry(options, [&](absl::Time) {
    if (++calls == 2) cancelled = true;
    return Unavailable();
  });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_THAT(status.error_message(), HasSubstr("down"));
  EXPECT_EQ(calls, 2);

  calls = 0;
  status = CallWithRetry(options, [&](absl::Time) {
    ++calls;
    return grpc::Status::OK;
  });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(calls, 0);
}

TEST(GrpcRetryTest, CancelEndsARealWaitEarly) {
  std::atomic<bool> cancelled{false};
  RetryOptions options;  // the real clock and sleep
  options.cancelled = &cancelled;
  options.initial_backoff = absl::Hours(1);
  options.max_backoff = absl::Hours(1);
  std::atomic<int> calls{0};
  std::thread canceller([&] {
    while (calls.load() == 0) absl::SleepFor(absl::Milliseconds(1));
    cancelled = true;
  });
  // Hangs for an hour if the wait ignored the flag.
  grpc::Status status = CallWithRetry(options, [&](absl::Time) {
    ++calls;
    return Unavailable();
  });
  canceller.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(calls.load(), 1);
}

}  // namespace
}  // namespace tempa::rpc
