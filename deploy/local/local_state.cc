#include "deploy/local/local_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace tempa::deploy {
namespace {

using nlohmann::json;

constexpr char kStateFile[] = "state.json";
constexpr char kTempFile[] = "state.json.tmp";
constexpr char kKeyFile[] = "state.key";
constexpr int kVersion = 1;

std::string EnvAssociatedData(const std::string& key, const std::string& deploy_id) {
  return absl::StrCat("tempa-local-state/", key, "/", deploy_id, "/env");
}

json SettingsToJson(const RunSettings& s) {
  return {{"memory_bytes", s.memory_bytes}, {"cpu_millis", s.cpu_millis},
          {"replicas", s.replicas},         {"max_replicas", s.max_replicas},
          {"health_path", s.health_path},   {"port", s.port},
          {"pids_max", s.pids_max}};
}

RunSettings SettingsFromJson(const json& j) {
  RunSettings s;
  s.memory_bytes = j.at("memory_bytes").get<int64_t>();
  s.cpu_millis = j.at("cpu_millis").get<int>();
  s.replicas = j.at("replicas").get<int>();
  s.max_replicas = j.at("max_replicas").get<int>();
  s.health_path = j.at("health_path").get<std::string>();
  s.port = j.at("port").get<int>();
  s.pids_max = j.at("pids_max").get<int>();
  return s;
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

std::string TrackKey(absl::string_view app, absl::string_view track) {
  return absl::StrCat(app, "/", track);
}

LocalStateStore::LocalStateStore(std::string dir, UniqueFd dir_fd, crypto::SecretBox box)
    : dir_(std::move(dir)),
      path_(dir_ + "/" + kStateFile),
      dir_fd_(std::move(dir_fd)),
      box_(std::move(box)) {}

absl::StatusOr<std::unique_ptr<LocalStateStore>> LocalStateStore::Open(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "create the local backend's state directory", dir);
  }
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "open the local backend's state directory", dir);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "stat", dir);
  if (st.st_uid != geteuid()) {
    return absl::PermissionDeniedError(absl::StrCat(
        dir, " is owned by uid ", st.st_uid, ", not by the deployer: chown it or remove it"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        dir, " is open to other users (it holds the key to the apps' env secrets): chmod 700 ",
        dir));
  }
  const std::string key_path = dir + "/" + kKeyFile;
  if (faccessat(fd.get(), kKeyFile, F_OK, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) return ErrnoStatus(errno, "look for the state key", key_path);
    RETURN_IF_ERROR(crypto::SecretBox::GenerateKeyFile(key_path));
  }
  ASSIGN_OR_RETURN(crypto::SecretBox box, crypto::SecretBox::FromKeyFile(key_path));
  return std::unique_ptr<LocalStateStore>(new LocalStateStore(dir, std::move(fd), std::move(box)));
}

absl::StatusOr<LocalState> LocalStateStore::Load() const {
  LocalState state;
  UniqueFd fd(openat(dir_fd_.get(), kStateFile, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return state;
    return ErrnoStatus(errno, "open", path_);
  }
  std::string text;
  char buffer[16384];
  while (true) {
    ssize_t n = read(fd.get(), buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "read", path_);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > (64u << 20)) return absl::DataLossError(path_ + " is larger than 64 MiB");
  }
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || doc.value("version", 0) != kVersion) {
    return absl::DataLossError(absl::StrCat(path_, " is not a local backend state (version ",
                                            kVersion, "): move it away to start afresh"));
  }
  try {
    for (const auto& [key, t] : doc.at("tracks").items()) {
      TrackState track;
      track.app = t.at("app").get<std::string>();
      track.track = t.at("track").get<std::string>();
      if (TrackKey(track.app, track.track) != key) {
        return absl::DataLossError(absl::StrCat(path_, ": track ", key, " names another track"));
      }
      for (const json& k : t.at("kept")) {
        track.kept.push_back({k.at("deploy_id").get<std::string>(),
                              k.at("image").get<std::string>(),
                              k.at("manifest_digest").get<std::string>()});
      }
      if (t.contains("live") && !t.at("live").is_null()) {
        const json& l = t.at("live");
        LiveRelease live;
        live.deploy_id = l.at("deploy_id").get<std::string>();
        live.commit = l.at("commit").get<std::string>();
        live.image = l.at("image").get<std::string>();
        live.manifest_digest = l.at("manifest_digest").get<std::string>();
        live.container_id = l.at("container_id").get<std::string>();
        live.port = l.at("port").get<int>();
        live.hosts = l.at("hosts").get<std::vector<std::string>>();
        live.settings = SettingsFromJson(l.at("settings"));
        std::string sealed;
        if (!absl::Base64Unescape(l.at("env_sealed").get<std::string>(), &sealed)) {
          return absl::DataLossError(absl::StrCat(path_, ": the env of ", key, " is not base64"));
        }
        absl::StatusOr<std::string> env_text =
            box_.Open(sealed, EnvAssociatedData(key, live.deploy_id));
        if (!env_text.ok()) {
          return absl::DataLossError(
              absl::StrCat(path_, ": the env of ", key, " does not open with ", dir_, "/", kKeyFile,
                           " (was the key replaced?): ", env_text.status().message()));
        }
        json env = json::parse(*env_text, nullptr, false);
        if (!env.is_object()) return absl::DataLossError(path_ + ": a sealed env is not an object");
        live.env = env.get<std::map<std::string, std::string>>();
        track.live = std::move(live);
      }
      state.tracks.emplace(key, std::move(track));
    }
  } catch (const json::exception& e) {
    return absl::DataLossError(
        absl::StrCat(path_, " is damaged (", e.what(), "): move it away to start afresh"));
  }
  return state;
}

absl::Status LocalStateStore::Save(const LocalState& state) const {
  json tracks = json::object();
  for (const auto& [key, track] : state.tracks) {
    json t = {{"app", track.app}, {"track", track.track}, {"kept", json::array()}};
    for (const KeptRelease& k : track.kept) {
      t["kept"].push_back(
          {{"deploy_id", k.deploy_id}, {"image", k.image}, {"manifest_digest", k.manifest_digest}});
    }
    if (track.live) {
      const LiveRelease& l = *track.live;
      std::string sealed = box_.Seal(json(l.env).dump(), EnvAssociatedData(key, l.deploy_id));
      t["live"] = {{"deploy_id", l.deploy_id},
                   {"commit", l.commit},
                   {"image", l.image},
                   {"manifest_digest", l.manifest_digest},
                   {"container_id", l.container_id},
                   {"port", l.port},
                   {"hosts", l.hosts},
                   {"settings", SettingsToJson(l.settings)},
                   {"env_sealed", absl::Base64Escape(sealed)}};
    }
    tracks[key] = std::move(t);
  }
  const std::string text = json{{"version", kVersion}, {"tracks", tracks}}.dump(2) + "\n";
  const std::string temp_path = dir_ + "/" + kTempFile;
  if (unlinkat(dir_fd_.get(), kTempFile, 0) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, "remove", temp_path);
  }
  UniqueFd fd(
      openat(dir_fd_.get(), kTempFile, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus(errno, "create", temp_path);
  RETURN_IF_ERROR(WriteAll(fd.get(), text, temp_path));
  if (fsync(fd.get()) != 0) return ErrnoStatus(errno, "fsync", temp_path);
  fd.Reset();
  if (renameat(dir_fd_.get(), kTempFile, dir_fd_.get(), kStateFile) != 0) {
    return ErrnoStatus(errno, "rename to", path_);
  }
  fsync(dir_fd_.get());
  return absl::OkStatus();
}

}  // namespace tempa::deploy
