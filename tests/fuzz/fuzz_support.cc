#include "tests/fuzz/fuzz_support.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace tempa::fuzz {
namespace {

void Die(std::string_view what) {
  std::fprintf(stderr, "fuzz harness: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               std::strerror(errno));
  std::abort();
}

std::string* scratch = nullptr;

void RemoveScratch() {
  std::error_code ignored;
  if (scratch != nullptr) std::filesystem::remove_all(*scratch, ignored);
}

}  // namespace

const std::string& ScratchDir() {
  if (scratch == nullptr) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/tempa-fuzz-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) Die("mkdtemp " + pattern);
    scratch = new std::string(pattern);
    std::atexit(RemoveScratch);
  }
  return *scratch;
}

void WriteFile(const std::string& path, std::string_view data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) Die("create " + path);
  for (size_t done = 0; done < data.size();) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) Die("write " + path);
    done += static_cast<size_t>(n);
  }
  if (close(fd) != 0) Die("close " + path);
}

void RemoveFile(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT) Die("unlink " + path);
}

std::vector<std::string_view> SplitParts(const uint8_t* data, size_t size, size_t max_parts) {
  constexpr std::string_view kSeparator = "\n%%\n";
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    size_t at = rest.find(kSeparator);
    if (at == std::string_view::npos) break;
    parts.push_back(rest.substr(0, at));
    rest.remove_prefix(at + kSeparator.size());
  }
  parts.push_back(rest);
  return parts;
}

void Check(bool ok, std::string_view what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz check failed: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

}  // namespace tempa::fuzz
