// The edge's TLS material: a self-signed CA made once, a server certificate for *.DOMAIN and
// DOMAIN that verifies against it and is issued again when it must be, operator dirs checked.
#include "deploy/edge/tls_material.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace tempa::deploy {
namespace {

using ::testing::HasSubstr;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

X509* ReadCert(const std::string& path) {
  FILE* f = fopen(path.c_str(), "r");
  if (f == nullptr) return nullptr;
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  fclose(f);
  return cert;
}

// Verifies the leaf of `chain_path` against `ca_path` for `host`, the way a TLS client does.
bool VerifiesFor(const std::string& chain_path, const std::string& ca_path,
                 const std::string& host) {
  X509* leaf = ReadCert(chain_path);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_load_file(store, ca_path.c_str());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host.c_str(), host.size());
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
  bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(leaf);
  return ok;
}

TEST(TlsMaterialTest, SelfSignedCertificateVerifiesForAnyAppUnderTheDomainAndTheDomain) {
  testing::TempDir tmp;
  const std::string dir = tmp.Join("tls");
  auto files = EnsureSelfSignedCertificate(dir, "apps.tempa.test");
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_TRUE(VerifiesFor(files->cert_path, files->ca_cert_path, "shop.apps.tempa.test"));
  EXPECT_TRUE(VerifiesFor(files->cert_path, files->ca_cert_path, "shop-1a2b3c4.apps.tempa.test"));
  EXPECT_TRUE(VerifiesFor(files->cert_path, files->ca_cert_path, "apps.tempa.test"));
  EXPECT_FALSE(VerifiesFor(files->cert_path, files->ca_cert_path, "shop.other.test"));
  EXPECT_FALSE(VerifiesFor(files->cert_path, files->ca_cert_path, "a.b.apps.tempa.test"));
}

TEST(TlsMaterialTest, KeysAreReadableOnlyByTheOwnerAndTheDirIsPrivate) {
  testing::TempDir tmp;
  const std::string dir = tmp.Join("tls");
  ASSERT_TRUE(EnsureSelfSignedCertificate(dir, "tempa.test").ok());
  EXPECT_EQ(ModeOf(dir), 0700u);
  EXPECT_EQ(ModeOf(dir + "/ca.key"), 0600u);
  EXPECT_EQ(ModeOf(dir + "/server.key"), 0600u);
  EXPECT_EQ(ModeOf(dir + "/ca.crt"), 0644u);
  EXPECT_EQ(ModeOf(dir + "/server.crt"), 0644u);
}

TEST(TlsMaterialTest, TheCaIsMadeOnceAndTheServerCertificateKeptWhileItIsGood) {
  testing::TempDir tmp;
  const std::string dir = tmp.Join("tls");
  ASSERT_TRUE(EnsureSelfSignedCertificate(dir, "tempa.test").ok());
  const std::string ca = Slurp(dir + "/ca.crt");
  const std::string server = Slurp(dir + "/server.crt");
  ASSERT_TRUE(EnsureSelfSignedCertificate(dir, "tempa.test", absl::Now() + absl::Hours(24)).ok());
  EXPECT_EQ(Slurp(dir + "/ca.crt"), ca);
  EXPECT_EQ(Slurp(dir + "/server.crt"), server);
}

TEST(TlsMaterialTest, ServerCertificateIsIssuedAgainForANewDomainBySameCa) {
  testing::TempDir tmp;
  const std::string dir = tmp.Join("tls");
  ASSERT_TRUE(EnsureSelfSignedCertificate(dir, "one.test").ok());
  const std::string ca = Slurp(dir + "/ca.crt");
  auto files = EnsureSelfSignedCertificate(dir, "two.test");
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(Slurp(dir + "/ca.crt"), ca);
  EXPECT_TRUE(VerifiesFor(files->cert_path, files->ca_cert_path, "app.two.test"));
  EXPECT_FALSE(VerifiesFor(files->cert_path, files->ca_cert_path, "app.one.test"));
}

TEST(TlsMaterialTest, ServerCertificateIsIssuedAgainWithinThirtyDaysOfExpiry) {
  testing::TempDir tmp;
  const std::string dir = tmp.Join("tls");
  ASSERT_TRUE(EnsureSelfSignedCertificate(dir, "tempa.test").ok());
  const std::string server = Slurp(dir + "/server.crt");
  // 340 days on, the 365-day certificate has 25 days left.
  const absl::Time later = absl::Now() + absl::Hours(24 * 340);
  ASSERT_TRUE(EnsureSelfSignedCertificate(dir, "tempa.test", later).ok());
  EXPECT_NE(Slurp(dir + "/server.crt"), server);
  X509* leaf = ReadCert(dir + "/server.crt");
  ASSERT_NE(leaf, nullptr);
  time_t at = absl::ToTimeT(later + absl::Hours(24 * 300));
  EXPECT_GT(X509_cmp_time(X509_get0_notAfter(leaf), &at), 0);
  X509_free(leaf);
}

TEST(TlsMaterialTest, RefusesADirThatIsASymlink) {
  testing::TempDir tmp;
  ASSERT_EQ(mkdir(tmp.Join("elsewhere").c_str(), 0700), 0);
  ASSERT_EQ(symlink(tmp.Join("elsewhere").c_str(), tmp.Join("tls").c_str()), 0);
  EXPECT_FALSE(EnsureSelfSignedCertificate(tmp.Join("tls"), "tempa.test").ok());
}

TEST(TlsMaterialTest, OperatorDirWithCertbotNamesIsAccepted) {
  testing::TempDir tmp;
  auto made = EnsureSelfSignedCertificate(tmp.Join("made"), "tempa.test");
  ASSERT_TRUE(made.ok());
  ASSERT_EQ(mkdir(tmp.Join("op").c_str(), 0700), 0);
  testing::WriteFileOrDie(tmp.Join("op/fullchain.pem"), Slurp(made->cert_path));
  testing::WriteFileOrDie(tmp.Join("op/privkey.pem"), Slurp(made->key_path));
  auto files = LoadOperatorCertificateDir(tmp.Join("op"));
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->cert_path, tmp.Join("op/fullchain.pem"));
  EXPECT_EQ(files->key_path, tmp.Join("op/privkey.pem"));
}

TEST(TlsMaterialTest, OperatorDirWithAKeyOfAnotherCertificateIsRefusedNamingTheFile) {
  testing::TempDir tmp;
  auto a = EnsureSelfSignedCertificate(tmp.Join("a"), "tempa.test");
  auto b = EnsureSelfSignedCertificate(tmp.Join("b"), "tempa.test");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(mkdir(tmp.Join("op").c_str(), 0700), 0);
  testing::WriteFileOrDie(tmp.Join("op/tls.crt"), Slurp(a->cert_path));
  testing::WriteFileOrDie(tmp.Join("op/tls.key"), Slurp(b->key_path));
  auto files = LoadOperatorCertificateDir(tmp.Join("op"));
  ASSERT_FALSE(files.ok());
  EXPECT_THAT(files.status().message(), HasSubstr(tmp.Join("op/tls.key")));
  EXPECT_THAT(files.status().message(), HasSubstr("not the private key"));
}

TEST(TlsMaterialTest, OperatorCertificateThatHasExpiredIsRefused) {
  testing::TempDir tmp;
  auto made = EnsureSelfSignedCertificate(tmp.Join("made"), "tempa.test");
  ASSERT_TRUE(made.ok());
  auto status = ValidateCertificateAndKey(made->cert_path, made->key_path,
                                          absl::Now() + absl::Hours(24 * 400));
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("has expired"));
  EXPECT_THAT(status.message(), HasSubstr(made->cert_path));
}

TEST(TlsMaterialTest, OperatorDirWithoutKnownNamesSaysWhichNamesItWants) {
  testing::TempDir tmp;
  testing::WriteFileOrDie(tmp.Join("cert.pem"), "not a cert");
  auto files = LoadOperatorCertificateDir(tmp.path());
  ASSERT_FALSE(files.ok());
  EXPECT_THAT(files.status().message(), HasSubstr("fullchain.pem + privkey.pem"));
  EXPECT_THAT(files.status().message(), HasSubstr("tls.crt + tls.key"));
}

TEST(TlsMaterialTest, OperatorFileThatIsNotPemIsRefusedNamingIt) {
  testing::TempDir tmp;
  testing::WriteFileOrDie(tmp.Join("tls.crt"), "garbage");
  testing::WriteFileOrDie(tmp.Join("tls.key"), "garbage");
  auto files = LoadOperatorCertificateDir(tmp.path());
  ASSERT_FALSE(files.ok());
  EXPECT_THAT(files.status().message(), HasSubstr(tmp.Join("tls.crt")));
}

TEST(TlsMaterialTest, AnOperatorDirWinsOverTheSelfSignedCa) {
  testing::TempDir tmp;
  auto self = ResolveEdgeTls("", tmp.Join("self"), "tempa.test");
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_EQ(self->ca_cert_path, tmp.Join("self/ca.crt"));
  ASSERT_EQ(mkdir(tmp.Join("op").c_str(), 0700), 0);
  testing::WriteFileOrDie(tmp.Join("op/tls.crt"), Slurp(self->cert_path));
  testing::WriteFileOrDie(tmp.Join("op/tls.key"), Slurp(self->key_path));
  auto op = ResolveEdgeTls(tmp.Join("op"), tmp.Join("unused"), "tempa.test");
  ASSERT_TRUE(op.ok()) << op.status();
  EXPECT_EQ(op->cert_path, tmp.Join("op/tls.crt"));
  EXPECT_EQ(op->ca_cert_path, "");
  struct stat st;
  EXPECT_NE(stat(tmp.Join("unused").c_str(), &st), 0);
  // A broken operator dir is an error, not a silent fallback to the self-signed CA.
  testing::WriteFileOrDie(tmp.Join("op/tls.key"), "garbage");
  EXPECT_FALSE(ResolveEdgeTls(tmp.Join("op"), tmp.Join("unused"), "tempa.test").ok());
}

TEST(DnsNameTest, AcceptsDnsLabelsAndRefusesAnythingElse) {
  for (const char* good : {"a", "app.tempa.test", "shop-1a2b3c4.apps.example.com", "x1-y.z"}) {
    EXPECT_TRUE(ValidateDnsName(good).ok()) << good;
  }
  for (const char* bad : {"", "a;b", "x y", "a\nb", "A.test", "-a.test", "a-.test", "a..b", "a.",
                          ".a", "*.a.test", "a_b.test", "a/b", "a{b}", "$host"}) {
    EXPECT_FALSE(ValidateDnsName(bad).ok()) << bad;
  }
  EXPECT_FALSE(ValidateDnsName(std::string(64, 'a') + ".test").ok());
  EXPECT_TRUE(ValidateDnsName(std::string(63, 'a') + ".test").ok());
}

}  // namespace
}  // namespace tempa::deploy
