// tempa.toml's runtime-file lists: include/exclude as arrays of strings, errors naming file:line.
#include <string>

#include "buildpacks/app_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/buildpacks/temp_tree.h"

namespace tempa::buildpacks {
namespace {

using test_support::TempTree;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(AppConfigFiles, IncludeAndExcludeAreReadAsGlobLists) {
  TempTree tree;
  tree.Write("tempa.toml",
             "include = [\"config/app.toml\", \"vendor/assets/\"]\nexclude = [\"*.mp4\"]\n");
  absl::StatusOr<AppConfig> config = LoadAppConfig(tree.path());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->include, ElementsAre("config/app.toml", "vendor/assets/"));
  EXPECT_THAT(config->exclude, ElementsAre("*.mp4"));
}

TEST(AppConfigFiles, BadListsAreErrorsNamingFileAndLine) {
  struct Case {
    const char* toml;
    const char* error;
  };
  for (const Case& c : {
           Case{"port = 1\ninclude = \"templates/\"\n", "tempa.toml:2: include must be an array"},
           Case{"exclude = [\"a\",\n  3]\n",
                "tempa.toml:2: every entry of exclude must be a string"},
           Case{"include = [\"\"]\n", "tempa.toml:1: include has an empty pattern"},
           Case{"exclude = [\"!keep\"]\n", "starts with \"!\""},
       }) {
    TempTree tree;
    tree.Write("tempa.toml", c.toml);
    absl::StatusOr<AppConfig> config = LoadAppConfig(tree.path());
    ASSERT_FALSE(config.ok()) << c.toml;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(config.status().message()), HasSubstr(c.error)) << c.toml;
  }
}

}  // namespace
}  // namespace tempa::buildpacks
