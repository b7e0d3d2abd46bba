#include "tests/oci/test_util.h"

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tempa::oci::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = absl::StrCat(base ? base : "/tmp", "/tempa-oci-XXXXXX");
  char* made = mkdtemp(tmpl.data());
  if (made == nullptr) std::abort();
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  // Unpacked rootless bundles can hold read-only dirs; make them writable before removal.
  for (auto it = fs::recursive_directory_iterator(path_, ec); !ec && it != end(it);
       it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) {
      fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
    }
  }
  fs::remove_all(path_, ec);
}

std::string TempDir::operator/(absl::string_view rel) const { return absl::StrCat(path_, "/", rel); }

void MakeDirs(const std::string& path) { fs::create_directories(path); }

void WriteFile(const std::string& path, absl::string_view contents, unsigned mode) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  chmod(path.c_str(), mode);
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string ShellQuote(absl::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

CommandResult Run(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen(absl::StrCat("(", command, ") 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) result.output.append(buf, n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

bool HaveTool(const std::string& tool) {
  return Run(absl::StrCat("command -v ", tool, " >/dev/null")).exit_code == 0;
}

std::vector<ReadEntry> ReadLayer(const std::string& bytes) {
  std::vector<ReadEntry> entries;
  // pax path records are UTF-8; read them back as UTF-8 bytes whatever the process locale.
  locale_t utf8 = newlocale(LC_ALL_MASK, "C.UTF-8", static_cast<locale_t>(0));
  locale_t previous = uselocale(utf8);
  struct archive* a = archive_read_new();
  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  if (archive_read_open_memory(a, bytes.data(), bytes.size()) != ARCHIVE_OK) {
    ADD_FAILURE() << "open layer: " << archive_error_string(a);
    archive_read_free(a);
    uselocale(previous);
    freelocale(utf8);
    return entries;
  }
  struct archive_entry* e;
  int rc;
  // ARCHIVE_WARN: a name that is not UTF-8 (written as raw bytes with hdrcharset=BINARY).
  while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
    ReadEntry r;
    r.path = archive_entry_pathname(e);
    r.type = archive_entry_filetype(e);
    r.perm = archive_entry_perm(e);
    r.mtime = archive_entry_mtime(e);
    r.uid = archive_entry_uid(e);
    r.gid = archive_entry_gid(e);
    r.uname = archive_entry_uname(e) ? archive_entry_uname(e) : "";
    r.gname = archive_entry_gname(e) ? archive_entry_gname(e) : "";
    r.atime_set = archive_entry_atime_is_set(e);
    r.ctime_set = archive_entry_ctime_is_set(e);
    if (archive_entry_symlink(e)) r.symlink = archive_entry_symlink(e);
    if (archive_entry_hardlink(e)) r.hardlink = archive_entry_hardlink(e);
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) r.contents.append(buf, n);
    entries.push_back(std::move(r));
  }
  if (rc != ARCHIVE_EOF) ADD_FAILURE() << "read layer: " << archive_error_string(a);
  archive_read_free(a);
  uselocale(previous);
  freelocale(utf8);
  return entries;
}

}  // namespace tempa::oci::testing
