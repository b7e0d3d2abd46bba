// ContainerRuntime on runc: each container is `runc run --detach` of a bundle in its state_dir
// (config.json from oci_spec.h, the rootfs bound read-only in place), its stdout and stderr
// appended to state_dir/log. A supervisor thread notices exits, records why (exit code, signal,
// or the memory limit's OOM killer from the cgroup's counters), and restarts with backoff.
//
// The runtime makes its process a child subreaper (PR_SET_CHILD_SUBREAPER), so a container's
// init is reparented to it when `runc run --detach` returns and its exit status can be reaped.
// A container started by an earlier runtime (before a deployer restart) is adopted from
// work_dir/containers/<id>.json (pointing at state_dir/container.json, the persisted spec)
// and supervised again; its exit code is known only when this process is its parent.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "deploy/runtime/cgroup_memory.h"
#include "deploy/runtime/container_runtime.h"
#include "deploy/runtime/runc_command.h"

namespace tempa::deploy {

struct RuncRuntimeOptions {
  // Tempa's directory for the runtime (0700): runc's --root at work_dir/runc, the index of
  // supervised containers at work_dir/containers.
  std::string work_dir;
  std::string runc_binary = "runc";
  absl::Duration runc_timeout = absl::Seconds(30);
  // How often the supervisor looks at the containers.
  absl::Duration poll_interval = absl::Milliseconds(100);
  // Restart backoff: first delay, doubling up to max; back to initial after a run this long.
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Seconds(30);
  absl::Duration reset_backoff_after = absl::Seconds(60);
  // The log is cut to its last log_keep_bytes when it grows past log_max_bytes.
  int64_t log_max_bytes = 4 << 20;
  int64_t log_keep_bytes = 1 << 20;
  std::string cgroup_root = "/sys/fs/cgroup";
  // Bind the host's /etc/resolv.conf and /etc/hosts where the image has none.
  bool host_etc_binds = true;
  // Host path of tempa-container-init (built as deploy/runtime/tempa-container-init), run as
  // each container's PID 1 so that an app without a SIGTERM handler stops on SIGTERM and
  // orphans are reaped. Empty: the app itself is PID 1 (SIGTERM then needs its handler).
  std::string init_binary;
  std::function<absl::Time()> now = [] { return absl::Now(); };
  // Called (without locks held) when the supervisor schedules a restart of `id` in `delay`.
  std::function<void(const std::string& id, absl::Duration delay)> on_restart_scheduled;
};

class RuncContainerRuntime : public ContainerRuntime {
 public:
  // Creates work_dir, adopts the containers recorded there and starts supervising.
  static absl::StatusOr<std::unique_ptr<RuncContainerRuntime>> Create(RuncRuntimeOptions options);
  // Stops supervising; containers keep running, for the next runtime to adopt.
  ~RuncContainerRuntime() override;

  absl::Status Start(const ContainerSpec& spec) override;
  absl::Status Stop(absl::string_view id, absl::Duration grace) override;
  absl::StatusOr<ContainerStatus> Status(absl::string_view id) override;
  std::string LogTail(absl::string_view id, int lines) override;
  std::vector<std::string> List() override;

  // Containers recorded in work_dir that could not be adopted (their files unreadable or
  // invalid), one Status each naming the file; they are left alone, not supervised.
  const std::vector<absl::Status>& adoption_problems() const { return adoption_problems_; }

 private:
  struct Entry {
    ContainerSpec spec;
    absl::Mutex op_mu;  // held across runc operations on this container
    // Guarded by RuncContainerRuntime::mu_:
    bool running = false;
    bool stopping = false;
    pid_t pid = 0;
    uint64_t start_ticks = 0;  // /proc/<pid>/stat starttime, against pid reuse
    absl::Time started_at;
    absl::Time restart_at;
    absl::Duration backoff;
    MemoryEvents baseline;
    ContainerStatus status;
  };
  struct Launched {
    pid_t pid = 0;
    uint64_t start_ticks = 0;
    MemoryEvents baseline;
  };

  explicit RuncContainerRuntime(RuncRuntimeOptions options);
  absl::Status Adopt();
  absl::Status WriteBundle(const ContainerSpec& spec);
  // `runc run --detach` of a written bundle (a stale container of that id deleted first).
  absl::StatusOr<Launched> Launch(const ContainerSpec& spec);
  void SuperviseLoop();
  void SuperviseOne(const std::shared_ptr<Entry>& entry);
  std::string IndexPath(const std::string& id) const;

  RuncRuntimeOptions options_;
  RuncCommand runc_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Entry>, std::less<>> entries_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<absl::Status> adoption_problems_;  // written by Create only
  std::thread supervisor_;
};

// Where a container's files live in its state_dir.
inline std::string LogPath(const ContainerSpec& spec) { return spec.state_dir + "/log"; }
inline std::string BundlePath(const ContainerSpec& spec) { return spec.state_dir + "/bundle"; }
inline std::string PidPath(const ContainerSpec& spec) { return spec.state_dir + "/pid"; }
inline std::string SpecPath(const ContainerSpec& spec) {
  return spec.state_dir + "/container.json";
}

}  // namespace tempa::deploy
