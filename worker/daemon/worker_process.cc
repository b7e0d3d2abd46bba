#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <random>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/grpc/client.h"
#include "common/posix_status.h"
#include "common/status_macros.h"
#include "worker/daemon/coordinator_link.h"
#include "worker/daemon/grpc_remote_layer_index.h"
#include "worker/daemon/pipeline_job_executor.h"
#include "worker/daemon/worker_daemon.h"
#include "worker/daemon/worker_daemon_main.h"
#include "worker/git/libgit2_fetcher.h"
#include "worker/worker_runtime.h"

namespace tempa::worker {
namespace {

volatile sig_atomic_t g_signalled = 0;
void Signalled(int) { g_signalled = 1; }

int Fail(const absl::Status& status) {
  std::cerr << "tempa-worker: " << status.message() << "\n";
  return 1;
}

// A directory of ours: made 0700 when missing; an existing one must not be a link.
absl::Status EnsurePrivateDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "make", path);
  }
  UniqueFd fd(::open(path.c_str(), O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "open", path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "stat", path);
  if (st.st_uid != ::geteuid() || (st.st_mode & 022) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is not this user's alone (others may write it): use a fresh --work-dir"));
  }
  return absl::OkStatus();
}

// The worker's name across restarts: kept in WORK_DIR/worker-id.
absl::StatusOr<std::string> WorkerId(const WorkerProcessOptions& options) {
  if (!options.worker_id.empty()) return options.worker_id;
  std::string path = options.work_dir + "/worker-id";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.valid()) {
    char buffer[129] = {};
    ssize_t n = ::read(fd.get(), buffer, 128);
    std::string id(buffer, n > 0 ? n : 0);
    id = std::string(absl::StripAsciiWhitespace(id));
    if (!id.empty()) return id;
  }
  char host[64] = {};
  ::gethostname(host, sizeof(host) - 1);
  std::string name;
  for (char c : std::string(host)) {
    if (absl::ascii_isalnum(c) || c == '-') name += absl::ascii_tolower(c);
  }
  std::random_device random;
  std::string id = absl::StrFormat("%s-%06x", name.empty() ? "worker" : name, random() & 0xffffff);
  UniqueFd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out.valid()) return ErrnoStatus(errno, "create", path);
  std::string line = id + "\n";
  if (::write(out.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return ErrnoStatus(errno, "write", path);
  }
  return id;
}

}  // namespace

int RunWorkerProcess(const WorkerProcessOptions& options) {
  if (options.coordinator.empty() || options.work_dir.empty()) {
    return Fail(absl::InvalidArgumentError(
        "usage: tempa-worker --coordinator HOST:PORT --work-dir DIR [--slots N] [--token-file F]"));
  }
  if (options.slots < 1 || options.slots > 64) {
    return Fail(absl::InvalidArgumentError("--slots must be between 1 and 64"));
  }
  for (const std::string& dir :
       {options.work_dir, options.work_dir + "/mirrors", options.work_dir + "/checkouts"}) {
    if (absl::Status s = EnsurePrivateDir(dir); !s.ok()) return Fail(s);
  }
  absl::StatusOr<std::string> worker_id = WorkerId(options);
  if (!worker_id.ok()) return Fail(worker_id.status());

  rpc::ClientOptions client;
  client.target = options.coordinator;
  client.token_file = options.token_file;
  client.tls_ca_file = options.tls_ca_file;
  if (absl::Status s = rpc::ResolveToken(&client); !s.ok()) return Fail(s);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = rpc::MakeChannel(client);
  if (!channel.ok()) return Fail(channel.status());

  GrpcRemoteLayerIndex fleet_layers(*channel, client, *worker_id);
  WorkerRuntimeOptions runtime_options;
  runtime_options.cache_dir = options.work_dir + "/cache";
  runtime_options.remote_layers = &fleet_layers;
  runtime_options.on_cas_wait = [] {
    std::cerr << "tempa-worker: waiting for another process using this work dir's cache\n";
  };
  absl::StatusOr<std::unique_ptr<WorkerRuntime>> runtime =
      WorkerRuntime::Open(std::move(runtime_options));
  if (!runtime.ok()) return Fail(runtime.status());

  Libgit2Fetcher::Options fetcher_options;
  fetcher_options.mirrors_dir = options.work_dir + "/mirrors";
  Libgit2Fetcher fetcher(fetcher_options);
  PipelineJobExecutorOptions executor_options;
  executor_options.checkouts_dir = options.work_dir + "/checkouts";
  executor_options.registry.insecure = options.insecure_registry;
  PipelineJobExecutor executor(&fetcher, runtime->get(), executor_options);
  GrpcCoordinatorLink link(*channel, client);

  WorkerDaemonOptions daemon_options;
  daemon_options.worker_id = *worker_id;
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  daemon_options.hostname = host;
  daemon_options.slots = options.slots;
  daemon_options.log = [](absl::string_view line) {
    std::cerr << "tempa-worker: " << line << "\n";
    std::cerr.flush();
  };
  WorkerDaemon daemon(&link, &executor, daemon_options);

  struct sigaction action = {};
  action.sa_handler = Signalled;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  // The standard-library seeds are made once per toolchain, beside the first leases (a build
  // that needs one meanwhile waits for it on its lock).
  std::thread seeds([&runtime] {
    absl::Status made = (*runtime)->PrepareToolchainSeeds(
        [](absl::string_view line) { std::cerr << "tempa-worker: seeds: " << line << "\n"; });
    if (!made.ok()) std::cerr << "tempa-worker: toolchain seeds: " << made.message() << "\n";
  });
  CancelToken stop;
  std::thread watcher([&stop] {
    while (!g_signalled && !stop.cancelled()) ::usleep(100 * 1000);
    stop.Cancel();
  });
  std::cerr << "tempa-worker: " << *worker_id << " working for " << options.coordinator << " with "
            << options.slots << " slot(s), work dir " << options.work_dir << "\n";
  daemon.Run(stop);
  watcher.join();
  seeds.join();
  std::cerr << "tempa-worker: stopped\n";
  return 0;
}

}  // namespace tempa::worker
