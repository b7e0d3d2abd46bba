#include "buildpacks/internal/source_view.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <map>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/digest.h"
#include "common/posix_status.h"
#include "common/status_macros.h"
#include "common/tree_copy.h"

namespace tempa::buildpacks::internal {
namespace {

constexpr char kHeader[] = "tempa-source-times v1";
constexpr int64_t kSecond = 1'000'000'000;
// Recorded times may run ahead of the clock by this much (an NTP step), no more.
constexpr int64_t kFutureSlack = 24 * 3600 * kSecond;

struct Entry {
  char kind = 'f';   // 'f' file, 'l' symlink, 'd' directory
  std::string hash;  // 64 lowercase hex
  int64_t mtime_ns = 0;
};

struct Record {
  int64_t latest_ns = 0;                 // the latest time ever given to an entry of this app
  std::map<std::string, Entry> entries;  // by relative path, "." for the root
};

bool IsLowerHex(absl::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool IsCleanRelativePath(absl::string_view path) {
  if (path == ".") return true;
  if (path.empty() || path.find('\0') != absl::string_view::npos) return false;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part == "." || part == "..") return false;
  }
  return true;
}

absl::StatusOr<Record> ParseRecord(absl::string_view text, int64_t now_ns) {
  auto bad = [](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("source times record: ", why));
  };
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (lines.size() < 2 || !lines.back().empty()) return bad("not newline-terminated");
  lines.pop_back();
  std::vector<absl::string_view> head = absl::StrSplit(lines[0], ' ');
  Record record;
  if (head.size() != 3 || absl::StrCat(head[0], " ", head[1]) != kHeader ||
      !absl::SimpleAtoi(head[2], &record.latest_ns) || record.latest_ns < 0 ||
      record.latest_ns > now_ns + kFutureSlack) {
    return bad("bad header");
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<absl::string_view> f = absl::StrSplit(lines[i], ' ');
    Entry entry;
    if (f.size() != 4 || f[0].size() != 1 ||
        absl::string_view("fld").find(f[0][0]) == absl::string_view::npos || f[1].size() != 64 ||
        !IsLowerHex(f[1]) || !absl::SimpleAtoi(f[2], &entry.mtime_ns) || entry.mtime_ns < 0 ||
        entry.mtime_ns > record.latest_ns || f[3].size() % 2 != 0 || !IsLowerHex(f[3])) {
      return bad(absl::StrCat("line ", i + 1, " is malformed"));
    }
    entry.kind = f[0][0];
    entry.hash = std::string(f[1]);
    std::string path = absl::HexStringToBytes(f[3]);
    if (!IsCleanRelativePath(path)) return bad(absl::StrCat("line ", i + 1, ": bad path"));
    if (!record.entries.emplace(std::move(path), std::move(entry)).second) {
      return bad(absl::StrCat("line ", i + 1, ": path recorded twice"));
    }
  }
  return record;
}

// The record at `path`, or an empty one when there is none. A record that is there but cannot
// be read or is not valid is an error (the caller ignores it).
absl::StatusOr<Record> ReadRecord(const std::string& path, int64_t now_ns) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Record{};
    return ErrnoStatus(errno, "open", path);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "stat", path);
  if (!S_ISREG(st.st_mode)) return absl::InvalidArgumentError(path + " is not a regular file");
  if (static_cast<uint64_t>(st.st_size) > kMaxSourceTimesRecordBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is larger than ", kMaxSourceTimesRecordBytes, " bytes"));
  }
  std::string text;
  char buffer[1 << 16];
  while (true) {
    ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read", path);
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxSourceTimesRecordBytes) {
      return absl::InvalidArgumentError(absl::StrCat(path, " grew while being read"));
    }
  }
  return ParseRecord(text, now_ns);
}

absl::Status WriteRecord(const std::string& path, const Record& record) {
  std::string text = absl::StrCat(kHeader, " ", record.latest_ns, "\n");
  for (const auto& [name, entry] : record.entries) {
    absl::StrAppend(&text, std::string(1, entry.kind), " ", entry.hash, " ", entry.mtime_ns, " ",
                    absl::BytesToHexString(name), "\n");
  }
  std::string temp = absl::StrCat(path, ".tmp-", ::getpid());
  ::unlink(temp.c_str());  // left by a crash
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus(errno, "create", temp);
  for (size_t done = 0; done < text.size();) {
    ssize_t w = ::write(fd.get(), text.data() + done, text.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      int err = errno;
      ::unlink(temp.c_str());
      return ErrnoStatus(err, "write", temp);
    }
    done += static_cast<size_t>(w);
  }
  fd.Reset();
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return ErrnoStatus(err, "rename into place", path);
  }
  return absl::OkStatus();
}

struct timespec ToTimespec(int64_t ns) {
  return {static_cast<time_t>(ns / kSecond), static_cast<long>(ns % kSecond)};
}

// Gives the view's entries their times, walking it through descriptors opened O_NOFOLLOW.
struct Stamper {
  const Record& old_record;
  int64_t new_ns;
  Record record;
  SourceViewResult result;

  int64_t TimeFor(const std::string& path, char kind, const std::string& hash) {
    ++result.entries;
    int64_t ns = new_ns;
    auto it = old_record.entries.find(path);
    if (it != old_record.entries.end() && it->second.kind == kind && it->second.hash == hash) {
      ns = it->second.mtime_ns;
    } else {
      ++result.changed;
    }
    record.entries[path] = Entry{kind, hash, ns};
    return ns;
  }

  // Stamps what is in the directory `fd` (`path` relative to the view, "." for its root) and
  // returns the hash of its listing.
  absl::StatusOr<std::string> StampEntries(int fd, const std::string& path,
                                           const std::string& where, int depth) {
    if (depth > kMaxTreeDepth) {
      return absl::InvalidArgumentError(absl::StrCat(where, " is nested too deep"));
    }
    ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectoryNames(fd, where));
    Sha256 listing;
    for (const std::string& name : names) {
      std::string child = path == "." ? name : absl::StrCat(path, "/", name);
      std::string child_where = absl::StrCat(where, "/", name);
      struct stat st;
      if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return ErrnoStatus(errno, "stat", child_where);
      }
      char kind;
      if (S_ISREG(st.st_mode)) {
        kind = 'f';
        UniqueFd file(::openat(fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!file.valid()) return ErrnoStatus(errno, "open", child_where);
        ASSIGN_OR_RETURN(Digest digest, Sha256OfFd(file.get(), child_where));
        struct timespec times[2] = {ToTimespec(new_ns),
                                    ToTimespec(TimeFor(child, kind, digest.hex()))};
        if (::futimens(file.get(), times) != 0) return ErrnoStatus(errno, "set times of", where);
      } else if (S_ISLNK(st.st_mode)) {
        kind = 'l';
        std::string target(PATH_MAX + 1, '\0');
        ssize_t n = ::readlinkat(fd, name.c_str(), target.data(), target.size());
        if (n < 0) return ErrnoStatus(errno, "readlink", child_where);
        if (static_cast<size_t>(n) >= target.size()) {
          return absl::InvalidArgumentError(absl::StrCat(child_where, " changed while being read"));
        }
        target.resize(static_cast<size_t>(n));
        std::string hash = Sha256Of(target).hex();
        struct timespec times[2] = {ToTimespec(new_ns), ToTimespec(TimeFor(child, kind, hash))};
        if (::utimensat(fd, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
          return ErrnoStatus(errno, "set times of", child_where);
        }
      } else if (S_ISDIR(st.st_mode)) {
        kind = 'd';
        UniqueFd sub(::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub.valid()) return ErrnoStatus(errno, "open directory", child_where);
        ASSIGN_OR_RETURN(std::string hash, StampEntries(sub.get(), child, child_where, depth + 1));
        struct timespec times[2] = {ToTimespec(new_ns), ToTimespec(TimeFor(child, kind, hash))};
        if (::futimens(sub.get(), times) != 0) {
          return ErrnoStatus(errno, "set times of", child_where);
        }
      } else {
        continue;  // CopyTree copies no sockets, fifos or devices
      }
      listing.Update(absl::StrCat(std::string(1, kind), name));
      listing.Update("\0", 1);
    }
    return listing.Finish().hex();
  }
};

}  // namespace

absl::StatusOr<SourceViewResult> MakeSourceView(const std::string& source, const std::string& view,
                                                const std::string& record_path, absl::Time now,
                                                const SourceViewOptions& options) {
  TreeCopyOptions copy;
  copy.exclude_names = options.exclude_names;
  copy.keep_mtimes = false;
  copy.owner_from_parent = options.owner_from_parent;
  RETURN_IF_ERROR(CopyTree(source, view, copy));

  int64_t now_ns = absl::ToUnixNanos(now);
  SourceViewResult result;
  Record old_record;
  if (absl::StatusOr<Record> read = ReadRecord(record_path, now_ns); read.ok()) {
    old_record = *std::move(read);
  } else {
    result.record_ignored = true;
    result.record_problem = std::string(read.status().message());
  }
  // Later than any time this app's builds were given, so later than their compiles' records.
  int64_t new_ns = std::max(now_ns, old_record.latest_ns + kSecond);
  Stamper stamper{old_record, new_ns, Record{}, result};
  UniqueFd root(::open(view.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root.valid()) return ErrnoStatus(errno, "open directory", view);
  ASSIGN_OR_RETURN(std::string hash, stamper.StampEntries(root.get(), ".", view, 0));
  struct timespec times[2] = {ToTimespec(new_ns), ToTimespec(stamper.TimeFor(".", 'd', hash))};
  if (::futimens(root.get(), times) != 0) return ErrnoStatus(errno, "set times of", view);
  stamper.record.latest_ns = new_ns;
  RETURN_IF_ERROR(WriteRecord(record_path, stamper.record));
  return stamper.result;
}

}  // namespace tempa::buildpacks::internal
