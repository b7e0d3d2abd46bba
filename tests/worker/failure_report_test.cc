// A failure's report is what a script reads: it must come out whatever bytes a build printed
// (a log tail is the build's own output, not valid UTF-8 by any promise).
#include "worker/cli/failure_report.h"

#include <sstream>
#include <string>

#include "common/build_error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace tempa::cli {
namespace {

TEST(FailureReportTest, InvalidUtf8InTheLogTailOrMessageStillGivesOneJsonLine) {
  absl::Status status = WithFailure(absl::InvalidArgumentError("out/\xff\xfe is a symlink"),
                                    {FailureKind::kCompile, "build", "error: \xc3 cut\n\xff"});
  std::ostringstream out, err;
  EXPECT_EQ(ReportFailure("build", status, /*as_json=*/true, out, err), 1);
  nlohmann::json parsed = nlohmann::json::parse(out.str(), nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << out.str();
  EXPECT_EQ(parsed["error"]["kind"], "compile");
  EXPECT_THAT(parsed["error"]["message"].get<std::string>(), ::testing::HasSubstr("is a symlink"));
}

}  // namespace
}  // namespace tempa::cli
