#include "tests/e2e/soak_worker.h"

#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/grpc/client.h"

namespace tempa::testing {
namespace {

absl::Status Killed() {
  // Not UNAVAILABLE: a dead process retries nothing, so every loop gives up at once.
  return absl::FailedPreconditionError("this worker incarnation was killed");
}

}  // namespace

std::string SoakImage(const std::string& repository, const std::string& build_id,
                      const std::string& commit) {
  std::string input = build_id + "/" + commit;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return absl::StrCat(repository, "@sha256:",
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(digest), sizeof(digest))));
}

void CompletionLedger::Sent(const v1::CompleteJobRequest& request) {
  absl::MutexLock lock(&mu_);
  Entry& entry = entries_[request.build_id()];
  ++entry.sent;
  entry.images.push_back(request.result().image());
}

void CompletionLedger::Accepted(const std::string& build_id) {
  absl::MutexLock lock(&mu_);
  ++entries_[build_id].accepted;
}

std::map<std::string, CompletionLedger::Entry> CompletionLedger::entries() const {
  absl::MutexLock lock(&mu_);
  return entries_;
}

// The real gRPC link, cut for good once the incarnation is killed: calls made after that fail,
// and answers that arrive after it are dropped (the process that asked is gone).
class SimulatedWorker::ChaosLink final : public worker::CoordinatorLink {
 public:
  ChaosLink(std::unique_ptr<worker::CoordinatorLink> real, const std::atomic<bool>* killed,
            CompletionLedger* ledger)
      : real_(std::move(real)), killed_(killed), ledger_(ledger) {}

  absl::StatusOr<v1::RegisterWorkerResponse> Register(
      const v1::RegisterWorkerRequest& request) override {
    if (*killed_) return Killed();
    auto answer = real_->Register(request);
    return *killed_ ? Killed() : answer;
  }
  absl::StatusOr<std::optional<v1::Job>> LeaseJob(const std::string& worker_id,
                                                  absl::Duration wait) override {
    if (*killed_) return Killed();
    auto answer = real_->LeaseJob(worker_id, wait);
    return *killed_ ? Killed() : answer;
  }
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& request) override {
    if (*killed_) return Killed();
    auto answer = real_->Heartbeat(request);
    return *killed_ ? Killed() : answer;
  }
  absl::StatusOr<v1::ReportProgressResponse> ReportProgress(
      const v1::ReportProgressRequest& request) override {
    if (*killed_) return Killed();
    auto answer = real_->ReportProgress(request);
    return *killed_ ? Killed() : answer;
  }
  absl::StatusOr<v1::CompleteJobResponse> CompleteJob(
      const v1::CompleteJobRequest& request) override {
    if (*killed_) return Killed();
    ledger_->Sent(request);
    auto answer = real_->CompleteJob(request);
    // A result that gives the lease back (cancelled, not succeeded) ends nothing.
    bool gives_back = request.result().cancelled() && !request.result().succeeded();
    if (answer.ok() && answer->accepted() && !gives_back) ledger_->Accepted(request.build_id());
    return *killed_ ? Killed() : answer;
  }

 private:
  std::unique_ptr<worker::CoordinatorLink> real_;
  const std::atomic<bool>* killed_;
  CompletionLedger* ledger_;
};

// Builds nothing: waits 10-300 ms (or until cancelled or killed) and names the image after the
// build id and commit, so a result that lands on the wrong build shows.
class SimulatedWorker::ScriptedExecutor final : public worker::JobExecutor {
 public:
  ScriptedExecutor(uint64_t seed, const std::atomic<bool>* killed, CompletionLedger* ledger)
      : rng_(seed), killed_(killed), ledger_(ledger) {}

  v1::BuildResult Execute(const v1::Job& job, const worker::JobHooks& hooks) override {
    ledger_->Executed();
    absl::Duration took;
    {
      absl::MutexLock lock(&mu_);
      took = absl::Milliseconds(std::uniform_int_distribution<int>(10, 300)(rng_));
    }
    hooks.log(absl::StrCat("soak: building ", job.app(), " at ", job.commit()));
    absl::Time until = absl::Now() + took;
    v1::BuildResult result;
    result.set_commit(job.commit());
    while (absl::Now() < until) {
      if (*killed_ || IsCancelled(hooks.cancel)) {
        result.set_cancelled(true);
        result.mutable_error()->set_kind("cancelled");
        result.mutable_error()->set_reason("stopped");
        return result;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    hooks.on_step("build", took, "scripted");
    result.set_succeeded(true);
    result.set_language("soak");
    result.set_image(SoakImage(job.image_repository(), job.build_id(), job.commit()));
    return result;
  }

 private:
  absl::Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  const std::atomic<bool>* killed_;
  CompletionLedger* ledger_;
};

SimulatedWorker::SimulatedWorker(const std::string& coordinator, const std::string& token,
                                 const std::string& worker_id, int slots, uint64_t seed,
                                 CompletionLedger* ledger,
                                 std::function<void(absl::string_view)> log)
    : id_(worker_id) {
  rpc::ClientOptions client;
  client.target = coordinator;
  client.token = token;
  // A fresh channel per incarnation, as a new process would dial.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = rpc::MakeChannel(client);
  link_ = std::make_unique<ChaosLink>(
      std::make_unique<worker::GrpcCoordinatorLink>(*channel, client), &killed_, ledger);
  executor_ = std::make_unique<ScriptedExecutor>(seed, &killed_, ledger);
  worker::WorkerDaemonOptions options;
  options.worker_id = worker_id;
  options.hostname = "soak";
  options.slots = slots;
  options.lease_wait = absl::Seconds(1);  // bounds how long a killed incarnation lingers
  options.max_backoff = absl::Milliseconds(400);
  options.result_deadline = absl::Seconds(60);
  options.progress.flush_interval = absl::Milliseconds(100);
  options.log = [log, worker_id](absl::string_view line) {
    log(absl::StrCat(worker_id, ": ", line));
  };
  daemon_ = std::make_unique<worker::WorkerDaemon>(link_.get(), executor_.get(), options);
  thread_ = std::thread([this] { daemon_->Run(stop_); });
}

SimulatedWorker::~SimulatedWorker() {
  Kill();
  Join();
}

void SimulatedWorker::Kill() {
  killed_ = true;
  stop_.Cancel();
}

void SimulatedWorker::Stop() { stop_.Cancel(); }

void SimulatedWorker::Join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace tempa::testing
