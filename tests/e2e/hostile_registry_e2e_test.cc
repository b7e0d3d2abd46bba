// `tempa build` against registries that misbehave on purpose: each answer is a clear push (or
// run-image pull) failure naming the registry, never a crash, with no credential sent where it
// does not belong and nothing half-written left in the cache.
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/fake_registry.h"

namespace tempa::testing {
namespace {

const std::map<std::string, std::string> kCredentials = {{"TEMPA_REGISTRY_USERNAME", "tempa"},
                                                         {"TEMPA_REGISTRY_PASSWORD", "s3cret"}};

class HostileRegistryE2eTest : public TempaE2eTest {
 protected:
  CommandResult Build(const std::string& image, std::map<std::string, std::string> env = {},
                      const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"build",       CopyExample("go-hello", "app"),
                                     "--image",     image,
                                     "--cache-dir", tmp_.Join("cache"),
                                     "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Tempa(args, std::move(env));
  }
};

TEST_F(HostileRegistryE2eTest, AnErrorBodyWithANumericCodeIsAPushFailure) {
  FakeRegistry fake({.fail_all_status = 400,
                     .fail_version_check = true,
                     .failure_body = R"({"errors":[{"code":1}]})"});
  CommandResult r = Build(fake.host_port() + "/app");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(ErrorOf(r)["kind"], "push") << r.out;
  EXPECT_TRUE(absl::StrContains(r.err, "registry " + fake.host_port() + " answered 400")) << r.err;
}

TEST_F(HostileRegistryE2eTest, AFiveGibAnswerIsAPushFailureAndIsNotRead) {
  FakeRegistry fake({.fail_all_status = 400,
                     .fail_version_check = true,
                     .failure_body_bytes = uint64_t{5} << 30});
  CommandResult r = Build(fake.host_port() + "/app");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(ErrorOf(r)["kind"], "push") << r.out;
  EXPECT_TRUE(absl::StrContains(r.err, fake.host_port())) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "larger than 64 KiB")) << r.err;
}

TEST_F(HostileRegistryE2eTest, ATokenRealmOnAnotherHostGetsNoCredentials) {
  FakeRegistry other({.address = "127.0.0.2"});
  FakeRegistry fake({.auth = FakeRegistry::Auth::kBearer,
                     .token_realm = "http://" + other.host_port() + "/token"});
  CommandResult r = Build(fake.host_port() + "/app", kCredentials);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(ErrorOf(r)["kind"], "push") << r.out;
  EXPECT_TRUE(absl::StrContains(r.err, "token realm on another host (127.0.0.2)")) << r.err;
  EXPECT_EQ(other.token_requests(), 0);
}

TEST_F(HostileRegistryE2eTest, APlainHttpTokenRealmElsewhereIsRefused) {
  FakeRegistry fake(
      {.auth = FakeRegistry::Auth::kBearer, .token_realm = "http://auth.example.com/token"});
  CommandResult r = Build(fake.host_port() + "/app", kCredentials);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(ErrorOf(r)["kind"], "push") << r.out;
  EXPECT_TRUE(absl::StrContains(r.err, "plain http")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "nothing was sent")) << r.err;
}

TEST_F(HostileRegistryE2eTest, ARunImageBlobLongerThanItsDescriptorFailsAndLeavesNoTempFile) {
  FakeRegistry fake({.blob_suffix = "and more"});
  std::string config = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers",)"
                       R"("diff_ids":[]}})";
  fake.AddBlob("base", config);
  fake.AddManifest(
      "base", "v1", "application/vnd.oci.image.manifest.v1+json",
      absl::StrCat(
          R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)",
          R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json",)", R"("digest":")",
          Sha256Of(config).ToString(), R"(","size":)", config.size(), R"(},"layers":[]})"));
  CommandResult r = Build(registry() + "/app", {}, {"--run-image", fake.host_port() + "/base:v1"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(ErrorOf(r)["step"], "run-image") << r.out;
  EXPECT_TRUE(absl::StrContains(r.err, "registry " + fake.host_port() + " sent more than"))
      << r.err;
  EXPECT_TRUE(ListFiles(tmp_.Join("cache") + "/cas/tmp").empty());
}

}  // namespace
}  // namespace tempa::testing
