// Fakes of the local backend's parts for its tests: an ImageUnpacker that counts pulls, a
// ContainerRuntime whose "containers" are real HTTP servers on their loopback port (so the
// HealthChecker probes something real), an Edge that records its tables, and a fake clock.
// Runtime, edge and backend sleeps write into one Events log so tests can check their order.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "deploy/edge/edge.h"
#include "deploy/image/image_unpacker.h"
#include "deploy/runtime/container_runtime.h"
#include "httplib.h"

namespace tempa::deploy::testing {

class Events {
 public:
  void Add(const std::string& event);
  std::vector<std::string> All() const;
  void Clear();

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> events_ ABSL_GUARDED_BY(mu_);
};

class FakeClock {
 public:
  absl::Time Now() const;
  void Advance(absl::Duration d);

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = absl::FromUnixSeconds(1'800'000'000);
};

// Image "127.0.0.1:5000/APP@sha256:<hex>" runs the app's fake server. What it does comes from its
// Cmd: {"serve", VERSION, MODE} with MODE "healthy" (answers /healthz 200 and / with VERSION),
// "never" (prints a log and never listens) or "exit" (exits with 3 at once).
std::string TestImage(const std::string& app, const std::string& version);

class FakeUnpacker : public ImageUnpacker {
 public:
  explicit FakeUnpacker(std::string rootfs_dir) : rootfs_dir_(std::move(rootfs_dir)) {}
  void AddImage(const std::string& image, ImageRunConfig config);
  // An image whose Cmd runs VERSION in MODE (see TestImage).
  void AddServingImage(const std::string& app, const std::string& version,
                       const std::string& mode = "healthy");

  absl::StatusOr<UnpackedImage> Unpack(absl::string_view image) override;
  absl::Status Prune(const std::vector<std::string>& keep) override;

  int pulls() const;
  bool unpacked(const std::string& image) const;

 private:
  const std::string rootfs_dir_;
  mutable absl::Mutex mu_;
  std::map<std::string, ImageRunConfig> images_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> unpacked_ ABSL_GUARDED_BY(mu_);  // manifest digests
  int pulls_ ABSL_GUARDED_BY(mu_) = 0;
};

class FakeRuntime : public ContainerRuntime {
 public:
  explicit FakeRuntime(Events* events) : events_(events) {}
  ~FakeRuntime() override;

  absl::Status Start(const ContainerSpec& spec) override;
  absl::Status Stop(absl::string_view id, absl::Duration grace) override;
  absl::StatusOr<ContainerStatus> Status(absl::string_view id) override;
  std::string LogTail(absl::string_view id, int lines) override;
  std::vector<std::string> List() override;

  // The container vanishes as after a machine reboot (no Stop recorded).
  void Lose(const std::string& id);
  // Start blocks until `n` Starts are under way at once (to overlap two deploys); 0 lets
  // waiting Starts go.
  void RendezvousStarts(int n);
  int waiting() const;  // Starts blocked in the rendezvous
  // Start of container `id` blocks until UnblockStart; "" blocks none.
  void BlockStart(const std::string& id);
  void UnblockStart() { BlockStart(""); }
  bool blocked() const;  // a Start is waiting on BlockStart
  int starts() const;
  std::vector<ContainerSpec> specs() const;
  bool running(const std::string& id) const;

 private:
  struct Container {
    ContainerSpec spec;
    std::unique_ptr<httplib::Server> server;
    std::thread thread;
    ContainerStatus status;
    std::vector<std::string> log;
  };
  void Shutdown(Container& c);

  Events* const events_;
  mutable absl::Mutex mu_;
  std::map<std::string, Container> containers_ ABSL_GUARDED_BY(mu_);
  std::vector<ContainerSpec> specs_ ABSL_GUARDED_BY(mu_);
  int starts_ ABSL_GUARDED_BY(mu_) = 0;
  int rendezvous_ ABSL_GUARDED_BY(mu_) = 0;
  int arrived_ ABSL_GUARDED_BY(mu_) = 0;
  std::string blocked_id_ ABSL_GUARDED_BY(mu_);
  bool blocked_ ABSL_GUARDED_BY(mu_) = false;
};

class FakeEdge : public Edge {
 public:
  explicit FakeEdge(Events* events) : events_(events) {}
  absl::Status Apply(const std::vector<Route>& routes) override;
  std::string UrlFor(const std::string& host) const override { return "https://" + host; }

  // The upstream port of `host` in the last applied table; 0 when not routed.
  int PortOf(const std::string& host) const;
  int applies() const;
  void FailNextApply();

 private:
  Events* const events_;
  mutable absl::Mutex mu_;
  std::map<std::string, int> table_ ABSL_GUARDED_BY(mu_);
  int applies_ ABSL_GUARDED_BY(mu_) = 0;
  bool fail_next_ ABSL_GUARDED_BY(mu_) = false;
};

// GET http://127.0.0.1:PORT/ : the body, or "" when nothing answers.
std::string Fetch(int port);

}  // namespace tempa::deploy::testing
