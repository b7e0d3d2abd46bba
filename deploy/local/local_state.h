// What the local backend remembers across deployer restarts, in WORK/local/state.json: per
// app+track the live release (deploy id, image, port, container, hosts, settings, env) and the
// releases kept for rollbacks. Env values are secrets: on disk they are sealed with a SecretBox
// whose key is WORK/local/state.key (0600, made on first use), bound to the track and deploy.
// Both files are written 0600 in a 0700 directory, opened without following symbolic links.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/crypto/secret_box.h"
#include "common/posix_status.h"
#include "deploy/core/release.h"

namespace tempa::deploy {

struct LiveRelease {
  std::string deploy_id;
  std::string commit;
  std::string image;            // HOST[:PORT]/REPO@sha256:<hex>
  std::string manifest_digest;  // as the unpacker reported it
  std::string container_id;
  int port = 0;
  std::vector<std::string> hosts;
  RunSettings settings;
  std::map<std::string, std::string> env;  // clear in memory, sealed on disk
};

struct KeptRelease {
  std::string deploy_id;
  std::string image;
  std::string manifest_digest;
};

struct TrackState {
  std::string app;
  std::string track;
  std::optional<LiveRelease> live;
  std::vector<KeptRelease> kept;  // newest first, the live one included
};

struct LocalState {
  std::map<std::string, TrackState> tracks;  // by TrackKey(app, track)
};

std::string TrackKey(absl::string_view app, absl::string_view track);

class LocalStateStore {
 public:
  // Creates `dir` (0700) when missing and the key file in it; refuses a directory that is a
  // symbolic link, not ours, or open to group/others.
  static absl::StatusOr<std::unique_ptr<LocalStateStore>> Open(const std::string& dir);

  // The saved state; empty when nothing was saved yet. DataLoss when the file is not what
  // Save writes or a sealed env does not open under the key.
  absl::StatusOr<LocalState> Load() const;
  // Replaces the saved state atomically (write to a temporary file, fsync, rename).
  absl::Status Save(const LocalState& state) const;

  const std::string& path() const { return path_; }

 private:
  LocalStateStore(std::string dir, UniqueFd dir_fd, crypto::SecretBox box);

  std::string dir_;
  std::string path_;
  UniqueFd dir_fd_;
  crypto::SecretBox box_;
};

}  // namespace tempa::deploy
