#include "deploy/runtime/oci_spec.h"

#include <fcntl.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/beneath.h"

namespace tempa::deploy {
namespace {

using nlohmann::json;

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 64 || id == "." || id == "..") return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

absl::Status Invalid(const ContainerSpec& spec, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("container spec \"", spec.id, "\": ", what));
}

// Whether `relative` exists in the rootfs (a symlink counts as existing: runc resolves mount
// targets inside the rootfs, and we add no bind over it).
bool RootfsHas(int root_fd, absl::string_view relative) {
  absl::StatusOr<UniqueFd> fd = OpenBeneath(root_fd, relative, O_PATH);
  return fd.ok() || !absl::IsNotFound(fd.status());
}

json Mount(const std::string& destination, const std::string& type, const std::string& source,
           std::vector<std::string> options) {
  return json{{"destination", destination},
              {"type", type},
              {"source", source},
              {"options", std::move(options)}};
}

}  // namespace

std::string ContainerCgroupPath(const std::string& id) { return "/tempa/" + id; }

absl::Status ValidateContainerSpec(const ContainerSpec& spec) {
  if (!ValidId(spec.id)) {
    return Invalid(spec, "the id must be 1-64 characters of [A-Za-z0-9_.-]");
  }
  if (spec.uid == 0 || spec.gid == 0) {
    return Invalid(spec, "containers never run as root (uid/gid 0); give a non-root uid and gid");
  }
  if (spec.args.empty() || spec.args[0].empty()) return Invalid(spec, "args is empty");
  if (spec.rootfs.empty() || spec.rootfs[0] != '/') {
    return Invalid(spec, "rootfs must be an absolute path");
  }
  if (spec.state_dir.empty() || spec.state_dir[0] != '/') {
    return Invalid(spec, "state_dir must be an absolute path");
  }
  if (spec.cwd.empty() || spec.cwd[0] != '/') return Invalid(spec, "cwd must be absolute");
  if (spec.memory_bytes < (4ll << 20)) return Invalid(spec, "memory_bytes must be at least 4 MiB");
  if (spec.cpu_millis <= 0) return Invalid(spec, "cpu_millis must be positive");
  if (spec.pids_max <= 0) return Invalid(spec, "pids_max must be positive");
  for (const std::string& kv : spec.env) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Invalid(spec, absl::StrCat("env entry \"", kv.substr(0, kv.find('=')),
                                        "\" is not of the form K=V"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<json> BuildOciSpec(const ContainerSpec& spec, const OciSpecOptions& options) {
  if (absl::Status valid = ValidateContainerSpec(spec); !valid.ok()) return valid;

  std::vector<std::string> env = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  env.insert(env.end(), spec.env.begin(), spec.env.end());

  std::vector<std::string> args = spec.args;
  if (!options.init_binary.empty()) {
    if (options.init_binary[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("the container init \"", options.init_binary, "\" is not an absolute path"));
    }
    args.insert(args.begin(), {kContainerInitPath, "--"});
  }
  json process = {
      {"terminal", false},
      {"user", {{"uid", spec.uid}, {"gid", spec.gid}, {"additionalGids", json::array()}}},
      {"args", args},
      {"env", env},
      {"cwd", spec.cwd},
      {"noNewPrivileges", true},
      {"capabilities",
       {{"bounding", json::array()},
        {"effective", json::array()},
        {"inheritable", json::array()},
        {"permitted", json::array()},
        {"ambient", json::array()}}},
      {"rlimits",
       json::array({json{
           {"type", "RLIMIT_NOFILE"}, {"hard", kContainerNoFile}, {"soft", kContainerNoFile}}})},
      // The host's OOM killer takes an app before the deployer or the farm.
      {"oomScoreAdj", 500},
  };

  json mounts = json::array({
      Mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      Mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      Mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}),
      Mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      Mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      Mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      // Owned by the app's user: runc copies the mode of an existing /tmp in the image onto
      // the tmpfs (0755 would leave it unwritable), never its owner.
      Mount("/tmp", "tmpfs", "tmpfs",
            {"nosuid", "nodev", "mode=1777", absl::StrCat("uid=", spec.uid),
             absl::StrCat("gid=", spec.gid), absl::StrCat("size=", kTmpfsBytes / 1024, "k")}),
  });
  if (!options.init_binary.empty()) {
    mounts.push_back(
        Mount(kContainerInitPath, "bind", options.init_binary, {"bind", "ro", "nosuid", "nodev"}));
  }
  if (options.host_etc_binds) {
    absl::StatusOr<UniqueFd> root = OpenRootDirectory(spec.rootfs);
    if (!root.ok()) {
      return absl::Status(
          root.status().code(),
          absl::StrCat("container \"", spec.id, "\": rootfs: ", root.status().message()));
    }
    for (const char* file : {"etc/resolv.conf", "etc/hosts"}) {
      if (RootfsHas(root->get(), file)) continue;
      std::string path = absl::StrCat("/", file);
      mounts.push_back(Mount(path, "bind", path, {"rbind", "ro", "nosuid", "nodev", "noexec"}));
    }
  }

  const int64_t period = 100000;
  json resources = {
      // Devices: deny everything; runc adds the standard ones (null, zero, full, random,
      // urandom, tty) it creates in /dev.
      {"devices", json::array({json{{"allow", false}, {"access", "rwm"}}})},
      // Swap equal to memory: no swap beyond the limit, so reaching it kills.
      {"memory", {{"limit", spec.memory_bytes}, {"swap", spec.memory_bytes}}},
      {"cpu",
       {{"quota", static_cast<int64_t>(spec.cpu_millis) * period / 1000}, {"period", period}}},
      {"pids", {{"limit", spec.pids_max}}},
  };

  json linux = {
      {"resources", resources},
      {"cgroupsPath", ContainerCgroupPath(spec.id)},
      {"namespaces", json::array({json{{"type", "pid"}}, json{{"type", "ipc"}},
                                  json{{"type", "uts"}}, json{{"type", "mount"}}})},
      {"maskedPaths",
       {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
        "/proc/scsi"}},
      {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}},
  };

  return json{
      {"ociVersion", "1.0.2"},
      {"process", process},
      {"root", {{"path", spec.rootfs}, {"readonly", true}}},
      {"hostname", spec.id.substr(0, 63)},
      {"mounts", mounts},
      {"linux", linux},
  };
}

json ContainerSpecToJson(const ContainerSpec& spec) {
  return json{{"id", spec.id},
              {"rootfs", spec.rootfs},
              {"state_dir", spec.state_dir},
              {"args", spec.args},
              {"env", spec.env},
              {"cwd", spec.cwd},
              {"uid", spec.uid},
              {"gid", spec.gid},
              {"memory_bytes", spec.memory_bytes},
              {"cpu_millis", spec.cpu_millis},
              {"pids_max", spec.pids_max},
              {"port", spec.port}};
}

absl::StatusOr<ContainerSpec> ContainerSpecFromJson(const json& j) {
  ContainerSpec spec;
  try {
    spec.id = j.at("id").get<std::string>();
    spec.rootfs = j.at("rootfs").get<std::string>();
    spec.state_dir = j.at("state_dir").get<std::string>();
    spec.args = j.at("args").get<std::vector<std::string>>();
    spec.env = j.at("env").get<std::vector<std::string>>();
    spec.cwd = j.at("cwd").get<std::string>();
    spec.uid = j.at("uid").get<uint32_t>();
    spec.gid = j.at("gid").get<uint32_t>();
    spec.memory_bytes = j.at("memory_bytes").get<int64_t>();
    spec.cpu_millis = j.at("cpu_millis").get<int>();
    spec.pids_max = j.at("pids_max").get<int>();
    spec.port = j.at("port").get<int>();
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("persisted container spec: ", e.what()));
  }
  if (absl::Status valid = ValidateContainerSpec(spec); !valid.ok()) return valid;
  return spec;
}

}  // namespace tempa::deploy
