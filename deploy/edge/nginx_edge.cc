#include "deploy/edge/nginx_edge.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/posix_status.h"
#include "common/status_macros.h"
#include "deploy/edge/nginx_config.h"
#include "deploy/edge/nginx_process.h"
#include "deploy/edge/private_files.h"
#include "deploy/edge/tls_material.h"

namespace tempa::deploy {
namespace {

constexpr absl::Duration kPoll = absl::Milliseconds(10);

std::string NewGeneration() {
  std::random_device rd;
  return absl::StrFormat("%08x%08x", rd(), rd());
}

size_t SizeOf(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
}

// error.log from `offset` on, its first 64 KiB at most (read from there: the log grows with
// every reload and this runs every poll).
std::string LogSince(const std::string& path, size_t offset) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return "";
  std::string out(64 << 10, '\0');
  ssize_t n = pread(fd.get(), out.data(), out.size(), static_cast<off_t>(offset));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

// The end of `text` for an error message.
std::string Tail(const std::string& text) {
  return text.size() > 2048 ? "..." + text.substr(text.size() - 2048) : text;
}

// The lines of `log` that say nginx could not do something ([emerg], [alert]).
std::string EmergLines(const std::string& log) {
  std::string out;
  size_t start = 0;
  while (start < log.size()) {
    size_t end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    std::string line = log.substr(start, end - start);
    if (line.find("[emerg]") != std::string::npos || line.find("[alert]") != std::string::npos)
      absl::StrAppend(&out, out.empty() ? "" : "\n", line);
    start = end + 1;
  }
  return out;
}

size_t WriteToString(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

NginxEdge::NginxEdge(NginxEdgeOptions options, std::string dir)
    : options_(std::move(options)), dir_(std::move(dir)) {}

absl::StatusOr<std::unique_ptr<NginxEdge>> NginxEdge::Create(NginxEdgeOptions options) {
  RETURN_IF_ERROR(Annotate(ValidateListen(options.listen), "edge"));
  if (options.work_dir.empty() || options.work_dir[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("edge work dir \"", options.work_dir, "\" must be an absolute path"));
  }
  while (options.work_dir.size() > 1 && options.work_dir.back() == '/') options.work_dir.pop_back();
  if (access(options.nginx_binary.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("nginx binary ", options.nginx_binary, " cannot be run (", strerror(errno),
                     "): install nginx (apt-get install nginx-light) or give its path"));
  }
  if (options.tls) {
    if (options.cert_path.empty() || options.key_path.empty()) {
      return absl::InvalidArgumentError(
          "edge TLS needs a certificate and a key: give a certificate dir or let the deployer "
          "make a self-signed CA");
    }
    RETURN_IF_ERROR(ValidateCertificateAndKey(options.cert_path, options.key_path));
  } else if (!options.http_redirect_listen.empty()) {
    return absl::InvalidArgumentError("an http redirect listener needs the edge to serve TLS");
  }
  const std::string dir = options.work_dir + "/edge";
  std::unique_ptr<NginxEdge> edge(new NginxEdge(options, dir));
  // Every option that reaches nginx.conf is checked now rather than at the first Apply.
  RETURN_IF_ERROR(Annotate(RenderNginxConfig(edge->Params("0"), {}).status(), "edge options"));
  if (NginxControlSocket(dir).size() >= sizeof(sockaddr_un{}.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("edge work dir ", options.work_dir, " is too long for a unix socket path (",
                     NginxControlSocket(dir), "): pick a shorter one"));
  }
  if (mkdir(options.work_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "mkdir", options.work_dir);
  }
  // 0711: nginx's workers (nobody) reach their temp dirs inside; they cannot list or read the
  // config (0600) or the keys.
  ASSIGN_OR_RETURN(UniqueFd dir_fd, OpenPrivateDir(dir, 0711));
  ASSIGN_OR_RETURN(UniqueFd tmp_fd, OpenPrivateDir(dir + "/tmp", 0711));
  auto pid_text = ReadFileBeneath(dir_fd.get(), dir, "nginx.pid", 64);
  int pid = 0;
  if (pid_text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*pid_text), &pid) &&
      IsNginxMasterFor(pid, edge->ConfPath())) {
    absl::MutexLock lock(&edge->mu_);
    edge->pid_ = pid;  // adopted: the next Apply reloads it
  } else {
    absl::MutexLock lock(&edge->mu_);
    edge->FindOurNginxLocked(/*stop_orphans=*/false);
  }
  return edge;
}

NginxConfigParams NginxEdge::Params(const std::string& generation) const {
  NginxConfigParams params;
  params.prefix = dir_;
  params.listen = options_.listen;
  params.tls = options_.tls;
  params.cert_path = options_.cert_path;
  params.key_path = options_.key_path;
  params.http_redirect_listen = options_.http_redirect_listen;
  params.worker_user = options_.worker_user;
  params.worker_group = options_.worker_group;
  params.worker_processes = options_.worker_processes;
  params.generation = generation;
  return params;
}

absl::StatusOr<std::string> NginxEdge::CheckConfig(const std::string& conf_path) const {
  ASSIGN_OR_RETURN(ExitedProcess run,
                   RunToExit({options_.nginx_binary, "-t", "-q", "-p", dir_ + "/", "-c", conf_path},
                             dir_ + "/nginx-test.log"));
  if (run.exit_code != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("nginx -t refused the new config (exit ", run.exit_code,
                     "); the old one stays live: ", absl::StripAsciiWhitespace(run.output)));
  }
  return run.output;
}

absl::Status NginxEdge::Apply(const std::vector<Route>& routes) {
  absl::MutexLock lock(&mu_);
  const std::string generation = NewGeneration();
  // Everything is checked before a byte is written.
  ASSIGN_OR_RETURN(std::string conf, RenderNginxConfig(Params(generation), routes));
  ASSIGN_OR_RETURN(UniqueFd dir_fd, OpenPrivateDir(dir_, 0711));
  RETURN_IF_ERROR(WriteFileAtomically(dir_fd.get(), dir_, "nginx.conf.next", conf, 0600));
  if (auto checked = CheckConfig(dir_ + "/nginx.conf.next"); !checked.ok()) {
    unlinkat(dir_fd.get(), "nginx.conf.next", 0);
    return checked.status();
  }
  auto previous = ReadFileBeneath(dir_fd.get(), dir_, "nginx.conf");
  if (renameat(dir_fd.get(), "nginx.conf.next", dir_fd.get(), "nginx.conf") != 0) {
    return ErrnoStatus(errno, "rename into place", ConfPath());
  }
  bool running = pid_ != 0 && IsNginxMasterFor(pid_, ConfPath());
  if (!running) {
    FindOurNginxLocked(/*stop_orphans=*/true);
    running = pid_ != 0;
  }
  struct stat log;
  if (fstatat(dir_fd.get(), "access.log", &log, AT_SYMLINK_NOFOLLOW) == 0 &&
      log.st_size > options_.rotate_access_log_bytes) {
    // Best effort: a log that cannot move grows on, and the config still goes live.
    renameat(dir_fd.get(), "access.log", dir_fd.get(), "access.log.1");
  }
  absl::Status status = running ? ReloadLocked(generation) : StartLocked(generation);
  if (!status.ok() && previous.ok()) {
    // nginx keeps the config it had: so does the file, for the next start.
    WriteFileAtomically(dir_fd.get(), dir_, "nginx.conf", *previous, 0600).IgnoreError();
  }
  return status;
}

void NginxEdge::FindOurNginxLocked(bool stop_orphans) {
  std::vector<pid_t> orphans;
  for (pid_t pid : ProcessesHoldingUnixSocket(NginxControlSocket(dir_))) {
    if (IsNginxMasterFor(pid, ConfPath())) {
      pid_ = pid;  // its pid file was lost
      return;
    }
    if (ProcessTitle(pid).rfind("nginx: ", 0) == 0) orphans.push_back(pid);
  }
  if (!stop_orphans || orphans.empty()) return;
  // Workers of a master that was killed: they would go on serving an old config and keep the
  // port from the nginx about to start. Idle ones leave at once on QUIT; the rest are killed.
  for (pid_t pid : orphans) kill(pid, SIGQUIT);
  const absl::Time quit_deadline = absl::Now() + absl::Seconds(5);
  for (int round = 0; round < 2; ++round) {
    for (pid_t pid : orphans) {
      while (ProcessAlive(pid) && absl::Now() < quit_deadline + absl::Seconds(5 * round)) {
        absl::SleepFor(kPoll);
      }
      if (round == 0 && ProcessAlive(pid)) kill(pid, SIGKILL);
    }
  }
}

absl::Status NginxEdge::StartLocked(const std::string& generation) {
  pid_ = 0;
  // No master of ours runs: a control socket left by one that was killed would make nginx's
  // bind() fail (nginx removes it only when it exits cleanly).
  const std::string socket = NginxControlSocket(dir_);
  struct stat st;
  if (lstat(socket.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && unlink(socket.c_str()) != 0) {
    return ErrnoStatus(errno, "remove the stale control socket", socket);
  }
  const size_t offset = SizeOf(dir_ + "/error.log");
  ASSIGN_OR_RETURN(ExitedProcess run,
                   RunToExit({options_.nginx_binary, "-p", dir_ + "/", "-c", ConfPath()},
                             dir_ + "/nginx-start.log"));
  if (run.exit_code != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "nginx did not start (exit ", run.exit_code, "): ", absl::StripAsciiWhitespace(run.output),
        " ", EmergLines(LogSince(dir_ + "/error.log", offset))));
  }
  // The daemon writes its pid file after the starting process exits.
  const absl::Time deadline = absl::Now() + options_.apply_timeout;
  while (true) {
    auto text = ReadFileAt(dir_ + "/nginx.pid", 64);
    int pid = 0;
    if (text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid) &&
        IsNginxMasterFor(pid, ConfPath())) {
      pid_ = pid;
      break;
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("nginx started but no master of ours appeared in ", dir_,
                       "/nginx.pid: ", Tail(LogSince(dir_ + "/error.log", offset))));
    }
    absl::SleepFor(kPoll);
  }
  return WaitLive(generation, {}, offset);
}

absl::Status NginxEdge::ReloadLocked(const std::string& generation) {
  const std::vector<pid_t> old_workers = ChildrenOf(pid_);
  const size_t offset = SizeOf(dir_ + "/error.log");
  if (kill(pid_, SIGHUP) != 0) {
    return ErrnoStatus(errno, "signal (SIGHUP) nginx master", absl::StrCat("pid ", pid_));
  }
  return WaitLive(generation, old_workers, offset);
}

absl::Status NginxEdge::WaitLive(const std::string& generation,
                                 const std::vector<pid_t>& old_workers, size_t log_offset) {
  const std::string log = dir_ + "/error.log";
  const absl::Time deadline = absl::Now() + options_.apply_timeout;
  while (true) {
    if (!ProcessAlive(pid_)) {
      return absl::UnavailableError(
          absl::StrCat("nginx (pid ", pid_, ") exited: ", Tail(LogSince(log, log_offset))));
    }
    // nginx retries a failed bind() five times, 500 ms apart, before it gives the reload up:
    // wait for its last word so that nothing of this attempt lands in the next one's log.
    if (std::string emerg = EmergLines(LogSince(log, log_offset));
        !emerg.empty() && (emerg.find("bind()") == std::string::npos ||
                           emerg.find("still could not bind") != std::string::npos)) {
      return absl::FailedPreconditionError(
          absl::StrCat("nginx could not load the new config; the old one stays live: ", emerg));
    }
    if (LiveGeneration() == generation) {
      bool old_gone = true;
      for (pid_t worker : old_workers) {
        if (ProcessAlive(worker) &&
            ProcessTitle(worker).find("shutting down") == std::string::npos) {
          old_gone = false;
        }
      }
      if (old_gone) return absl::OkStatus();
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("nginx did not serve config generation ", generation, " within ",
                       absl::FormatDuration(options_.apply_timeout),
                       "; its log: ", Tail(LogSince(log, log_offset))));
    }
    absl::SleepFor(kPoll);
  }
}

std::string NginxEdge::LiveGeneration() const {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return "";
  std::string body;
  const std::string socket = NginxControlSocket(dir_);
  const std::string url = absl::StrCat("http://tempa-edge-control", kGenerationPath);
  curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 2000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteToString);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  CURLcode rc = curl_easy_perform(curl);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK || code != 200) return "";
  return std::string(absl::StripAsciiWhitespace(body));
}

absl::Status NginxEdge::Stop() {
  absl::MutexLock lock(&mu_);
  if (pid_ == 0 || !IsNginxMasterFor(pid_, ConfPath())) {
    pid_ = 0;
    return absl::OkStatus();
  }
  const std::vector<pid_t> workers = ChildrenOf(pid_);
  if (kill(pid_, SIGQUIT) != 0 && errno != ESRCH) {
    return ErrnoStatus(errno, "signal (SIGQUIT) nginx master", absl::StrCat("pid ", pid_));
  }
  const absl::Time deadline = absl::Now() + options_.apply_timeout + absl::Seconds(60);
  while (true) {
    bool gone = !ProcessAlive(pid_);
    for (pid_t worker : workers) gone = gone && !ProcessAlive(worker);
    if (gone) break;
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "nginx (pid ", pid_, ") is still running after SIGQUIT: its workers did not finish"));
    }
    absl::SleepFor(kPoll);
  }
  pid_ = 0;
  return absl::OkStatus();
}

pid_t NginxEdge::master_pid() const {
  absl::MutexLock lock(&mu_);
  return pid_ != 0 && IsNginxMasterFor(pid_, ConfPath()) ? pid_ : 0;
}

std::string NginxEdge::UrlFor(const std::string& host) const {
  const std::string port = options_.listen.substr(options_.listen.rfind(':') + 1);
  const bool default_port = options_.tls ? port == "443" : port == "80";
  return absl::StrCat(options_.tls ? "https://" : "http://", host, default_port ? "" : ":" + port);
}

}  // namespace tempa::deploy
