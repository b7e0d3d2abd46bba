#include "coordinator/auth/token_file.h"

#include <sys/stat.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace tempa::coordinator::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAdminToken[] = "adm-0123456789abcdef";
constexpr char kWorkerToken[] = "wrk-0123456789abcdef";

TEST(TokenFileTest, ParsesRolesTokensNamesCommentsAndBlankLines) {
  std::string contents = absl::StrCat(
      "# the farm's tokens\n"
      "\n"
      "admin ",
      kAdminToken,
      " alice\n"
      "   # indented comment\n"
      "worker\t",
      kWorkerToken,
      "\r\n"
      "read-only ro-0123456789abcdef dashboard\n");
  absl::StatusOr<std::vector<TokenEntry>> entries = ParseTokenFile(contents, "tokens");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].role, Role::kAdmin);
  EXPECT_EQ((*entries)[0].token, kAdminToken);
  EXPECT_EQ((*entries)[0].name, "alice");
  EXPECT_EQ((*entries)[0].line, 3);
  EXPECT_EQ((*entries)[1].role, Role::kWorker);
  EXPECT_EQ((*entries)[1].token, kWorkerToken);
  EXPECT_EQ((*entries)[1].name, "");
  EXPECT_EQ((*entries)[1].line, 5);
  EXPECT_EQ((*entries)[2].role, Role::kReadOnly);
  EXPECT_EQ((*entries)[2].name, "dashboard");
}

struct BadLine {
  std::string contents;
  std::string problem;
};

TEST(TokenFileTest, BadLinesAreRefusedByLineNumberWithoutPrintingTheToken) {
  std::vector<BadLine> cases = {
      {"admin\n", "line 1: want `ROLE TOKEN [NAME]`"},
      {"# ok\nadmin adm-0123456789abcdef alice extra\n", "line 2: want `ROLE TOKEN [NAME]`"},
      {"admin adm-0123456789abcdef # trailing comment\n", "line 1: want"},
      {"\nroot adm-0123456789abcdef\n", "line 2: the first field is not a role"},
      {"adm-0123456789abcdef admin\n", "line 1: the first field is not a role"},
      {"admin short-token\n", "line 1: the token is 11 characters, fewer than 16"},
      {"admin adm-0123456789abcdef\nworker adm-0123456789abcdef\n",
       "line 2: repeats the token of line 1"},
      {"admin adm-0123456789abcd\xc3\xa9\n", "line 1: the token has a character outside"},
  };
  for (const BadLine& bad : cases) {
    absl::StatusOr<std::vector<TokenEntry>> entries = ParseTokenFile(bad.contents, "/etc/tokens");
    EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument) << bad.contents;
    EXPECT_THAT(entries.status().message(), HasSubstr("token file /etc/tokens " + bad.problem));
    EXPECT_THAT(entries.status().message(), Not(HasSubstr("0123456789")));
  }
}

TEST(TokenFileTest, FileWithNoTokenIsRefused) {
  for (std::string contents : {"", "\n\n", "# only comments\n# here\n"}) {
    absl::StatusOr<std::vector<TokenEntry>> entries = ParseTokenFile(contents, "tokens");
    EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(entries.status().message(), HasSubstr("lists no token"));
  }
}

TEST(TokenFileTest, TokenFileOthersCanReadIsRefusedWithTheFix) {
  testing::TempDir dir;
  std::string path = dir.Join("tokens");
  testing::WriteFileOrDie(path, absl::StrCat("admin ", kAdminToken, "\n"));
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  absl::StatusOr<std::vector<TokenEntry>> entries = LoadTokenFile(path);
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(entries.status().message(), HasSubstr("chmod 600 " + path));
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  entries = LoadTokenFile(path);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ(entries->size(), 1u);
}

TEST(TokenFileTest, TokenFileBehindASymlinkIsRefused) {
  testing::TempDir dir;
  std::string path = dir.Join("tokens");
  testing::WriteFileOrDie(path, absl::StrCat("admin ", kAdminToken, "\n"));
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_EQ(::symlink(path.c_str(), dir.Join("link").c_str()), 0);
  EXPECT_THAT(LoadTokenFile(dir.Join("link")).status().message(), HasSubstr("symbolic link"));
}

}  // namespace
}  // namespace tempa::coordinator::auth
