#include "worker/git/known_hosts.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tempa::worker {
namespace {

const std::string kKey = std::string("\0\0\0\x0bssh-ed25519\0\0\0\x20", 19) + std::string(32, 'k');
const std::string kOther =
    std::string("\0\0\0\x0bssh-ed25519\0\0\0\x20", 19) + std::string(32, 'o');

std::string Line(const std::string& hosts, const std::string& key) {
  return absl::StrCat(hosts, " ssh-ed25519 ", absl::Base64Escape(key), "\n");
}

TEST(KnownHostsTest, AcceptsOnlyTheListedKeyForTheHost) {
  std::string kh = Line("git.example.com,10.0.0.1", kKey);
  EXPECT_TRUE(CheckKnownHost(kh, "git.example.com", "", kKey).ok());
  EXPECT_TRUE(CheckKnownHost(kh, "10.0.0.1", "22", kKey).ok());
  absl::Status changed = CheckKnownHost(kh, "git.example.com", "", kOther);
  EXPECT_EQ(changed.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(changed.message().find("does not match"), absl::string_view::npos);
  absl::Status unknown = CheckKnownHost(kh, "evil.example.com", "", kKey);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(CheckKnownHost("", "git.example.com", "", kKey).ok());
}

TEST(KnownHostsTest, MatchesPortsWildcardsNegationAndHashedNames) {
  EXPECT_TRUE(CheckKnownHost(Line("[h]:2222", kKey), "h", "2222", kKey).ok());
  EXPECT_FALSE(CheckKnownHost(Line("h", kKey), "h", "2222", kKey).ok());
  EXPECT_TRUE(CheckKnownHost(Line("*.example.com", kKey), "a.example.com", "", kKey).ok());
  EXPECT_FALSE(
      CheckKnownHost(Line("*.example.com,!bad.example.com", kKey), "bad.example.com", "", kKey)
          .ok());
  std::string salt(20, 's');
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  std::string name = "hashed.example.com";
  HMAC(EVP_sha1(), salt.data(), 20, reinterpret_cast<const unsigned char*>(name.data()),
       name.size(), mac, &len);
  std::string hashed =
      absl::StrCat("|1|", absl::Base64Escape(salt), "|",
                   absl::Base64Escape(std::string(reinterpret_cast<char*>(mac), len)));
  EXPECT_TRUE(CheckKnownHost(Line(hashed, kKey), name, "", kKey).ok());
  EXPECT_FALSE(CheckKnownHost(Line(hashed, kKey), "other.example.com", "", kKey).ok());
}

TEST(KnownHostsTest, RevokedKeyIsRefusedEvenWhenAlsoListed) {
  std::string kh = Line("h", kKey) + "@revoked " + Line("h", kKey);
  EXPECT_FALSE(CheckKnownHost(kh, "h", "", kKey).ok());
}

}  // namespace
}  // namespace tempa::worker
