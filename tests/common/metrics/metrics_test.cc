// The registry as a Prometheus scraper sees it: every test renders the text and parses it back.
#include "common/metrics/metrics.h"

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::metrics {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// One parsed exposition: samples by their series text (`name{labels}` as written), the
// HELP and TYPE comment per family, and the order families appeared in.
struct Exposition {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> help;
  std::map<std::string, std::string> type;
  std::vector<std::string> families;
};

// Parses the text format strictly enough to catch a malformed line: every line is a comment
// (`# HELP name text` / `# TYPE name type`) or `series value`, where a label value may hold an
// escaped quote or space.
Exposition Parse(const std::string& text) {
  Exposition out;
  EXPECT_TRUE(text.empty() || text.back() == '\n') << "exposition must end with a newline";
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "# HELP ")) {
      std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(' ', 1));
      EXPECT_EQ(parts.size(), 2u) << line;
      out.help[parts[0]] = parts.size() > 1 ? parts[1] : "";
      out.families.push_back(parts[0]);
      continue;
    }
    if (absl::ConsumePrefix(&line, "# TYPE ")) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ');
      EXPECT_EQ(parts.size(), 2u) << line;
      if (parts.size() == 2) out.type[parts[0]] = parts[1];
      continue;
    }
    // The value follows the last space outside the label braces.
    size_t close = line.rfind('}');
    size_t space = line.find(' ', close == absl::string_view::npos ? 0 : close);
    EXPECT_NE(space, absl::string_view::npos) << line;
    if (space == absl::string_view::npos) continue;
    std::string series(line.substr(0, space));
    absl::string_view value_text = line.substr(space + 1);
    double value = 0;
    if (value_text == "+Inf") {
      value = std::numeric_limits<double>::infinity();
    } else {
      EXPECT_TRUE(absl::SimpleAtod(value_text, &value)) << line;
    }
    EXPECT_EQ(out.samples.count(series), 0u) << "series twice: " << series;
    out.samples[series] = value;
  }
  return out;
}

TEST(MetricsRegistryTest, CounterRendersHelpTypeAndItsValue) {
  MetricsRegistry registry;
  Counter* pushes = registry.AddCounter("tempa_webhook_pushes_total", "Pushes accepted.");
  pushes->Inc();
  pushes->Add(2.5);
  Exposition e = Parse(registry.Render());
  EXPECT_EQ(e.help["tempa_webhook_pushes_total"], "Pushes accepted.");
  EXPECT_EQ(e.type["tempa_webhook_pushes_total"], "counter");
  EXPECT_DOUBLE_EQ(e.samples["tempa_webhook_pushes_total"], 3.5);
}

TEST(MetricsRegistryTest, CounterIgnoresANegativeAmount) {
  MetricsRegistry registry;
  Counter* c = registry.AddCounter("tempa_x_total", "x");
  c->Add(4);
  c->Add(-3);
  EXPECT_DOUBLE_EQ(Parse(registry.Render()).samples["tempa_x_total"], 4);
}

TEST(MetricsRegistryTest, EachLabelSetIsItsOwnSeriesUnderOneFamily) {
  MetricsRegistry registry;
  Gauge* failed =
      registry.AddGauge("tempa_coordinator_builds", "Builds by status.", {{"status", "FAILED"}});
  Gauge* ok =
      registry.AddGauge("tempa_coordinator_builds", "Builds by status.", {{"status", "SUCCEEDED"}});
  failed->Set(2);
  ok->Set(7);
  ok->Dec();
  std::string text = registry.Render();
  Exposition e = Parse(text);
  EXPECT_EQ(e.samples["tempa_coordinator_builds{status=\"FAILED\"}"], 2);
  EXPECT_EQ(e.samples["tempa_coordinator_builds{status=\"SUCCEEDED\"}"], 6);
  EXPECT_THAT(e.families, ElementsAre("tempa_coordinator_builds"));
  EXPECT_EQ(e.type["tempa_coordinator_builds"], "gauge");
}

TEST(MetricsRegistryTest, RegisteringTheSameSeriesTwiceReturnsTheFirst) {
  MetricsRegistry registry;
  Counter* a = registry.AddCounter("tempa_x_total", "x", {{"k", "v"}});
  Counter* b = registry.AddCounter("tempa_x_total", "x", {{"k", "v"}});
  EXPECT_EQ(a, b);
  a->Inc();
  b->Inc();
  EXPECT_EQ(Parse(registry.Render()).samples["tempa_x_total{k=\"v\"}"], 2);
}

TEST(MetricsRegistryTest, LabelValuesAndHelpAreEscaped) {
  MetricsRegistry registry;
  registry.AddCounter("tempa_x_total", "line one\nback\\slash", {{"app", "a\"b\\c\nd e"}})->Inc();
  std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# HELP tempa_x_total line one\\nback\\\\slash\n"));
  EXPECT_THAT(text, HasSubstr("tempa_x_total{app=\"a\\\"b\\\\c\\nd e\"} 1\n"));
  // The escaped text still parses as one sample per line.
  EXPECT_EQ(Parse(text).samples.size(), 1u);
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  MetricsRegistry registry;
  Histogram* h = registry.AddHistogram("tempa_coordinator_dispatch_latency_seconds",
                                       "Accept to lease.", {0.01, 0.1, 1}, {{"pool", "a"}});
  h->Observe(0.003);
  h->Observe(0.1);  // on a bound: counted in that bucket (le is "less or equal")
  h->Observe(0.5);
  h->Observe(30);
  Exposition e = Parse(registry.Render());
  const std::string n = "tempa_coordinator_dispatch_latency_seconds";
  EXPECT_EQ(e.type[n], "histogram");
  EXPECT_EQ(e.samples[n + "_bucket{pool=\"a\",le=\"0.01\"}"], 1);
  EXPECT_EQ(e.samples[n + "_bucket{pool=\"a\",le=\"0.1\"}"], 2);
  EXPECT_EQ(e.samples[n + "_bucket{pool=\"a\",le=\"1\"}"], 3);
  EXPECT_EQ(e.samples[n + "_bucket{pool=\"a\",le=\"+Inf\"}"], 4);
  EXPECT_EQ(e.samples[n + "_count{pool=\"a\"}"], 4);
  EXPECT_DOUBLE_EQ(e.samples[n + "_sum{pool=\"a\"}"], 30.603);
}

TEST(MetricsRegistryTest, HistogramWithoutLabelsHasOnlyTheLeLabel) {
  MetricsRegistry registry;
  registry.AddHistogram("tempa_x_seconds", "x", LatencyBuckets())->Observe(0.0007);
  Exposition e = Parse(registry.Render());
  EXPECT_EQ(e.samples["tempa_x_seconds_bucket{le=\"0.0005\"}"], 0);
  EXPECT_EQ(e.samples["tempa_x_seconds_bucket{le=\"0.001\"}"], 1);
  EXPECT_EQ(e.samples["tempa_x_seconds_count"], 1);
}

TEST(MetricsRegistryTest, CallbackGaugeIsComputedAtEachRender) {
  MetricsRegistry registry;
  int depth = 3;
  registry.AddCallbackGauge("tempa_coordinator_queue_depth", "Queued builds.",
                            [&depth] { return depth; });
  EXPECT_EQ(Parse(registry.Render()).samples["tempa_coordinator_queue_depth"], 3);
  depth = 11;
  EXPECT_EQ(Parse(registry.Render()).samples["tempa_coordinator_queue_depth"], 11);
}

TEST(MetricsRegistryTest, CallbackGaugeRunsWithoutTheRegistryLockHeld) {
  MetricsRegistry registry;
  // A callback that itself registers a metric would deadlock if Render() held the lock.
  registry.AddCallbackGauge("tempa_a", "a", [&registry] {
    registry.AddCounter("tempa_b_total", "b")->Inc();
    return 1.0;
  });
  EXPECT_EQ(Parse(registry.Render()).samples["tempa_a"], 1);
  EXPECT_EQ(Parse(registry.Render()).samples["tempa_b_total"], 2);
}

TEST(MetricsRegistryTest, FamiliesRenderSortedByName) {
  MetricsRegistry registry;
  registry.AddGauge("tempa_z", "z");
  registry.AddCounter("tempa_a_total", "a");
  registry.AddGauge("tempa_m", "m");
  EXPECT_THAT(Parse(registry.Render()).families,
              ElementsAre("tempa_a_total", "tempa_m", "tempa_z"));
}

TEST(MetricsRegistryTest, ValuesRoundTripThroughTheText) {
  MetricsRegistry registry;
  registry.AddGauge("tempa_a", "a")->Set(0.1);
  registry.AddGauge("tempa_b", "b")->Set(-2);
  registry.AddGauge("tempa_c", "c")->Set(1e300);
  registry.AddGauge("tempa_d", "d")->Set(123456789012.0);
  std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("tempa_a 0.1\n"));
  EXPECT_THAT(text, HasSubstr("tempa_d 123456789012\n"));
  Exposition e = Parse(text);
  EXPECT_EQ(e.samples["tempa_a"], 0.1);
  EXPECT_EQ(e.samples["tempa_b"], -2);
  EXPECT_EQ(e.samples["tempa_c"], 1e300);
}

TEST(MetricsRegistryTest, ConcurrentUpdatesAreAllCounted) {
  MetricsRegistry registry;
  Counter* c = registry.AddCounter("tempa_x_total", "x");
  Histogram* h = registry.AddHistogram("tempa_x_seconds", "x", {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        c->Inc();
        h->Observe(0.5);
      }
    });
  }
  for (int i = 0; i < 20; ++i) Parse(registry.Render());  // renders race the updates
  for (auto& t : threads) t.join();
  Exposition e = Parse(registry.Render());
  EXPECT_EQ(e.samples["tempa_x_total"], 80000);
  EXPECT_EQ(e.samples["tempa_x_seconds_count"], 80000);
  EXPECT_EQ(e.samples["tempa_x_seconds_sum"], 40000);
}

TEST(MetricsRegistryDeathTest, OneNameWithTwoTypesAborts) {
  MetricsRegistry registry;
  registry.AddCounter("tempa_x", "x");
  EXPECT_DEATH(registry.AddGauge("tempa_x", "x"), "two types");
}

TEST(MetricsRegistryDeathTest, InvalidNamesAbort) {
  MetricsRegistry registry;
  EXPECT_DEATH(registry.AddCounter("tempa-x", "x"), "tempa-x");
  EXPECT_DEATH(registry.AddCounter("tempa_x", "x", {{"bad label", "v"}}), "bad label");
  EXPECT_DEATH(registry.AddHistogram("tempa_h", "h", {1}, {{"le", "1"}}), "le");
}

}  // namespace
}  // namespace tempa::metrics
