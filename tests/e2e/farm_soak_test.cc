// The farm's exactly-once promise under chaos: a few hundred signed pushes (bursts to one
// branch, re-sent deliveries) while the real tempa-coordinator is killed with SIGKILL and
// restarted on the same data dir, and simulated workers (the real worker loop over gRPC) are
// killed and replaced at random points. Afterwards every acknowledged push has its builds, every
// build is finished, per app the newest push SUCCEEDED with its own image, older ones either
// finished before the newer push came or were SUPERSEDED, and no build was completed twice.
//
// TEMPA_SOAK_SEED fixes the random schedule (printed at the start); TEMPA_SOAK_PUSHES sets how
// many deliveries are posted (default 300). Every wait is bounded.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/grpc/client.h"
#include "gtest/gtest.h"
#include "tempa/v1/control.grpc.pb.h"
#include "tests/e2e/farm_fixture.h"
#include "tests/e2e/soak_invariants.h"
#include "tests/e2e/soak_worker.h"

namespace tempa::testing {
namespace {

using nlohmann::json;

constexpr char kSecret[] = "soak-webhook-secret";
constexpr char kRepoOne[] = "https://git.example.com/team/one.git";
constexpr char kRepoTwo[] = "https://git.example.com/team/two";
constexpr int kWorkers = 3;
// Bounds on the phases, so a farm that stops answering fails the test instead of hanging it.
constexpr absl::Duration kPushTime = absl::Seconds(300);
constexpr absl::Duration kDrainTime = absl::Seconds(90);

struct AppSpec {
  std::string name, repo, branch;
};
const std::vector<AppSpec>& Apps() {
  static const auto* apps = new std::vector<AppSpec>{{"soak-a", kRepoOne, "main"},
                                                     {"soak-b", kRepoOne, "main"},
                                                     {"soak-c", kRepoOne, "dev"},
                                                     {"soak-d", kRepoTwo, "main"},
                                                     {"soak-e", kRepoTwo, "release"}};
  return *apps;
}

// One POST of the plan: a new push, or a re-send of an earlier delivery (same id and body).
struct Push {
  std::string delivery, repo, branch, sha;
  bool burst = false;  // posted right after the previous one, no pause
};

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 10) : fallback;
}

std::string Hex40(std::mt19937_64& rng) {
  return absl::StrFormat("%016x%016x%08x", rng(), rng(), static_cast<uint32_t>(rng()));
}

class FarmSoakTest : public ::testing::Test {
 protected:
  FarmSoakTest() : farm_(FarmOptions{absl::Seconds(2), absl::Milliseconds(300), 1000}) {}

  void SetUp() override {
    std::string why;
    if (!FarmFixture::Available(&why)) GTEST_SKIP() << why;
    ASSERT_TRUE(farm_.StartRegistry().ok());
    ASSERT_TRUE(farm_.StartCoordinator().ok()) << farm_.coordinator()->log();
    std::ofstream(farm_.path("secret")) << kSecret;
    for (const AppSpec& app : Apps()) {
      CommandResult created =
          farm_.Cli({"apps", "create", app.name, "--repo", app.repo, "--branch", app.branch,
                     "--webhook-secret-file", farm_.path("secret")});
      ASSERT_EQ(created.exit_code, 0) << created.err;
    }
    control_options_.target = farm_.grpc_address();
    control_options_.token = kFarmAdminToken;
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = rpc::MakeChannel(control_options_);
    ASSERT_TRUE(channel.ok()) << channel.status();
    control_ = v1::ControlService::NewStub(*channel);
    worker_log_.open(farm_.path("soak-workers.log"));
  }

  void TearDown() override {
    absl::MutexLock lock(&workers_mu_);
    for (auto& worker : workers_) worker->Kill();
    workers_.clear();
    graveyard_.clear();  // joins
  }

  void WorkerLog(absl::string_view line) {
    absl::MutexLock lock(&log_mu_);
    worker_log_ << absl::FormatTime("%H:%M:%E3S ", absl::Now(), absl::UTCTimeZone()) << line
                << "\n";
  }

  std::unique_ptr<SimulatedWorker> NewWorker(const std::string& id, uint64_t seed) {
    return std::make_unique<SimulatedWorker>(farm_.grpc_address(), kFarmWorkerToken, id, 2, seed,
                                             &ledger_,
                                             [this](absl::string_view line) { WorkerLog(line); });
  }

  // Every build the coordinator holds (per app, newest first), or an error.
  absl::StatusOr<std::vector<v1::Build>> AllBuilds() {
    std::vector<v1::Build> all;
    for (const AppSpec& app : Apps()) {
      grpc::ClientContext ctx;
      rpc::PrepareContext(&ctx, control_options_, absl::Seconds(10));
      v1::ListBuildsRequest request;
      request.set_app(app.name);
      request.set_limit(1000);
      v1::ListBuildsResponse response;
      grpc::Status status = control_->ListBuilds(&ctx, request, &response);
      if (!status.ok()) return absl::UnavailableError(status.error_message());
      if (response.builds_size() >= 1000) {
        return absl::OutOfRangeError("more than 1000 builds per app: lower TEMPA_SOAK_PUSHES");
      }
      all.insert(all.end(), response.builds().begin(), response.builds().end());
    }
    return all;
  }

  // Posts every `threads`-th entry of the plan from `thread` on (so no delivery is posted by
  // two threads at once), retrying each unacknowledged delivery
  // (as GitHub's redelivery would) for a bounded time.
  void PushLoop(const std::vector<Push>& plan, int thread, int threads, uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (size_t i = thread; i < plan.size(); i += threads) {
      const Push& push = plan[i];
      if (absl::Now() > push_deadline_ || give_up_) {
        absl::MutexLock lock(&ack_mu_);
        errors_.push_back(absl::StrCat("pushing took longer than ", absl::FormatDuration(kPushTime),
                                       "; stopped at POST ", i));
        return;
      }
      if (!push.burst) {
        absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(0, 150)(rng)));
      }
      std::string body = GithubPushPayload(push.repo, push.branch, push.sha);
      // Now and then the same delivery arrives twice at once (GitHub retrying a slow answer).
      std::thread twin;
      if (std::uniform_int_distribution<int>(0, 19)(rng) == 0) {
        twin = std::thread([this, &push, &body] {
          HttpAnswer answer = farm_.PostWebhook("push", push.delivery, body, kSecret);
          if (answer.status >= 200 && answer.status < 300) Acknowledged(push.delivery, answer);
        });
      }
      for (int attempt = 0; attempt < 60 && absl::Now() < push_deadline_ && !give_up_; ++attempt) {
        HttpAnswer answer = farm_.PostWebhook("push", push.delivery, body, kSecret);
        if (answer.status >= 200 && answer.status < 300 && Acknowledged(push.delivery, answer)) {
          break;
        }
        // No (whole) answer, as when the coordinator is down, or 503: try again. Anything else
        // is a bug.
        bool retry = answer.status == 0 || answer.status == 503 ||
                     (answer.status >= 200 && answer.status < 300);
        {
          absl::MutexLock lock(&ack_mu_);
          ++refusals_;
          if (!retry) {
            errors_.push_back(absl::StrCat(push.delivery, ": HTTP ", answer.status, " ",
                                           answer.body.substr(0, 300)));
          }
        }
        if (!retry) break;
        absl::SleepFor(absl::Milliseconds(100 + attempt * 10));
      }
      if (twin.joinable()) twin.join();
    }
  }

  // Records a 2xx answer's builds. False when its body is not whole JSON: a coordinator killed
  // while answering can leave the status line sent and the body cut, which is no answer.
  bool Acknowledged(const std::string& delivery, const HttpAnswer& answer) {
    json body = json::parse(answer.body, nullptr, false);
    if (!body.is_object() || !body.contains("builds") || !body["builds"].is_array()) {
      ++cut_answers_;
      return false;
    }
    std::map<std::string, std::string> builds;  // app -> id
    for (const json& build : body["builds"]) {
      builds[build.value("app", "")] = build.value("id", "");
    }
    absl::MutexLock lock(&ack_mu_);
    ++acks_;
    auto [it, first] = acked_.emplace(delivery, builds);
    if (!first && it->second != builds) {
      errors_.push_back(
          absl::StrCat("delivery ", delivery, " answered different builds: ", answer.body));
    }
    return true;
  }

  // Kills the coordinator or a worker every 0.2-0.9 s until `done`.
  void ChaosLoop(const std::atomic<bool>& done, uint64_t seed) {
    std::mt19937_64 rng(seed);
    auto ms = [&](int lo, int hi) {
      return absl::Milliseconds(std::uniform_int_distribution<int>(lo, hi)(rng));
    };
    int next_worker = kWorkers;
    while (!done) {
      absl::SleepFor(ms(200, 900));
      if (std::uniform_real_distribution<double>(0, 1)(rng) < 0.4) {
        absl::StatusOr<std::vector<v1::Build>> before = AllBuilds();
        farm_.KillCoordinator();
        ++coordinator_kills_;
        if (before.ok() && std::any_of(before->begin(), before->end(), [](const v1::Build& b) {
              return b.status() == v1::QUEUED || b.status() == v1::RUNNING;
            })) {
          ++kills_with_work_;
        }
        // Mostly a quick restart; sometimes longer than a lease, so results wait for it.
        absl::SleepFor(std::uniform_int_distribution<int>(0, 9)(rng) == 0 ? ms(1500, 3000)
                                                                          : ms(0, 400));
        absl::Status started = farm_.StartCoordinator();
        for (int i = 0; i < 3 && !started.ok(); ++i) started = farm_.StartCoordinator();
        if (!started.ok()) {
          absl::MutexLock lock(&ack_mu_);
          errors_.push_back(absl::StrCat("coordinator did not restart: ", started.message()));
          give_up_ = true;
          return;
        }
        continue;
      }
      absl::MutexLock lock(&workers_mu_);
      size_t victim = std::uniform_int_distribution<size_t>(0, workers_.size() - 1)(rng);
      workers_[victim]->Kill();
      ++worker_kills_;
      // Same id (its old leases are released when it registers) or a new one (they expire).
      std::string id = std::uniform_int_distribution<int>(0, 1)(rng) == 0
                           ? workers_[victim]->id()
                           : absl::StrCat("soak-w", next_worker++);
      graveyard_.push_back(std::move(workers_[victim]));
      workers_[victim] = NewWorker(id, rng());
    }
  }

  // Polls until no build is QUEUED or RUNNING; the last listing.
  absl::StatusOr<std::vector<v1::Build>> Drain(absl::Duration timeout) {
    absl::Time until = absl::Now() + timeout;
    absl::StatusOr<std::vector<v1::Build>> builds;
    while (true) {
      builds = AllBuilds();
      int unfinished = 0;
      if (builds.ok()) {
        for (const v1::Build& b : *builds) {
          unfinished += b.status() == v1::QUEUED || b.status() == v1::RUNNING;
        }
        if (unfinished == 0) return builds;
      }
      if (absl::Now() > until) {
        return absl::DeadlineExceededError(absl::StrCat(
            unfinished, " builds still unfinished after ", absl::FormatDuration(timeout),
            builds.ok() ? "" : absl::StrCat(" (", builds.status().message(), ")")));
      }
      absl::SleepFor(absl::Milliseconds(250));
    }
  }

  FarmFixture farm_;
  rpc::ClientOptions control_options_;
  std::unique_ptr<v1::ControlService::Stub> control_;
  CompletionLedger ledger_;

  absl::Mutex log_mu_;
  std::ofstream worker_log_ ABSL_GUARDED_BY(log_mu_);
  absl::Mutex workers_mu_;
  std::vector<std::unique_ptr<SimulatedWorker>> workers_ ABSL_GUARDED_BY(workers_mu_);
  std::vector<std::unique_ptr<SimulatedWorker>> graveyard_ ABSL_GUARDED_BY(workers_mu_);
  std::atomic<int> coordinator_kills_{0}, worker_kills_{0}, cut_answers_{0}, kills_with_work_{0};

  absl::Time push_deadline_ = absl::InfiniteFuture();  // set before the threads start
  std::atomic<bool> give_up_{false};
  absl::Mutex ack_mu_;
  std::map<std::string, std::map<std::string, std::string>> acked_ ABSL_GUARDED_BY(ack_mu_);
  std::vector<std::string> errors_ ABSL_GUARDED_BY(ack_mu_);
  int acks_ ABSL_GUARDED_BY(ack_mu_) = 0;
  int refusals_ ABSL_GUARDED_BY(ack_mu_) = 0;
};

// The plan: `count` POSTs over both repositories and their branches (one branch no app
// follows), a quarter of them in bursts of 3-6 to one branch, and about one in twelve a re-send
// of an earlier delivery.
std::vector<Push> MakePlan(int count, uint64_t seed, std::map<std::string, SoakDelivery>* sent) {
  std::mt19937_64 rng(seed);
  const std::vector<std::pair<std::string, std::string>> branches = {{kRepoOne, "main"},
                                                                     {kRepoOne, "dev"},
                                                                     {kRepoOne, "feature"},
                                                                     {kRepoTwo, "main"},
                                                                     {kRepoTwo, "release"}};
  std::vector<Push> plan;
  std::vector<std::string> ids;
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  while (static_cast<int>(plan.size()) < count) {
    if (!ids.empty() && chance(0.08)) {
      const std::string& id = ids[std::uniform_int_distribution<size_t>(0, ids.size() - 1)(rng)];
      const SoakDelivery& earlier = sent->at(id);
      plan.push_back(Push{id, earlier.repo, earlier.branch, earlier.sha});
      continue;
    }
    const auto& [repo, branch] =
        branches[std::uniform_int_distribution<size_t>(0, branches.size() - 1)(rng)];
    int burst = chance(0.25) ? std::uniform_int_distribution<int>(3, 6)(rng) : 1;
    for (int i = 0; i < burst && static_cast<int>(plan.size()) < count; ++i) {
      Push push{absl::StrCat("soak-", seed, "-", plan.size()), repo, branch, Hex40(rng), i > 0};
      SoakDelivery& delivery = (*sent)[push.delivery];
      delivery = SoakDelivery{repo, branch, push.sha, {}};
      for (const AppSpec& app : Apps()) {
        if (app.repo == repo && app.branch == branch) delivery.apps.insert(app.name);
      }
      ids.push_back(push.delivery);
      plan.push_back(std::move(push));
    }
  }
  return plan;
}

TEST_F(FarmSoakTest, KilledCoordinatorAndWorkersLoseNoPushAndCompleteNoBuildTwice) {
  const uint64_t seed = EnvOr("TEMPA_SOAK_SEED", 20261130);
  const int pushes = static_cast<int>(EnvOr("TEMPA_SOAK_PUSHES", 300));
  std::cout << "soak: seed " << seed << " (TEMPA_SOAK_SEED), " << pushes
            << " deliveries (TEMPA_SOAK_PUSHES)" << std::endl;
  absl::Time start = absl::Now();
  push_deadline_ = start + kPushTime;
  SoakRecord record;
  record.registry = farm_.registry();
  std::vector<Push> plan = MakePlan(pushes, seed, &record.deliveries);
  {
    absl::MutexLock lock(&workers_mu_);
    for (int i = 0; i < kWorkers; ++i) {
      workers_.push_back(NewWorker(absl::StrCat("soak-w", i), seed + 100 + i));
    }
  }

  std::atomic<bool> pushed{false};
  std::thread chaos([&] { ChaosLoop(pushed, seed + 1); });
  std::thread pusher_a([&] { PushLoop(plan, 0, 2, seed + 2); });
  std::thread pusher_b([&] { PushLoop(plan, 1, 2, seed + 3); });
  pusher_a.join();
  pusher_b.join();
  pushed = true;
  chaos.join();
  absl::Duration pushing = absl::Now() - start;

  absl::StatusOr<std::vector<v1::Build>> builds = Drain(kDrainTime);
  {
    absl::MutexLock lock(&workers_mu_);
    for (auto& worker : workers_) worker->Stop();
    for (auto& worker : workers_) worker->Join();
  }
  ASSERT_TRUE(builds.ok()) << builds.status() << "\nseed " << seed << "; workers' log in "
                           << farm_.path("soak-workers.log");
  record.builds = *builds;
  record.completions = ledger_.entries();
  {
    absl::MutexLock lock(&ack_mu_);
    record.acked = acked_;
    for (const std::string& error : errors_) ADD_FAILURE() << error;
    std::map<v1::BuildStatus, int> statuses;
    for (const v1::Build& b : record.builds) ++statuses[b.status()];
    std::cout << absl::StrCat(
                     "soak: ", plan.size(), " POSTs in ", absl::FormatDuration(pushing), ", ",
                     acks_, " acknowledged, ", refusals_, " unanswered or refused and retried (",
                     cut_answers_.load(), " 2xx cut short), ",
                     record.deliveries.size() - acked_.size(), " deliveries never acknowledged; ",
                     coordinator_kills_.load(), " coordinator kills (", kills_with_work_.load(),
                     " with builds queued or running), ", worker_kills_.load(), " worker kills; ",
                     record.builds.size(), " builds: ", statuses[v1::SUCCEEDED], " succeeded, ",
                     statuses[v1::SUPERSEDED], " superseded; ", ledger_.executions(),
                     " executions; total ", absl::FormatDuration(absl::Now() - start))
              << std::endl;
  }
  EXPECT_GT(coordinator_kills_.load() + worker_kills_.load(), 0) << "no chaos happened";
  std::vector<std::string> violations = SoakViolations(record);
  for (size_t i = 0; i < violations.size() && i < 30; ++i) ADD_FAILURE() << violations[i];
  if (!violations.empty() || HasFailure()) {
    // The farm's directory goes with the fixture: keep its logs for whoever reads the failure.
    std::string kept =
        absl::StrCat(::testing::TempDir(), "tempa-soak-failure-", seed, "-", ::getpid());
    RunCommand({"mkdir", "-p", kept});
    RunCommand({"cp", farm_.path("coordinator.log"), farm_.path("soak-workers.log"), kept});
    ADD_FAILURE() << violations.size() << " violations; seed " << seed
                  << "; the coordinator's and workers' logs are kept in " << kept;
  }
}

}  // namespace
}  // namespace tempa::testing
