#include "tests/deploy/local/local_fakes.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tempa::deploy::testing {

void Events::Add(const std::string& event) {
  absl::MutexLock lock(&mu_);
  events_.push_back(event);
}

std::vector<std::string> Events::All() const {
  absl::MutexLock lock(&mu_);
  return events_;
}

void Events::Clear() {
  absl::MutexLock lock(&mu_);
  events_.clear();
}

absl::Time FakeClock::Now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

void FakeClock::Advance(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  now_ += d;
}

std::string TestImage(const std::string& app, const std::string& version) {
  std::string hex = absl::BytesToHexString(app + "/" + version);
  hex.resize(64, '0');
  return absl::StrCat("127.0.0.1:5000/", app, "@sha256:", hex);
}

void FakeUnpacker::AddImage(const std::string& image, ImageRunConfig config) {
  absl::MutexLock lock(&mu_);
  images_[image] = std::move(config);
}

void FakeUnpacker::AddServingImage(const std::string& app, const std::string& version,
                                   const std::string& mode) {
  ImageRunConfig config;
  config.entrypoint = {"/app/server"};
  config.cmd = {"serve", version, mode};
  config.env = {"PATH=/usr/bin:/bin", "PORT=8080", "GREETING=hello"};
  config.user = "1000";
  AddImage(TestImage(app, version), config);
}

absl::StatusOr<UnpackedImage> FakeUnpacker::Unpack(absl::string_view image) {
  absl::MutexLock lock(&mu_);
  auto it = images_.find(std::string(image));
  if (it == images_.end()) return absl::NotFoundError(absl::StrCat("no image ", image));
  UnpackedImage out;
  out.manifest_digest = std::string(image.substr(image.find('@') + 1));
  out.rootfs = rootfs_dir_ + "/" + out.manifest_digest.substr(7, 12);
  out.config = it->second;
  if (unpacked_.insert(out.manifest_digest).second) ++pulls_;
  return out;
}

absl::Status FakeUnpacker::Prune(const std::vector<std::string>& keep) {
  absl::MutexLock lock(&mu_);
  for (auto it = unpacked_.begin(); it != unpacked_.end();) {
    if (std::find(keep.begin(), keep.end(), *it) == keep.end()) {
      it = unpacked_.erase(it);
    } else {
      ++it;
    }
  }
  return absl::OkStatus();
}

int FakeUnpacker::pulls() const {
  absl::MutexLock lock(&mu_);
  return pulls_;
}

bool FakeUnpacker::unpacked(const std::string& image) const {
  absl::MutexLock lock(&mu_);
  return unpacked_.count(image.substr(image.find('@') + 1)) != 0;
}

FakeRuntime::~FakeRuntime() {
  absl::MutexLock lock(&mu_);
  for (auto& [id, c] : containers_) Shutdown(c);
}

void FakeRuntime::Shutdown(Container& c) {
  if (c.server) {
    c.server->stop();
    c.thread.join();
    c.server.reset();
  }
}

void FakeRuntime::RendezvousStarts(int n) {
  absl::MutexLock lock(&mu_);
  rendezvous_ = n;
  if (n > 0) arrived_ = 0;
}

void FakeRuntime::BlockStart(const std::string& id) {
  absl::MutexLock lock(&mu_);
  blocked_id_ = id;
}

bool FakeRuntime::blocked() const {
  absl::MutexLock lock(&mu_);
  return blocked_;
}

int FakeRuntime::waiting() const {
  absl::MutexLock lock(&mu_);
  return rendezvous_ > 0 && arrived_ < rendezvous_ ? arrived_ : 0;
}

absl::Status FakeRuntime::Start(const ContainerSpec& spec) {
  absl::MutexLock lock(&mu_);
  if (containers_.count(spec.id) != 0) {
    return absl::AlreadyExistsError(absl::StrCat("container ", spec.id, " exists"));
  }
  ++starts_;
  specs_.push_back(spec);
  if (rendezvous_ > 0) {
    ++arrived_;
    auto all_here = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return rendezvous_ == 0 || arrived_ >= rendezvous_;
    };
    mu_.Await(absl::Condition(&all_here));
  }
  if (!blocked_id_.empty() && blocked_id_ == spec.id) {
    blocked_ = true;
    auto released = [this, &spec]()
                        ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return blocked_id_ != spec.id; };
    mu_.Await(absl::Condition(&released));
    blocked_ = false;
  }
  events_->Add("start " + spec.id);
  Container& c = containers_[spec.id];
  c.spec = spec;
  const std::string version = spec.args.size() > 2 ? spec.args[2] : "";
  const std::string mode = spec.args.size() > 3 ? spec.args[3] : "healthy";
  c.log = {absl::StrCat("starting ", version, " on port ", spec.port)};
  if (mode == "exit") {
    c.log.push_back("fatal: DATABASE_URL is not set");
    c.status.running = false;
    c.status.last_exit_code = 3;
    c.status.last_exit_reason = "exited with 3";
    return absl::OkStatus();
  }
  c.status.running = true;
  if (mode == "never") {
    c.log.push_back("waiting for the database...");
    return absl::OkStatus();
  }
  c.server = std::make_unique<httplib::Server>();
  Events* events = events_;
  std::string id = spec.id;
  c.server->Get("/healthz", [events, id](const httplib::Request&, httplib::Response& res) {
    events->Add("healthy " + id);
    res.set_content("ok", "text/plain");
  });
  c.server->Get("/", [version](const httplib::Request&, httplib::Response& res) {
    res.set_content(version, "text/plain");
  });
  if (!c.server->bind_to_port("127.0.0.1", spec.port)) {
    containers_.erase(spec.id);
    return absl::UnavailableError(absl::StrCat("port ", spec.port, " is taken"));
  }
  httplib::Server* server = c.server.get();
  c.thread = std::thread([server] { server->listen_after_bind(); });
  while (!server->is_running()) absl::SleepFor(absl::Milliseconds(1));
  return absl::OkStatus();
}

absl::Status FakeRuntime::Stop(absl::string_view id, absl::Duration) {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(std::string(id));
  if (it == containers_.end()) return absl::NotFoundError(absl::StrCat("no container ", id));
  events_->Add(absl::StrCat("stop ", id));
  Shutdown(it->second);
  containers_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<ContainerStatus> FakeRuntime::Status(absl::string_view id) {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(std::string(id));
  if (it == containers_.end()) return absl::NotFoundError(absl::StrCat("no container ", id));
  return it->second.status;
}

std::string FakeRuntime::LogTail(absl::string_view id, int lines) {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(std::string(id));
  if (it == containers_.end()) return "";
  const std::vector<std::string>& log = it->second.log;
  size_t from = log.size() > static_cast<size_t>(lines) ? log.size() - lines : 0;
  return absl::StrJoin(log.begin() + from, log.end(), "\n");
}

std::vector<std::string> FakeRuntime::List() {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> ids;
  for (const auto& [id, c] : containers_) ids.push_back(id);
  return ids;
}

void FakeRuntime::Lose(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return;
  Shutdown(it->second);
  containers_.erase(it);
}

int FakeRuntime::starts() const {
  absl::MutexLock lock(&mu_);
  return starts_;
}

std::vector<ContainerSpec> FakeRuntime::specs() const {
  absl::MutexLock lock(&mu_);
  return specs_;
}

bool FakeRuntime::running(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(id);
  return it != containers_.end() && it->second.status.running;
}

absl::Status FakeEdge::Apply(const std::vector<Route>& routes) {
  absl::MutexLock lock(&mu_);
  if (fail_next_) {
    fail_next_ = false;
    return absl::InternalError("nginx -t: unknown directive");
  }
  ++applies_;
  table_.clear();
  std::vector<std::string> parts;
  for (const Route& route : routes) {
    for (const std::string& host : route.hosts) {
      table_[host] = route.upstream_port;
      parts.push_back(absl::StrCat(host, "=", route.upstream_port));
    }
  }
  events_->Add("apply " + absl::StrJoin(parts, " "));
  return absl::OkStatus();
}

int FakeEdge::PortOf(const std::string& host) const {
  absl::MutexLock lock(&mu_);
  auto it = table_.find(host);
  return it == table_.end() ? 0 : it->second;
}

int FakeEdge::applies() const {
  absl::MutexLock lock(&mu_);
  return applies_;
}

void FakeEdge::FailNextApply() {
  absl::MutexLock lock(&mu_);
  fail_next_ = true;
}

std::string Fetch(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  auto res = client.Get("/");
  if (!res || res->status != 200) return "";
  return res->body;
}

}  // namespace tempa::deploy::testing
