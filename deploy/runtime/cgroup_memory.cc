#include "deploy/runtime/cgroup_memory.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/posix_status.h"

namespace tempa::deploy {
namespace {

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "open", path);
  std::string data;
  char buf[4096];
  while (data.size() < (64 << 10)) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read", path);
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

// The value of "key N" in a flat-keyed cgroup file, 0 when absent.
int64_t KeyedValue(const std::string& text, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, ' ');
    int64_t value = 0;
    if (kv.first == key && absl::SimpleAtoi(kv.second, &value)) return value;
  }
  return 0;
}

}  // namespace

absl::StatusOr<MemoryEvents> ReadMemoryEvents(const std::string& cgroup_path,
                                              const std::string& cgroup_root) {
  struct statfs fs;
  if (statfs(cgroup_root.c_str(), &fs) != 0) return ErrnoStatus(errno, "statfs", cgroup_root);
  MemoryEvents events;
  if (fs.f_type == CGROUP2_SUPER_MAGIC) {
    absl::StatusOr<std::string> text =
        ReadSmallFile(absl::StrCat(cgroup_root, cgroup_path, "/memory.events"));
    if (!text.ok()) return text.status();
    events.oom_kills = KeyedValue(*text, "oom_kill");
    events.limit_hits = KeyedValue(*text, "max");
    return events;
  }
  std::string dir = absl::StrCat(cgroup_root, "/memory", cgroup_path);
  absl::StatusOr<std::string> oom = ReadSmallFile(dir + "/memory.oom_control");
  if (!oom.ok()) return oom.status();
  events.oom_kills = KeyedValue(*oom, "oom_kill");
  absl::StatusOr<std::string> failcnt = ReadSmallFile(dir + "/memory.failcnt");
  if (failcnt.ok()) {
    int64_t value = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(*failcnt), &value)) events.limit_hits = value;
  }
  return events;
}

}  // namespace tempa::deploy
