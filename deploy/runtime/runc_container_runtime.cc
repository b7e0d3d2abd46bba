#include "deploy/runtime/runc_container_runtime.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/posix_status.h"
#include "common/status_macros.h"
#include "deploy/runtime/bundle_files.h"
#include "deploy/runtime/container_log.h"
#include "deploy/runtime/oci_spec.h"
#include "deploy/runtime/process_watch.h"
#include "nlohmann/json.hpp"

namespace tempa::deploy {

using nlohmann::json;

RuncContainerRuntime::RuncContainerRuntime(RuncRuntimeOptions options)
    : options_(std::move(options)),
      runc_(options_.runc_binary, options_.work_dir + "/runc", options_.runc_timeout) {}

absl::StatusOr<std::unique_ptr<RuncContainerRuntime>> RuncContainerRuntime::Create(
    RuncRuntimeOptions options) {
  RETURN_IF_ERROR(EnsurePrivateDirectory(options.work_dir));
  RETURN_IF_ERROR(EnsurePrivateDirectory(options.work_dir + "/runc"));
  RETURN_IF_ERROR(EnsurePrivateDirectory(options.work_dir + "/containers"));
  // Containers' init processes are reparented to this process, which reaps them.
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return ErrnoStatus(errno, "prctl subreaper");
  std::unique_ptr<RuncContainerRuntime> runtime(new RuncContainerRuntime(std::move(options)));
  RETURN_IF_ERROR(runtime->Adopt());
  runtime->supervisor_ = std::thread([r = runtime.get()] { r->SuperviseLoop(); });
  return runtime;
}

RuncContainerRuntime::~RuncContainerRuntime() {
  {
    absl::MutexLock lock(&mu_);
    shutdown_ = true;
  }
  if (supervisor_.joinable()) supervisor_.join();
}

std::string RuncContainerRuntime::IndexPath(const std::string& id) const {
  return absl::StrCat(options_.work_dir, "/containers/", id, ".json");
}

absl::Status RuncContainerRuntime::WriteBundle(const ContainerSpec& spec) {
  ASSIGN_OR_RETURN(json config, BuildOciSpec(spec, {.host_etc_binds = options_.host_etc_binds,
                                                    .init_binary = options_.init_binary}));
  RETURN_IF_ERROR(EnsurePrivateDirectory(spec.state_dir));
  RETURN_IF_ERROR(EnsurePrivateDirectory(BundlePath(spec)));
  RETURN_IF_ERROR(WritePrivateFile(BundlePath(spec) + "/config.json", config.dump(2)));
  RETURN_IF_ERROR(WritePrivateFile(SpecPath(spec), ContainerSpecToJson(spec).dump(2)));
  return WritePrivateFile(IndexPath(spec.id), json{{"state_dir", spec.state_dir}}.dump());
}

absl::StatusOr<RuncContainerRuntime::Launched> RuncContainerRuntime::Launch(
    const ContainerSpec& spec) {
  // A container of this id left behind (stopped, or from a crashed start) is removed first.
  ASSIGN_OR_RETURN(RuncResult removed, runc_.Run({"delete", "--force", spec.id}));
  (void)removed;
  unlink(PidPath(spec).c_str());
  RETURN_IF_ERROR(
      TruncateLogIfLarger(LogPath(spec), options_.log_max_bytes, options_.log_keep_bytes));
  ASSIGN_OR_RETURN(UniqueFd log, OpenLogForAppend(LogPath(spec)));
  ASSIGN_OR_RETURN(RuncResult run, runc_.Run({"run", "--detach", "--pid-file", PidPath(spec),
                                              "--bundle", BundlePath(spec), spec.id},
                                             log.get()));
  if (run.exit_code != 0) {
    absl::StatusOr<std::string> tail = ReadLogTail(LogPath(spec), 5);
    return absl::FailedPreconditionError(
        absl::StrCat("runc run ", spec.id, " failed (exit ", run.exit_code,
                     "): ", tail.ok() ? *tail : tail.status().ToString()));
  }
  // runc hands the log to the container's user (fchown of its stdio); take it back, so that
  // the container can write it only through the descriptor it holds, never reopen it.
  if (fchown(log.get(), geteuid(), getegid()) != 0 || fchmod(log.get(), 0600) != 0) {
    return ErrnoStatus(errno, "take back the log", LogPath(spec));
  }
  chmod(PidPath(spec).c_str(), 0600);
  ASSIGN_OR_RETURN(std::string pid_text, ReadPrivateFile(PidPath(spec), 64));
  Launched launched;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(pid_text), &launched.pid) || launched.pid <= 0) {
    return absl::InternalError(absl::StrCat("runc wrote no pid for ", spec.id));
  }
  // The process may already have exited (and been reaped by nobody yet: a zombie child here).
  launched.start_ticks = ProcessStartTicks(launched.pid).value_or(0);
  absl::StatusOr<MemoryEvents> events =
      ReadMemoryEvents(ContainerCgroupPath(spec.id), options_.cgroup_root);
  if (events.ok()) launched.baseline = *events;
  return launched;
}

absl::Status RuncContainerRuntime::Start(const ContainerSpec& spec) {
  RETURN_IF_ERROR(ValidateContainerSpec(spec));
  auto entry = std::make_shared<Entry>();
  entry->spec = spec;
  entry->backoff = options_.initial_backoff;
  {
    absl::MutexLock lock(&mu_);
    if (entries_.count(spec.id) != 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("container ", spec.id, " is already running; stop it first"));
    }
    entry->stopping = true;  // not supervised until it runs
    entries_[spec.id] = entry;
  }
  absl::MutexLock op(&entry->op_mu);
  absl::Status written = WriteBundle(spec);
  absl::StatusOr<Launched> launched =
      written.ok() ? Launch(spec) : absl::StatusOr<Launched>(written);
  if (!launched.ok()) {
    // Nothing half-started stays behind: no runc container, no record to adopt.
    (void)runc_.Run({"delete", "--force", spec.id});
    unlink(IndexPath(spec.id).c_str());
    absl::MutexLock lock(&mu_);
    entries_.erase(spec.id);
    return Annotate(launched.status(), absl::StrCat("start container ", spec.id));
  }
  absl::MutexLock lock(&mu_);
  entry->stopping = false;
  entry->running = true;
  entry->pid = launched->pid;
  entry->start_ticks = launched->start_ticks;
  entry->baseline = launched->baseline;
  entry->started_at = options_.now();
  entry->status.running = true;
  return absl::OkStatus();
}

absl::Status RuncContainerRuntime::Stop(absl::string_view id, absl::Duration grace) {
  std::shared_ptr<Entry> entry;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) {
      return absl::NotFoundError(absl::StrCat("no container ", id, " in this runtime"));
    }
    entry = it->second;
    entry->stopping = true;
  }
  absl::MutexLock op(&entry->op_mu);
  const ContainerSpec& spec = entry->spec;
  bool running;
  pid_t pid;
  uint64_t start_ticks;
  {
    absl::MutexLock lock(&mu_);
    running = entry->running;
    pid = entry->pid;
    start_ticks = entry->start_ticks;
  }
  auto wait_exit = [&](absl::Duration within) {
    absl::Time deadline = absl::Now() + within;
    while (!CheckProcess(pid, start_ticks).exited) {
      if (absl::Now() >= deadline) return false;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return true;
  };
  if (running) {
    (void)runc_.Run({"kill", spec.id, "TERM"});
    if (!wait_exit(grace)) {
      (void)runc_.Run({"kill", "--all", spec.id, "KILL"});
      wait_exit(absl::Seconds(10));
    }
  }
  ASSIGN_OR_RETURN(RuncResult deleted, runc_.Run({"delete", "--force", spec.id}));
  unlink(IndexPath(spec.id).c_str());
  absl::MutexLock lock(&mu_);
  if (auto it = entries_.find(id); it != entries_.end() && it->second == entry) entries_.erase(it);
  if (deleted.exit_code != 0 && !absl::StrContains(deleted.output, "does not exist")) {
    return absl::InternalError(
        absl::StrCat("runc delete ", id, " failed: ", absl::StripAsciiWhitespace(deleted.output)));
  }
  return absl::OkStatus();
}

absl::StatusOr<ContainerStatus> RuncContainerRuntime::Status(absl::string_view id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    return absl::NotFoundError(absl::StrCat("no container ", id, " in this runtime"));
  }
  return it->second->status;
}

std::string RuncContainerRuntime::LogTail(absl::string_view id, int lines) {
  std::string path;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return "";
    path = LogPath(it->second->spec);
  }
  absl::StatusOr<std::string> tail = ReadLogTail(path, lines);
  return tail.ok() ? *tail : absl::StrCat("(log unreadable: ", tail.status().message(), ")\n");
}

std::vector<std::string> RuncContainerRuntime::List() {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> ids;
  for (const auto& [id, entry] : entries_) ids.push_back(id);
  return ids;
}

}  // namespace tempa::deploy
