#include "worker/sandbox/cgroup_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/posix_status.h"

namespace tempa::cgroup_internal {

std::optional<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

uint64_t ReadNumber(const std::string& path) {
  std::optional<std::string> text = ReadSmallFile(path);
  uint64_t n = 0;
  if (text && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &n)) return n;
  return 0;
}

std::optional<uint64_t> ReadKeyed(const std::string& path, absl::string_view key) {
  std::optional<std::string> text = ReadSmallFile(path);
  if (!text) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    uint64_t n = 0;
    if (kv.first == key && absl::SimpleAtoi(kv.second, &n)) return n;
  }
  return std::nullopt;
}

std::set<std::string> ReadWords(const std::string& path) {
  std::set<std::string> words;
  if (std::optional<std::string> text = ReadSmallFile(path)) {
    for (absl::string_view w : absl::StrSplit(*text, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
      words.emplace(w);
    }
  }
  return words;
}

absl::Status WriteValue(const std::string& path, absl::string_view value) {
  // O_TRUNC as a shell's ">" would: harmless on cgroupfs, and right on a fake tree.
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "open", path);
  ssize_t n = ::write(fd.get(), value.data(), value.size());
  if (n != static_cast<ssize_t>(value.size())) {
    return ErrnoStatus(n < 0 ? errno : EIO, absl::StrCat("write \"", value, "\" to"), path);
  }
  return absl::OkStatus();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<pid_t> Procs(const std::string& group) {
  std::vector<pid_t> pids;
  std::optional<std::string> text = ReadSmallFile(group + "/cgroup.procs");
  if (!text) return pids;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    int pid = 0;
    if (absl::SimpleAtoi(line, &pid) && pid > 0) pids.push_back(pid);
  }
  return pids;
}

bool RemoveGroup(const std::string& dir) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return true;
    if (errno != EBUSY) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

std::vector<std::string> AbandonedGroups(const std::string& parent, const std::string& prefix) {
  std::vector<std::string> abandoned;
  DIR* d = ::opendir(parent.c_str());
  if (d == nullptr) return abandoned;
  while (dirent* e = ::readdir(d)) {
    absl::string_view name = e->d_name;
    if (!absl::ConsumePrefix(&name, prefix)) continue;
    pid_t owner = 0;
    if (!absl::SimpleAtoi(name.substr(0, name.find('-')), &owner) || owner <= 0) continue;
    // Alive (or a pid reused by someone else): leave it.
    if (::kill(owner, 0) == 0 || errno != ESRCH) continue;
    abandoned.push_back(absl::StrCat(parent, "/", e->d_name));
  }
  ::closedir(d);
  return abandoned;
}

}  // namespace tempa::cgroup_internal
