#include "worker/sandbox/file_limit_evidence.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/posix_status.h"

namespace tempa::sandbox_internal {
namespace {

constexpr int kMaxDepth = 64;

struct Walk {
  uint64_t limit;
  struct timespec since;
  dev_t dev;
  int entries_left;
};

bool ModifiedSince(const struct stat& st, const struct timespec& since) {
  return st.st_mtim.tv_sec > since.tv_sec ||
         (st.st_mtim.tv_sec == since.tv_sec && st.st_mtim.tv_nsec >= since.tv_nsec);
}

// Searches the directory `dir_fd` (owned) whose sandbox path is `path`.
std::optional<std::string> Search(UniqueFd dir_fd, const std::string& path, int depth, Walk& walk) {
  DIR* dir = ::fdopendir(dir_fd.get());
  if (dir == nullptr) return std::nullopt;
  dir_fd.Release();  // the DIR owns it now
  std::optional<std::string> found;
  while (!found && walk.entries_left-- > 0) {
    dirent* e = ::readdir(dir);
    if (e == nullptr) break;
    absl::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(::dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    std::string child = absl::StrCat(path, "/", name);
    if (S_ISREG(st.st_mode)) {
      if (static_cast<uint64_t>(st.st_size) == walk.limit && ModifiedSince(st, walk.since)) {
        found = child;
      }
    } else if (S_ISDIR(st.st_mode) && st.st_dev == walk.dev && depth < kMaxDepth) {
      UniqueFd sub(
          ::openat(::dirfd(dir), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub.valid()) found = Search(std::move(sub), child, depth + 1, walk);
    }
  }
  ::closedir(dir);
  return found;
}

}  // namespace

std::optional<std::string> FindFileCutAtLimit(const std::vector<WrittenTree>& trees, uint64_t limit,
                                              absl::Time since, int max_entries) {
  if (limit == 0) return std::nullopt;
  Walk walk{limit, absl::ToTimespec(since), 0, max_entries};
  for (const WrittenTree& tree : trees) {
    UniqueFd root(::open(tree.host_path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st;
    if (!root.valid() || ::fstat(root.get(), &st) != 0) continue;
    walk.dev = st.st_dev;
    std::string base = tree.sandbox_path == "/" ? "" : tree.sandbox_path;
    if (std::optional<std::string> found = Search(std::move(root), base, 0, walk)) return found;
    if (walk.entries_left <= 0) break;
  }
  return std::nullopt;
}

bool OutputSaysFileTooLarge(absl::string_view log_tail) {
  std::string tail = absl::AsciiStrToLower(log_tail);
  return absl::StrContains(tail, "file size limit exceeded") ||
         absl::StrContains(tail, "file too large") || absl::StrContains(tail, "sigxfsz") ||
         // cargo: "process didn't exit successfully: `.../build-script-build` (signal: 25)";
         // gcc: "ld terminated with signal 25".
         absl::StrContains(tail, absl::StrCat("(signal: ", SIGXFSZ, ")")) ||
         absl::StrContains(tail, absl::StrCat("signal ", SIGXFSZ, " ["));
}

}  // namespace tempa::sandbox_internal
