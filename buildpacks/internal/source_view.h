// A build's view of the source whose file times follow content, never the user's file times.
// Toolchains such as cargo decide freshness by comparing source modification times with their
// own records; a checkout whose changed files are older than the app's last build would get the
// last build's output. MakeSourceView copies the source (never touching it, following no link)
// into a Tempa-owned directory, and gives each entry the time recorded for it when its path and
// content are those of the app's previous build, or a time later than any the app's builds ever
// saw when they are not (a changed, new or renamed file; a directory whose listing changed).
//
// The record (per app, "source times") holds, per path, the SHA-256 of the content (of a file,
// of a link's target text, of a directory's sorted listing) and the time given. It is read
// strictly (bounded size, every field checked, times no later than a day ahead of the clock):
// a record that is not exactly what Tempa writes is ignored, and every entry gets a new time
// (a full rebuild, never a stale one). Callers keep it where no build can write it.
//
// Everything is hashed on every build: the copy reads every byte anyway, and the user's times
// and inode numbers are exactly what cannot be trusted, so no (size, mtime, inode) shortcut.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tempa::buildpacks::internal {

struct SourceViewOptions {
  // Single path components left out wherever they appear ("target", ".git").
  std::vector<std::string> exclude_names;
  // Give the view the owner of the directory it is made in (the build user's scratch).
  bool owner_from_parent = true;
};

struct SourceViewResult {
  size_t entries = 0;           // files, links and directories in the view
  size_t changed = 0;           // of which got a new time (all of them on a first build)
  bool record_ignored = false;  // a record was there but not valid (see `record_problem`)
  std::string record_problem;
};

// The largest record read; a bigger one is ignored (a tree of ~100k paths fits).
inline constexpr size_t kMaxSourceTimesRecordBytes = 32 << 20;

// Copies the directory `source` to `view` (which must not exist; its parent must), sets every
// entry's modification time as described above, then replaces the record at `record_path`
// (0600, written to a temporary file and renamed; its directory must exist) with the view's.
// `now` is the clock's time: new times are max(now, the latest time ever given + 1 s).
absl::StatusOr<SourceViewResult> MakeSourceView(const std::string& source, const std::string& view,
                                                const std::string& record_path, absl::Time now,
                                                const SourceViewOptions& options = {});

}  // namespace tempa::buildpacks::internal
