#include "tests/coordinator/core/coordinator_fixture.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tempa::coordinator::testing {

absl::StatusOr<std::string> FakeSealer::Seal(absl::string_view plaintext,
                                             absl::string_view record) const {
  std::string sealed = absl::StrCat(record, "|", plaintext);
  std::reverse(sealed.begin(), sealed.end());
  return sealed;
}

absl::StatusOr<std::string> FakeSealer::Open(absl::string_view sealed,
                                             absl::string_view record) const {
  std::string plain(sealed);
  std::reverse(plain.begin(), plain.end());
  std::string prefix = absl::StrCat(record, "|");
  if (plain.compare(0, prefix.size(), prefix) != 0) {
    return absl::DataLossError("sealed for another record");
  }
  return plain.substr(prefix.size());
}

CoordinatorOptions CoordinatorFixture::DefaultOptions() {
  CoordinatorOptions options;
  options.registry = "127.0.0.1:5999";
  options.scheduler.lease_ttl = absl::Seconds(30);
  options.tick = absl::Milliseconds(10);
  return options;
}

CoordinatorFixture::CoordinatorFixture(CoordinatorOptions options) : options_(std::move(options)) {
  std::string tokens = dir_.Join("tokens");
  {
    std::ofstream out(tokens);
    out << "admin " << kAdminToken << " operator\n"
        << "read-only " << kReaderToken << " dashboard\n"
        << "worker " << kWorkerToken << " fleet\n";
  }
  ::chmod(tokens.c_str(), 0600);
  absl::StatusOr<auth::Authorizer> authorizer = auth::Authorizer::FromTokenFile(tokens);
  EXPECT_TRUE(authorizer.ok()) << authorizer.status();
  authorizer_ = std::make_unique<auth::Authorizer>(*std::move(authorizer));
  Open();
}

CoordinatorFixture::~CoordinatorFixture() { Close(); }

void CoordinatorFixture::Open() {
  absl::StatusOr<std::unique_ptr<StateStore>> store = OpenRocksdbStateStore(data_dir());
  ASSERT_TRUE(store.ok()) << store.status();
  store_ = *std::move(store);
  coordinator_ = std::make_unique<Coordinator>(store_.get(), &sealer_, options_,
                                               [this] { return clock_.Now(); });
  ASSERT_TRUE(coordinator_->Start().ok());
  server_ = std::make_unique<CoordinatorServer>(coordinator_.get(), authorizer_.get());
  absl::StatusOr<int> port = server_->Start("127.0.0.1:0", grpc::InsecureServerCredentials());
  ASSERT_TRUE(port.ok()) << port.status();
  port_ = *port;
  channel_ = grpc::CreateChannel(target(), grpc::InsecureChannelCredentials());
}

void CoordinatorFixture::Close() {
  if (server_) server_->Shutdown(absl::ZeroDuration());
  if (coordinator_) coordinator_->Stop();
  server_.reset();
  coordinator_.reset();
  store_.reset();
  channel_.reset();
}

void CoordinatorFixture::Restart() {
  Close();
  Open();
}

std::unique_ptr<v1::ControlService::Stub> CoordinatorFixture::Control() {
  return v1::ControlService::NewStub(channel_);
}
std::unique_ptr<v1::WorkerService::Stub> CoordinatorFixture::Workers() {
  return v1::WorkerService::NewStub(channel_);
}
std::unique_ptr<v1::LayerCacheService::Stub> CoordinatorFixture::Layers() {
  return v1::LayerCacheService::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> CoordinatorFixture::Context(const std::string& token) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

}  // namespace tempa::coordinator::testing
