#include "tests/support/pypi_index.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/support/temp_dir.h"

namespace tempa::testing {
namespace {

namespace fs = std::filesystem;

std::string Script() {
  const char* root = std::getenv("TEMPA_SOURCE_DIR");
  return std::string(root ? root : TEMPA_SOURCE_DIR) + "/tests/support/pypi/wheels.py";
}

// Runs argv with stdout captured into *out (stderr goes to the test's stderr).
absl::Status Run(const std::vector<std::string>& argv, std::string* out) {
  std::string capture = fs::temp_directory_path() / absl::StrCat("tempa-pypi-", getpid(), ".out");
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(capture.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, STDOUT_FILENO);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::ifstream in(capture);
  std::stringstream text;
  text << in.rdbuf();
  fs::remove(capture);
  *out = text.str();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(argv[0], " ", argv[1], " failed: ", *out));
  }
  return absl::OkStatus();
}

bool Answers(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

// PEP 503: the project name from a wheel's file name, normalised.
std::string ProjectOf(const std::string& wheel) {
  std::string name = fs::path(wheel).filename().string();
  name = name.substr(0, name.find('-'));
  std::string out;
  for (char c : name) {
    bool sep = c == '-' || c == '_' || c == '.';
    if (sep && !out.empty() && out.back() == '-') continue;
    out.push_back(sep ? '-' : absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> MakePureWheel(const std::string& out_dir, const std::string& name,
                                          const std::string& version,
                                          const std::vector<std::string>& requirements) {
  std::vector<std::string> argv = {"python3", Script(), "pure", out_dir, name, version};
  argv.insert(argv.end(), requirements.begin(), requirements.end());
  std::string out;
  if (absl::Status s = Run(argv, &out); !s.ok()) return s;
  return std::string(absl::StripAsciiWhitespace(out));
}

std::vector<std::string> FlaskAndGunicornSpecs() {
  return {"python3-flask@Werkzeug>=2.2.2,Jinja2>=3.0,itsdangerous>=2.0,click>=8.0",
          "python3-werkzeug@MarkupSafe>=2.1.1", "python3-jinja2@MarkupSafe>=2.0",
          "python3-markupsafe", "python3-itsdangerous", "python3-click", "python3-blinker",
          // Upstream gunicorn 20.1 requires setuptools (it imports pkg_resources).
          "python3-gunicorn@setuptools>=3.0", "python3-setuptools+python3-pkg-resources"};
}

std::vector<std::string> DjangoSpecs() {
  return {"python3-django@asgiref>=3.3.2,pytz,sqlparse>=0.2.2", "python3-whitenoise",
          "python3-asgiref", "python3-sqlparse", "python3-tz"};
}

std::vector<std::string> FastApiSpecs() {
  // Debian strips most Requires-Dist lines (its package dependencies replace them): put back
  // upstream's, and drop FastAPI's starlette<0.26 pin, which bookworm relaxed.
  return {"python3-fastapi@-starlette,starlette>=0.25.0",
          "python3-starlette@anyio>=3.4.0",
          "python3-pydantic@typing-extensions>=4.2.0",
          "python3-anyio@idna>=2.8,sniffio>=1.1",
          "python3-sniffio",
          "python3-idna",
          "python3-typing-extensions",
          "python3-jinja2@MarkupSafe>=2.0",
          "python3-markupsafe"};
}

std::vector<std::string> SuppliedServerSpecs() {
  return {"python3-gunicorn@setuptools>=3.0", "python3-setuptools+python3-pkg-resources",
          // Upstream uvicorn 0.17.6's requirements (Debian's are its package dependencies).
          "python3-uvicorn@asgiref>=3.4.0,click>=7.0,h11>=0.8", "python3-h11", "python3-click",
          "python3-asgiref"};
}

absl::StatusOr<std::vector<std::string>> MakeDebianWheels(const std::string& out_dir,
                                                          const std::vector<std::string>& specs) {
  std::vector<std::string> argv = {"python3", Script(), "debian", out_dir};
  argv.insert(argv.end(), specs.begin(), specs.end());
  std::string out;
  if (absl::Status s = Run(argv, &out); !s.ok()) return s;
  return std::vector<std::string>(absl::StrSplit(out, '\n', absl::SkipWhitespace()));
}

absl::StatusOr<std::unique_ptr<PypiIndex>> PypiIndex::Start(
    const std::string& root, const std::vector<std::string>& wheels) {
  std::error_code ec;
  std::map<std::string, std::vector<std::string>> projects;
  for (const std::string& wheel : wheels) {
    std::string project = ProjectOf(wheel);
    fs::create_directories(fs::path(root) / "simple" / project, ec);
    fs::copy_file(wheel, fs::path(root) / "simple" / project / fs::path(wheel).filename(),
                  fs::copy_options::overwrite_existing, ec);
    if (ec) return absl::InternalError(absl::StrCat("copy ", wheel, ": ", ec.message()));
    projects[project].push_back(fs::path(wheel).filename().string());
  }
  std::ofstream top(fs::path(root) / "simple" / "index.html");
  top << "<!DOCTYPE html>\n<html><body>\n";
  for (const auto& [project, files] : projects) {
    top << "<a href=\"" << project << "/\">" << project << "</a>\n";
    std::ofstream page(fs::path(root) / "simple" / project / "index.html");
    page << "<!DOCTYPE html>\n<html><body>\n";
    for (const std::string& f : files) page << "<a href=\"" << f << "\">" << f << "</a>\n";
    page << "</body></html>\n";
  }
  top << "</body></html>\n";
  top.close();

  // The port is picked then handed over, which can race: retry a few times.
  for (int attempt = 0; attempt < 5; ++attempt) {
    int port = PickFreePort();
    std::string port_text = absl::StrCat(port);
    std::string log = root + "/server.log";
    pid_t pid = fork();
    if (pid == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      execlp("python3", "python3", "-m", "http.server", port_text.c_str(), "--bind", "127.0.0.1",
             "--directory", root.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 100; ++i) {
      if (Answers(port)) return std::unique_ptr<PypiIndex>(new PypiIndex(pid, port));
      if (waitpid(pid, nullptr, WNOHANG) == pid) break;  // died: port taken, try another
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  return absl::UnavailableError("could not start python3 -m http.server on loopback");
}

PypiIndex::~PypiIndex() {
  kill(pid_, SIGTERM);
  waitpid(pid_, nullptr, 0);
}

std::string PypiIndex::url() const { return absl::StrCat("http://127.0.0.1:", port_, "/simple"); }

absl::StatusOr<std::unique_ptr<DebianWheelIndex>> DebianWheelIndex::Start(
    const std::string& wheel_cache, const std::vector<std::string>& specs) {
  absl::StatusOr<std::vector<std::string>> wheels = MakeDebianWheels(wheel_cache, specs);
  if (!wheels.ok()) return wheels.status();
  std::unique_ptr<DebianWheelIndex> index(new DebianWheelIndex());
  absl::StatusOr<std::unique_ptr<PypiIndex>> served =
      PypiIndex::Start(index->root_.path(), *wheels);
  if (!served.ok()) return served.status();
  index->index_ = *std::move(served);
  return index;
}

}  // namespace tempa::testing
