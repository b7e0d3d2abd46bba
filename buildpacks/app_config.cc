// LoadAppConfig: tempa.toml (toml++) and Procfile. Both files come from the repository, which is
// untrusted: they are opened without following symlinks, size-capped, and every key is checked
// so a typo is an error naming the file and line rather than a silently ignored setting.
#include "buildpacks/app_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "toml++/toml.h"

namespace tempa::buildpacks {
namespace {

constexpr char kConfigFile[] = "tempa.toml";
constexpr char kProcfile[] = "Procfile";
constexpr size_t kMaxFileBytes = 1 << 20;

absl::Status Bad(absl::string_view file, int64_t line, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(file, ":", line, ": ", message));
}

// nullopt when the file does not exist. A symlink is refused: it could point anywhere on the
// worker, and the worker reads it with its own rights.
absl::StatusOr<std::optional<std::string>> ReadAppFile(const std::string& dir,
                                                       const std::string& name) {
  std::string path = dir + "/" + name;
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0 && errno == ENOENT) return std::optional<std::string>();
  if (fd < 0 && errno == ELOOP) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " is a symlink; it must be a regular file of the repository"));
  }
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) > kMaxFileBytes) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be a regular file of at most ", kMaxFileBytes, " bytes"));
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(got);
  return std::optional<std::string>(std::move(text));
}

int64_t LineOf(const toml::node& node) { return node.source().begin.line; }
int64_t LineOf(const toml::key& key) { return key.source().begin.line; }

absl::StatusOr<std::string> StringValue(const toml::node& node, absl::string_view what) {
  const std::string* s = node.as_string() ? &node.as_string()->get() : nullptr;
  if (s == nullptr) {
    return Bad(kConfigFile, LineOf(node), absl::StrCat(what, " must be a string"));
  }
  return *s;
}

// "services/api", "./services/api/" → "services/api"; absolute paths and ".." are refused so
// the build stays inside the repository, and so are symlinked components that exist.
absl::StatusOr<std::string> CleanSubdirectory(const std::string& dir, const std::string& raw,
                                              int64_t line) {
  if (absl::StartsWith(raw, "/")) {
    return Bad(kConfigFile, line,
               absl::StrCat("subdirectory \"", raw, "\" must be relative to the repository root"));
  }
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(raw, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == ".." || part.find('\0') != absl::string_view::npos) {
      return Bad(kConfigFile, line,
                 absl::StrCat("subdirectory \"", raw, "\" must stay inside the repository"));
    }
    parts.emplace_back(part);
    struct stat st;
    std::string so_far = absl::StrCat(dir, "/", absl::StrJoin(parts, "/"));
    if (::lstat(so_far.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      return Bad(kConfigFile, line,
                 absl::StrCat("subdirectory \"", raw, "\" goes through the symlink ",
                              absl::StrJoin(parts, "/"), "; name the real directory"));
    }
  }
  return absl::StrJoin(parts, "/");
}

// A list of globs: strings, none empty, at most kMaxGlobs of them.
absl::StatusOr<std::vector<std::string>> GlobList(const toml::node& node, absl::string_view what) {
  constexpr size_t kMaxGlobs = 1000;
  const toml::array* array = node.as_array();
  if (array == nullptr) {
    return Bad(kConfigFile, LineOf(node),
               absl::StrCat(what, " must be an array of strings, e.g. [\"templates/\"]"));
  }
  if (array->size() > kMaxGlobs) {
    return Bad(kConfigFile, LineOf(node),
               absl::StrCat(what, " has ", array->size(), " patterns; at most ", kMaxGlobs));
  }
  std::vector<std::string> globs;
  for (const toml::node& item : *array) {
    absl::StatusOr<std::string> glob = StringValue(item, absl::StrCat("every entry of ", what));
    if (!glob.ok()) return glob.status();
    if (absl::StripAsciiWhitespace(*glob).empty()) {
      return Bad(kConfigFile, LineOf(item), absl::StrCat(what, " has an empty pattern"));
    }
    if (absl::StartsWith(*glob, "!")) {
      return Bad(kConfigFile, LineOf(item),
                 absl::StrCat(what, " pattern \"", *glob,
                              "\" starts with \"!\"; the lists take no negation: move the "
                              "pattern to the other list"));
    }
    globs.push_back(*std::move(glob));
  }
  return globs;
}

absl::Status LoadBuildTable(const toml::table& build, AppConfig& config) {
  for (const auto& [key, node] : build) {
    std::string name(key.str());
    if (name == "env") {
      const toml::table* env = node.as_table();
      if (env == nullptr) return Bad(kConfigFile, LineOf(node), "build.env must be a table");
      for (const auto& [var, value] : *env) {
        std::string var_name(var.str());
        if (var_name.empty() || var_name.find('=') != std::string::npos) {
          return Bad(kConfigFile, LineOf(var),
                     absl::StrCat("build.env has a bad variable name \"", var_name, "\""));
        }
        absl::StatusOr<std::string> v = StringValue(value, absl::StrCat("build.env.", var_name));
        if (!v.ok()) return v.status();
        config.build_env[var_name] = *v;
      }
    } else if (name == "go_main" || name == "rust_bin" || name == "python_module" ||
               name == "python_server") {
      absl::StatusOr<std::string> v = StringValue(node, absl::StrCat("build.", name));
      if (!v.ok()) return v.status();
      if (v->empty()) {
        return Bad(kConfigFile, LineOf(node), absl::StrCat("build.", name, " is empty"));
      }
      (name == "go_main"         ? config.go_main
       : name == "rust_bin"      ? config.rust_bin
       : name == "python_module" ? config.python_module
                                 : config.python_server) = *v;
    } else if (name == "collectstatic") {
      if (!node.is_boolean()) {
        return Bad(kConfigFile, LineOf(node), "build.collectstatic must be true or false");
      }
      config.collectstatic = node.value<bool>();
    } else {
      return Bad(kConfigFile, LineOf(key),
                 absl::StrCat("unknown key \"build.", name,
                              "\" (known: env, go_main, rust_bin, python_module, python_server, "
                              "collectstatic)"));
    }
  }
  return absl::OkStatus();
}

absl::Status LoadToml(const std::string& dir, const std::string& text, AppConfig& config) {
  toml::table doc;
  try {
    doc = toml::parse(text, std::string_view(kConfigFile));
  } catch (const toml::parse_error& e) {
    return Bad(kConfigFile, e.source().begin.line, std::string(e.description()));
  }
  for (const auto& [key, node] : doc) {
    std::string name(key.str());
    if (name == "subdirectory") {
      absl::StatusOr<std::string> raw = StringValue(node, "subdirectory");
      if (!raw.ok()) return raw.status();
      absl::StatusOr<std::string> clean = CleanSubdirectory(dir, *raw, LineOf(node));
      if (!clean.ok()) return clean.status();
      config.subdirectory = *clean;
    } else if (name == "port") {
      std::optional<int64_t> port = node.is_integer() ? node.value<int64_t>() : std::nullopt;
      if (!port || *port < 1 || *port > 65535) {
        return Bad(kConfigFile, LineOf(node), "port must be an integer between 1 and 65535");
      }
      config.port = static_cast<int>(*port);
    } else if (name == "start") {
      absl::StatusOr<std::string> start = StringValue(node, "start");
      if (!start.ok()) return start.status();
      if (absl::StripAsciiWhitespace(*start).empty()) {
        return Bad(kConfigFile, LineOf(node), "start is empty; remove it or give a command");
      }
      config.start = *start;
      config.start_source = kConfigFile;
    } else if (name == "include" || name == "exclude") {
      absl::StatusOr<std::vector<std::string>> globs = GlobList(node, name);
      if (!globs.ok()) return globs.status();
      (name == "include" ? config.include : config.exclude) = *std::move(globs);
    } else if (name == "build") {
      const toml::table* build = node.as_table();
      if (build == nullptr) return Bad(kConfigFile, LineOf(node), "build must be a table");
      if (absl::Status s = LoadBuildTable(*build, config); !s.ok()) return s;
    } else {
      return Bad(kConfigFile, LineOf(key),
                 absl::StrCat("unknown key \"", name,
                              "\" (known: subdirectory, port, start, include, exclude, [build])"));
    }
  }
  return absl::OkStatus();
}

// Heroku's format: "type: command" per line. Only `web` matters to Tempa; other types (worker,
// release...) are accepted and ignored, and a Procfile without `web` is fine.
absl::StatusOr<std::string> WebCommand(const std::string& text) {
  std::string web;
  int64_t web_line = 0;
  int64_t line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);  // also the \r of CRLF files
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    size_t colon = line.find(':');
    absl::string_view type = colon == absl::string_view::npos ? "" : line.substr(0, colon);
    bool valid_type = !type.empty();
    for (char c : type) valid_type &= absl::ascii_isalnum(c) || c == '_' || c == '-';
    if (!valid_type) {
      return Bad(kProcfile, line_no, "expected \"type: command\", such as \"web: ./server\"");
    }
    if (type != "web") continue;
    absl::string_view command = absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (command.empty()) return Bad(kProcfile, line_no, "web has no command");
    if (web_line != 0) {
      return Bad(kProcfile, line_no,
                 absl::StrCat("second web process type (the first is on line ", web_line, ")"));
    }
    web = std::string(command);
    web_line = line_no;
  }
  return web;
}

}  // namespace

absl::StatusOr<AppConfig> LoadAppConfig(const std::string& dir) {
  AppConfig config;
  absl::StatusOr<std::optional<std::string>> toml_text = ReadAppFile(dir, kConfigFile);
  if (!toml_text.ok()) return toml_text.status();
  if (*toml_text) {
    if (absl::Status s = LoadToml(dir, **toml_text, config); !s.ok()) return s;
  }
  absl::StatusOr<std::optional<std::string>> procfile = ReadAppFile(dir, kProcfile);
  if (!procfile.ok()) return procfile.status();
  if (*procfile) {
    absl::StatusOr<std::string> web = WebCommand(**procfile);
    if (!web.ok()) return web.status();
    if (config.start.empty() && !web->empty()) {  // tempa.toml's start wins
      config.start = *web;
      config.start_source = kProcfile;
    }
  }
  return config;
}

}  // namespace tempa::buildpacks
