// Line splitting and the bounded tail behind SandboxResult::log_tail.
#include "worker/sandbox/output_collector.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa {
namespace {

using ::testing::ElementsAre;

TEST(OutputCollectorTest, SplitsLinesAcrossChunksAndKeepsTheLastOnes) {
  std::vector<std::string> lines;
  OutputCollector c([&](absl::string_view l) { lines.emplace_back(l); }, 2);
  c.Feed("one\ntw");
  c.Feed("o\r\nthr");
  c.Feed("ee");
  c.Finish();
  EXPECT_THAT(lines, ElementsAre("one", "two", "three"));
  EXPECT_EQ(c.Tail(), "two\nthree");
  EXPECT_EQ(c.bytes(), 14u);
}

TEST(OutputCollectorTest, SplitsOverlongLines) {
  std::vector<std::string> lines;
  OutputCollector c([&](absl::string_view l) { lines.emplace_back(l); }, 10, 4);
  c.Feed("abcdefghij\n");
  c.Finish();
  EXPECT_THAT(lines, ElementsAre("abcd", "efgh", "ij"));
}

}  // namespace
}  // namespace tempa
