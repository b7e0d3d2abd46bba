// tempa-worker: parses flags and runs the worker (worker/daemon/worker_daemon_main.h).
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/flags/dashed_flags.h"
#include "worker/daemon/worker_daemon_main.h"

ABSL_FLAG(std::string, coordinator, "", "the coordinator's gRPC address, HOST:PORT");
ABSL_FLAG(std::string, work_dir, "", "mirrors, checkouts and caches (made 0700)");
ABSL_FLAG(int, slots, 1, "builds run at once");
ABSL_FLAG(std::string, token_file, "", "a file (0600) holding this worker's token");
ABSL_FLAG(std::string, tls_ca, "",
          "the CA that signed the coordinator's certificate (as `tempa --tls-ca`)");
ABSL_FLAG(std::string, worker_id, "", "this worker's name (default: kept in WORK_DIR/worker-id)");
ABSL_FLAG(bool, insecure_registry, false, "plain HTTP to a registry that is not on loopback");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "tempa-worker --coordinator HOST:PORT --work-dir DIR [--slots N] [--token-file F]");
  std::vector<std::string> args = tempa::UnderscoreFlagNames(argc, argv);
  std::vector<char*> arg_ptrs;
  for (std::string& arg : args) arg_ptrs.push_back(arg.data());
  absl::ParseCommandLine(static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  tempa::worker::WorkerProcessOptions options;
  options.coordinator = absl::GetFlag(FLAGS_coordinator);
  options.work_dir = absl::GetFlag(FLAGS_work_dir);
  options.slots = absl::GetFlag(FLAGS_slots);
  options.token_file = absl::GetFlag(FLAGS_token_file);
  options.tls_ca_file = absl::GetFlag(FLAGS_tls_ca);
  options.worker_id = absl::GetFlag(FLAGS_worker_id);
  options.insecure_registry = absl::GetFlag(FLAGS_insecure_registry);
  return tempa::worker::RunWorkerProcess(options);
}
