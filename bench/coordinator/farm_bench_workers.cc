// farm_bench's simulated workers, run in a child process (so the coordinator's RSS holds none of
// their memory): N workers, each on its own gRPC channel and TCP connection, Register, then loop
// LeaseJob long-poll -> (job) a simulated build -> CompleteJob -> LeaseJob on the
// client callback API (no thread per worker). Each job received is reported on stdout as "job
// COMMIT STEADY_NS" (CLOCK_MONOTONIC, shared with the parent), taken the moment the LeaseJob answer
// reaches the worker. The process runs until its stdin closes.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bench/coordinator/farm_bench.h"
#include "grpcpp/alarm.h"
#include "grpcpp/grpcpp.h"
#include "tempa/v1/worker.grpc.pb.h"

namespace tempa::bench {
namespace {

absl::Mutex out_mu;

void Report(const std::string& line) {
  absl::MutexLock lock(&out_mu);
  fwrite(line.data(), 1, line.size(), stdout);
  fflush(stdout);
}

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class SimWorker {
 public:
  SimWorker(const std::string& target, int index, const std::atomic<int>* build_ms)
      : id_(absl::StrCat("sim-worker-", index)), build_ms_(build_ms) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
    args.SetInt("sim-worker", index);
    stub_ = v1::WorkerService::NewStub(
        grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  }

  // Retries a few times, as a worker daemon does (a burst of connects can fail spuriously).
  bool Register() {
    grpc::Status status;
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      v1::RegisterWorkerRequest request;
      request.set_worker_id(id_);
      request.set_hostname("bench");
      request.set_slots(1);
      v1::RegisterWorkerResponse response;
      status = stub_->RegisterWorker(&ctx, request, &response);
      if (status.ok()) return true;
    }
    fprintf(stderr, "farm_bench worker %s: register: %s\n", id_.c_str(),
            status.error_message().c_str());
    return false;
  }

  void Poll() {
    lease_ctx_ = std::make_unique<grpc::ClientContext>();
    lease_ctx_->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    lease_request_.set_worker_id(id_);
    lease_request_.set_wait_ms(10000);
    lease_response_.Clear();
    stub_->async()->LeaseJob(lease_ctx_.get(), &lease_request_, &lease_response_,
                             [this](grpc::Status status) { OnLease(std::move(status)); });
  }

 private:
  void OnLease(grpc::Status status) {
    if (!status.ok()) {
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE) return;  // shutting down
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      Poll();
      return;
    }
    if (!lease_response_.has_job()) {
      Poll();
      return;
    }
    const v1::Job& job = lease_response_.job();
    Report(absl::StrCat("job ", job.commit(), " ", SteadyNanos(), "\n"));
    int build_ms = build_ms_->load();
    if (build_ms <= 0) {
      Complete();
      return;
    }
    build_ = std::make_unique<grpc::Alarm>();  // the simulated build
    build_->Set(std::chrono::system_clock::now() + std::chrono::milliseconds(build_ms),
                [this](bool) { Complete(); });
  }

  void Complete() {
    const v1::Job& job = lease_response_.job();
    complete_ctx_ = std::make_unique<grpc::ClientContext>();
    complete_ctx_->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    complete_request_.Clear();
    complete_request_.set_build_id(job.build_id());
    complete_request_.set_lease_id(job.lease_id());
    complete_request_.mutable_result()->set_succeeded(true);
    complete_request_.mutable_result()->set_commit(job.commit());
    complete_request_.mutable_result()->set_image(
        absl::StrCat(job.image_repository(), "@sha256:", std::string(64, 'a')));
    stub_->async()->CompleteJob(complete_ctx_.get(), &complete_request_, &complete_response_,
                                [this](grpc::Status) { Poll(); });
  }

  std::string id_;
  const std::atomic<int>* build_ms_;
  std::unique_ptr<grpc::Alarm> build_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> lease_ctx_;
  v1::LeaseJobRequest lease_request_;
  v1::LeaseJobResponse lease_response_;
  std::unique_ptr<grpc::ClientContext> complete_ctx_;
  v1::CompleteJobRequest complete_request_;
  v1::CompleteJobResponse complete_response_;
};

}  // namespace

int RunSimulatedWorkers(const std::string& target, int count) {
  static std::atomic<int> build_ms{0};
  std::vector<std::unique_ptr<SimWorker>> workers;
  for (int i = 0; i < count; ++i)
    workers.push_back(std::make_unique<SimWorker>(target, i, &build_ms));
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> registrars;
  for (int t = 0; t < 16; ++t) {
    registrars.emplace_back([&] {
      for (int i = next++; i < count; i = next++) {
        if (!workers[i]->Register()) failed = true;
      }
    });
  }
  for (std::thread& thread : registrars) thread.join();
  if (failed) return 1;
  for (auto& worker : workers) worker->Poll();
  Report("ready\n");
  char line[256];
  while (fgets(line, sizeof(line), stdin) != nullptr) {
    int ms = 0;
    if (sscanf(line, "build %d", &ms) == 1) build_ms = ms;
  }
  fflush(stdout);
  _exit(0);  // no orderly gRPC teardown: the parent is gone or done with us
}

}  // namespace tempa::bench
