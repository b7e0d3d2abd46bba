// Where a worker keeps its content-addressed store and the directories builds write, made safe
// from the cache directory the operator named: the CAS is root's alone (0700), and the
// build-writable areas (tmp/, apps/, locks/, debs/) sit where no other user can swap a directory
// for a link and the build user can pass.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "worker/build_pipeline_dirs.h"

namespace tempa::worker {

struct CacheLayout {
  std::string cas;        // the CAS directory
  std::string work_area;  // tmp/, apps/, locks/, debs/
};

// Makes the cache directory (0711 when builds run as another user, else 0700; one the user
// made keeps its mode) and its CAS (0700, root's alone), and returns where the build-writable
// directories go: the cache directory itself when the build user can pass through it and only
// root can change it and its parents, else a root-owned private area keyed by it under
// kDefaultPrivateRoot (a 0700 `mktemp -d`, or a directory of another user, stays as it was).
absl::StatusOr<CacheLayout> PrepareCacheDir(const std::string& cache_dir, DirOwner build_owner);

}  // namespace tempa::worker
