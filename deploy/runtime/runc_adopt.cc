// Adoption: the containers an earlier runtime recorded in work_dir/containers are supervised
// again, running ones where they are, exited ones restarted.
#include <dirent.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/posix_status.h"
#include "common/status_macros.h"
#include "deploy/runtime/bundle_files.h"
#include "deploy/runtime/oci_spec.h"
#include "deploy/runtime/process_watch.h"
#include "deploy/runtime/runc_container_runtime.h"
#include "nlohmann/json.hpp"

namespace tempa::deploy {

using nlohmann::json;

absl::Status RuncContainerRuntime::Adopt() {
  std::string dir = options_.work_dir + "/containers";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return ErrnoStatus(errno, "opendir", dir);
  std::vector<std::string> ids;
  while (dirent* e = readdir(d)) {
    absl::string_view name = e->d_name;
    if (absl::ConsumeSuffix(&name, ".json")) ids.emplace_back(name);
  }
  closedir(d);
  for (const std::string& id : ids) {
    auto skip = [&](const absl::Status& s) {
      adoption_problems_.push_back(Annotate(s, absl::StrCat("adopt container ", id)));
    };
    absl::StatusOr<std::string> index = ReadPrivateFile(IndexPath(id));
    if (!index.ok()) {
      skip(index.status());
      continue;
    }
    json index_json = json::parse(*index, nullptr, /*allow_exceptions=*/false);
    if (!index_json.is_object() || !index_json["state_dir"].is_string()) {
      skip(absl::DataLossError(absl::StrCat(IndexPath(id), " is not valid; remove it")));
      continue;
    }
    ContainerSpec probe;
    probe.state_dir = index_json["state_dir"].get<std::string>();
    absl::StatusOr<std::string> text = ReadPrivateFile(SpecPath(probe));
    if (!text.ok()) {
      skip(text.status());
      continue;
    }
    json spec_json = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    absl::StatusOr<ContainerSpec> spec = ContainerSpecFromJson(spec_json);
    if (!spec.ok()) {
      skip(spec.status());
      continue;
    }
    if (spec->id != id) {
      skip(absl::DataLossError("the persisted spec names another id"));
      continue;
    }

    auto entry = std::make_shared<Entry>();
    entry->spec = *spec;
    entry->backoff = options_.initial_backoff;
    entry->started_at = options_.now();
    absl::StatusOr<RuncResult> state = runc_.Run({"state", id});
    json state_json =
        state.ok() && state->exit_code == 0 ? json::parse(state->output, nullptr, false) : json();
    if (state_json.is_object() && state_json["pid"].is_number_integer()) {
      pid_t pid = state_json["pid"].get<pid_t>();
      std::optional<uint64_t> ticks = ProcessStartTicks(pid);
      // CheckProcess reaps the process when it is a zombie child of this process.
      ProcessExit exit = ticks ? CheckProcess(pid, *ticks) : ProcessExit{.exited = true};
      if (!exit.exited && state_json.value("status", "") == "running") {
        entry->running = true;
        entry->pid = pid;
        entry->start_ticks = *ticks;
        entry->status.running = true;
        if (absl::StatusOr<MemoryEvents> events =
                ReadMemoryEvents(ContainerCgroupPath(id), options_.cgroup_root);
            events.ok()) {
          entry->baseline = *events;
        }
      } else if (exit.wait_status) {
        RecordContainerExit(entry->status, entry->spec, exit.wait_status, /*memory_limit=*/false);
      }
    }
    if (!entry->running && entry->status.last_exit_reason.empty()) {
      entry->status.last_exit_reason = "exited while no deployer watched it";
    }
    // A container that is not running (it exited while no deployer watched, or the machine
    // rebooted) is restarted by the supervisor right away.
    entry->restart_at = options_.now();
    absl::MutexLock lock(&mu_);
    entries_[id] = std::move(entry);
  }
  return absl::OkStatus();
}

}  // namespace tempa::deploy
