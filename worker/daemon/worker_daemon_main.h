// tempa-worker as a whole: its work dir (worker id, git mirrors, checkouts, caches), the
// runtime, the coordinator link and the daemon loop; runs until SIGTERM or SIGINT.
#pragma once

#include <string>

namespace tempa::worker {

struct WorkerProcessOptions {
  std::string coordinator;  // HOST:PORT
  std::string work_dir;
  int slots = 1;
  std::string token_file;
  std::string tls_ca_file;
  std::string worker_id;  // empty: the one kept in WORK_DIR/worker-id (made on first start)
  bool insecure_registry = false;
};

// Returns the process exit code.
int RunWorkerProcess(const WorkerProcessOptions& options);

}  // namespace tempa::worker
