// Signature checks, push parsing and repository-URL matching, fed what GitHub (or an attacker)
// sends.
#include "coordinator/webhook/github_webhook.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/coordinator/webhook/webhook_fixture.h"

namespace tempa::coordinator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::PushFixture;

// GitHub's documented example ("Validating webhook deliveries") and RFC 4231 test case 2, both
// also checked with `openssl dgst -sha256 -hmac`.
constexpr char kGithubSecret[] = "It's a Secret to Everybody";
constexpr char kGithubBody[] = "Hello, World!";
constexpr char kGithubSignature[] =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

TEST(VerifyGithubSignatureTest, AcceptsGithubsDocumentedExample) {
  EXPECT_TRUE(VerifyGithubSignature(kGithubSecret, kGithubBody, kGithubSignature));
}

TEST(VerifyGithubSignatureTest, AcceptsRfc4231Vector) {
  EXPECT_TRUE(VerifyGithubSignature(
      "Jefe", "what do ya want for nothing?",
      "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
}

TEST(VerifyGithubSignatureTest, GithubSignatureProducesWhatVerifies) {
  EXPECT_EQ(GithubSignature(kGithubSecret, kGithubBody), kGithubSignature);
  std::string body = PushFixture().dump();
  EXPECT_TRUE(VerifyGithubSignature("s3cret", body, GithubSignature("s3cret", body)));
}

TEST(VerifyGithubSignatureTest, RefusesTheWrongSecret) {
  EXPECT_FALSE(VerifyGithubSignature("It's a secret to everybody", kGithubBody, kGithubSignature));
}

TEST(VerifyGithubSignatureTest, RefusesAnAlteredBody) {
  EXPECT_FALSE(VerifyGithubSignature(kGithubSecret, "Hello, World?", kGithubSignature));
  EXPECT_FALSE(VerifyGithubSignature(kGithubSecret, "Hello, World! ", kGithubSignature));
}

TEST(VerifyGithubSignatureTest, AcceptsUppercaseHexDigits) {
  std::string upper = absl::StrCat("sha256=", absl::AsciiStrToUpper(kGithubSignature + 7));
  EXPECT_TRUE(VerifyGithubSignature(kGithubSecret, kGithubBody, upper));
}

TEST(VerifyGithubSignatureTest, RefusesMalformedHeaders) {
  const std::string hex = kGithubSignature + 7;
  for (const std::string& header : {
           std::string(""),
           hex,                                            // no prefix
           "sha1=" + hex,                                  // another algorithm
           "SHA256=" + hex,                                // prefix in another case
           "sha256=" + hex.substr(0, 63),                  // truncated
           "sha256=" + hex + "0",                          // one digit too many
           "sha256=" + hex.substr(0, 62) + "zz",           // not hex
           "sha256= " + hex.substr(1),                     // space inside
           " sha256=" + hex,                               // leading space
           "sha256=" + hex + "\n",                         // trailing newline
           std::string("sha256=") + std::string(64, '0'),  // well formed, wrong
       }) {
    EXPECT_FALSE(VerifyGithubSignature(kGithubSecret, kGithubBody, header)) << header;
  }
}

TEST(VerifyGithubSignatureTest, AnEmptySecretNeverVerifies) {
  EXPECT_FALSE(VerifyGithubSignature("", kGithubBody, GithubSignature("", kGithubBody)));
}

TEST(ParseGithubPushTest, ReadsTheFieldsOfARealPushPayload) {
  absl::StatusOr<GithubPush> push = ParseGithubPush(PushFixture().dump());
  ASSERT_TRUE(push.ok()) << push.status();
  EXPECT_EQ(push->ref, "refs/heads/main");
  EXPECT_EQ(push->branch, "main");
  EXPECT_EQ(push->before, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
  EXPECT_EQ(push->after, testing::kAfter);  // the fixture's uppercase id, lowercased
  EXPECT_FALSE(push->deleted);
  EXPECT_EQ(push->repository.full_name, "Octo-Org/hello-go");
  EXPECT_EQ(push->repository.default_branch, "main");
  EXPECT_THAT(push->repository.Urls(), ElementsAre("https://github.com/Octo-Org/hello-go.git",
                                                   "git@github.com:Octo-Org/hello-go.git",
                                                   "git://github.com/Octo-Org/hello-go.git",
                                                   "https://github.com/Octo-Org/hello-go"));
  EXPECT_EQ(push->head_commit_id, testing::kAfter);
  EXPECT_EQ(push->head_commit_message, "Serve /healthz\n\nThe load balancer probes it.");
  EXPECT_EQ(push->pusher, "Codertocat");
}

TEST(ParseGithubPushTest, ATagPushHasNoBranch) {
  nlohmann::json doc = PushFixture();
  doc["ref"] = "refs/tags/v1.0.0";
  absl::StatusOr<GithubPush> push = ParseGithubPush(doc.dump());
  ASSERT_TRUE(push.ok()) << push.status();
  EXPECT_EQ(push->branch, "");
  EXPECT_EQ(push->ref, "refs/tags/v1.0.0");
}

TEST(ParseGithubPushTest, ABranchDeletionIsMarkedDeleted) {
  nlohmann::json doc = PushFixture();
  doc["after"] = std::string(40, '0');
  doc["deleted"] = true;
  doc["head_commit"] = nullptr;
  absl::StatusOr<GithubPush> push = ParseGithubPush(doc.dump());
  ASSERT_TRUE(push.ok()) << push.status();
  EXPECT_TRUE(push->deleted);
  EXPECT_EQ(push->head_commit_id, "");

  // The zero commit alone says so too (a forge that sends no "deleted").
  doc.erase("deleted");
  EXPECT_TRUE(ParseGithubPush(doc.dump())->deleted);
}

TEST(ParseGithubPushTest, MissingUrlsAreEmptyAndOneIsEnough) {
  nlohmann::json doc = PushFixture();
  auto& repo = doc["repository"];
  repo.erase("clone_url");
  repo.erase("git_url");
  repo["html_url"] = nullptr;
  absl::StatusOr<GithubPush> push = ParseGithubPush(doc.dump());
  ASSERT_TRUE(push.ok()) << push.status();
  EXPECT_THAT(push->repository.Urls(), ElementsAre("git@github.com:Octo-Org/hello-go.git"));

  repo.erase("ssh_url");
  EXPECT_THAT(ParseGithubPush(doc.dump()).status().message(), HasSubstr("repository"));
}

TEST(ParseGithubPushTest, LongCommitMessageIsCutOnACharacterBoundary) {
  nlohmann::json doc = PushFixture();
  // "é" is two bytes: 1023 'a' then é would straddle the limit.
  doc["head_commit"]["message"] = std::string(kMaxCommitMessageBytes - 1, 'a') + "\xc3\xa9tail";
  absl::StatusOr<GithubPush> push = ParseGithubPush(doc.dump());
  ASSERT_TRUE(push.ok()) << push.status();
  EXPECT_EQ(push->head_commit_message, std::string(kMaxCommitMessageBytes - 1, 'a'));
}

TEST(ParseGithubPushTest, MalformedJsonIsInvalidArgument) {
  for (const std::string& body :
       {std::string(""), std::string("{"), std::string("not json"), std::string("[1,2]"),
        std::string("\"ref\""), PushFixture().dump().substr(0, 300)}) {
    absl::StatusOr<GithubPush> push = ParseGithubPush(body);
    EXPECT_TRUE(absl::IsInvalidArgument(push.status())) << body << ": " << push.status();
  }
}

// Each case: one field replaced (or removed), and the name the error must give.
struct BadField {
  std::string pointer;   // JSON pointer into the fixture
  nlohmann::json value;  // discarded() = remove the field
  std::string named;
};

TEST(ParseGithubPushTest, AWrongTypedOrMissingFieldIsNamed) {
  const nlohmann::json remove = nlohmann::json(nlohmann::json::value_t::discarded);
  std::vector<BadField> cases = {
      {"/ref", 42, "field ref"},
      {"/ref", remove, "field ref"},
      {"/ref", "refs/heads/a\nb", "field ref"},
      {"/before", remove, "field before"},
      {"/after", "0d1a26e", "field after"},
      {"/after", std::string(39, 'a') + "g", "field after"},
      {"/after", {{"id", "x"}}, "field after"},
      {"/deleted", "yes", "field deleted"},
      {"/repository", "https://github.com/x/y", "field repository"},
      {"/repository", remove, "field repository"},
      {"/repository/clone_url", 7, "field repository.clone_url"},
      {"/repository/full_name", nlohmann::json::array(), "field repository.full_name"},
      {"/head_commit", "abc", "field head_commit"},
      {"/head_commit/message", 1.5, "field head_commit.message"},
      {"/pusher", "someone", "field pusher"},
      {"/pusher/name", false, "field pusher.name"},
  };
  for (const BadField& c : cases) {
    nlohmann::json doc = PushFixture();
    nlohmann::json::json_pointer ptr(c.pointer);
    if (c.value.is_discarded()) {
      doc[ptr.parent_pointer()].erase(ptr.back());
    } else {
      doc[ptr] = c.value;
    }
    absl::StatusOr<GithubPush> push = ParseGithubPush(doc.dump());
    EXPECT_TRUE(absl::IsInvalidArgument(push.status())) << c.pointer << ": " << push.status();
    EXPECT_THAT(push.status().message(), HasSubstr(c.named)) << c.pointer;
  }
}

TEST(ParseGithubPushTest, DeeplyNestedOrHugeArraysDoNotCrash) {
  // A megabyte of nesting: the parser and the document's destructor must not recurse on it.
  std::string deep = std::string(500000, '[') + std::string(500000, ']');
  EXPECT_TRUE(absl::IsInvalidArgument(ParseGithubPush(deep).status()));
  nlohmann::json doc = PushFixture();
  std::string body = doc.dump();
  body.insert(body.size() - 1, ",\"junk\":" + std::string(400000, '[') + std::string(400000, ']'));
  absl::StatusOr<GithubPush> push = ParseGithubPush(body);
  ASSERT_TRUE(push.ok()) << push.status();  // unknown fields are skipped, however deep
  EXPECT_EQ(push->branch, "main");

  std::string wide = "{\"commits\":[";
  for (int i = 0; i < 100000; ++i) absl::StrAppend(&wide, i ? "," : "", "[1,2,3]");
  wide += "]}";
  EXPECT_THAT(ParseGithubPush(wide).status().message(), HasSubstr("field ref"));
}

TEST(ParseGithubPingRepositoryTest, AnOrganizationPingNamesNoRepository) {
  EXPECT_TRUE(absl::IsNotFound(
      ParseGithubPingRepository(R"({"zen":"Keep it logically awesome.","hook_id":1})").status()));
  absl::StatusOr<GithubRepository> repo = ParseGithubPingRepository(
      R"({"zen":"z","repository":{"clone_url":"https://github.com/o/r.git"}})");
  ASSERT_TRUE(repo.ok()) << repo.status();
  EXPECT_EQ(repo->clone_url, "https://github.com/o/r.git");
}

TEST(RepoUrlTest, TrailingGitAndSlashAreIgnored) {
  EXPECT_TRUE(RepoUrlsMatch("https://github.com/o/r.git", "https://github.com/o/r"));
  EXPECT_TRUE(RepoUrlsMatch("https://github.com/o/r/", "https://github.com/o/r.git"));
  EXPECT_TRUE(RepoUrlsMatch("https://github.com/o/r.git/", "https://github.com/o/r"));
  EXPECT_TRUE(RepoUrlsMatch("git@github.com:o/r.git", "git@github.com:o/r"));
  EXPECT_TRUE(RepoUrlsMatch("file:///srv/git/app.git", "file:///srv/git/app/"));
  EXPECT_TRUE(RepoUrlsMatch(" https://github.com/o/r\n", "https://github.com/o/r"));
}

TEST(RepoUrlTest, SchemeAndHostCaseIsIgnoredPathCaseIsNot) {
  EXPECT_TRUE(RepoUrlsMatch("HTTPS://GitHub.COM/Octo/Repo", "https://github.com/Octo/Repo.git"));
  EXPECT_TRUE(RepoUrlsMatch("git@GitHub.com:Octo/Repo.git", "git@github.com:Octo/Repo"));
  EXPECT_FALSE(RepoUrlsMatch("https://github.com/octo/repo", "https://github.com/Octo/Repo"));
  EXPECT_FALSE(RepoUrlsMatch("file:///srv/App", "file:///srv/app"));
  // The user name is not the host: its case is kept.
  EXPECT_EQ(NormalizeRepoUrl("ssh://Git@Example.COM:2222/Team/App.git"),
            "ssh://Git@example.com:2222/Team/App");
}

TEST(RepoUrlTest, DifferentRepositoriesDoNotMatch) {
  EXPECT_FALSE(RepoUrlsMatch("https://github.com/o/r", "https://github.com/o/r2"));
  EXPECT_FALSE(RepoUrlsMatch("https://github.com/o/r", "http://github.com/o/r"));
  EXPECT_FALSE(RepoUrlsMatch("https://github.com/o/r", "git@github.com:o/r"));
  EXPECT_FALSE(RepoUrlsMatch("https://github.com/o/r", "https://gitlab.com/o/r"));
  EXPECT_FALSE(RepoUrlsMatch("", ""));
  EXPECT_FALSE(RepoUrlsMatch("/", ".git"));
}

}  // namespace
}  // namespace tempa::coordinator
