// `tempa --tls-ca F`: the CLI talks TLS to a coordinator whose certificate that CA signed, sends
// its token over it, and names the problem when the certificate or the protocol does not match.
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/subprocess.h"
#include "tests/worker/farm_cli/farm_cli_harness.h"

namespace tempa::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A self-signed certificate for coordinator.test (its own CA), made with the openssl CLI.
struct SelfSigned {
  std::string cert_path;
  std::string key_pem;
  std::string cert_pem;
};

SelfSigned MakeCertificate(const TempDir& dir, const std::string& name) {
  SelfSigned out;
  out.cert_path = dir.Join(name + ".crt");
  std::string key = dir.Join(name + ".key");
  CommandResult r = RunCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
                                out.cert_path, "-days", "1", "-subj", "/CN=coordinator.test",
                                "-addext", "subjectAltName=DNS:coordinator.test"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  out.key_pem = ReadAll(key);
  out.cert_pem = ReadAll(out.cert_path);
  return out;
}

class FarmCliTlsTest : public FarmCliTest {
 protected:
  void SetUp() override {
    if (RunCommand({"openssl", "version"}).exit_code != 0) {
      GTEST_SKIP() << "the openssl command makes the test certificates: apt-get install openssl";
    }
    cert_ = MakeCertificate(dir_, "coordinator");
    tls_coordinator_ = std::make_unique<FakeCoordinator>(Credentials(cert_));
  }

  static std::shared_ptr<grpc::ServerCredentials> Credentials(const SelfSigned& cert) {
    grpc::SslServerCredentialsOptions options;
    options.pem_key_cert_pairs.push_back({cert.key_pem, cert.cert_pem});
    return grpc::SslServerCredentials(options);
  }

  CliResult RunTls(std::vector<std::string> args) {
    args.insert(args.begin(), {"--coordinator", tls_coordinator_->address()});
    return RunRaw(std::move(args));
  }

  SelfSigned cert_;
  std::unique_ptr<FakeCoordinator> tls_coordinator_;
};

TEST_F(FarmCliTlsTest, TalksTlsToACoordinatorTheGivenCaSignedAndSendsTheToken) {
  tls_coordinator_->service().RequireToken("tls-tok");
  env_["TEMPA_TOKEN"] = "tls-tok";
  CliResult r = RunTls(
      {"--tls-ca", cert_.cert_path, "--tls-server-name", "coordinator.test", "apps", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(tls_coordinator_->service().authorizations(), ElementsAre("Bearer tls-tok"));
}

TEST_F(FarmCliTlsTest, ACertificateFromAnotherCaIsNamedAsATlsProblem) {
  SelfSigned other = MakeCertificate(dir_, "other");
  CliResult r = RunTls(
      {"--tls-ca", other.cert_path, "--tls-server-name", "coordinator.test", "apps", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, StartsWith("tempa: cannot talk TLS to the coordinator at " +
                                tls_coordinator_->address()));
  EXPECT_THAT(r.err, HasSubstr("--tls-ca"));
}

TEST_F(FarmCliTlsTest, PlaintextToATlsCoordinatorSuggestsTlsCa) {
  CliResult r = RunTls({"apps", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("pass --tls-ca F"));
}

TEST_F(FarmCliTlsTest, AMissingCaFileIsNamed) {
  CliResult r = RunTls({"--tls-ca", dir_.Join("nope.pem"), "apps", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("read --tls-ca"));
}

}  // namespace
}  // namespace tempa::testing
