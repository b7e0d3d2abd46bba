// The keys the pipeline finds layers by: each input varied alone is a miss, the same inputs a
// hit, and what must not matter (the order env entries were given in) does not.
#include "worker/layer_keys.h"

#include <map>
#include <set>
#include <string>

#include "common/digest.h"
#include "gtest/gtest.h"

namespace tempa::worker {
namespace {

using buildpacks::LayerOutput;
using buildpacks::LayerRole;
using buildpacks::PlannedLayer;

PlannedLayer Layer(LayerRole role, std::string input_key, bool fleet = true) {
  PlannedLayer layer;
  layer.role = role;
  layer.input_key = std::move(input_key);
  layer.produce = []() -> absl::StatusOr<LayerOutput> { return LayerOutput{}; };
  if (fleet) layer.produce_for_fleet = layer.produce;
  return layer;
}

TEST(LayerActionKeyTest, EveryInputOfTheWriterAndTheLayerChangesTheKey) {
  oci::LayerWriteOptions options;
  const std::string key = LayerActionKey(LayerRole::kApp, "content", options);
  EXPECT_EQ(LayerActionKey(LayerRole::kApp, "content", options), key);
  std::set<std::string> keys = {key};
  auto differs = [&](const std::string& other) { return keys.insert(other).second; };
  EXPECT_TRUE(differs(LayerActionKey(LayerRole::kDeps, "content", options)));
  EXPECT_TRUE(differs(LayerActionKey(LayerRole::kBase, "content", options)));
  EXPECT_TRUE(differs(LayerActionKey(LayerRole::kApp, "content2", options)));
  oci::LayerWriteOptions changed = options;
  changed.mtime = 1700000000;
  EXPECT_TRUE(differs(LayerActionKey(LayerRole::kApp, "content", changed)));
  changed = options;
  changed.compression_level = 9;
  EXPECT_TRUE(differs(LayerActionKey(LayerRole::kApp, "content", changed)));
  changed = options;
  changed.chunk_bytes = options.chunk_bytes * 2;
  EXPECT_TRUE(differs(LayerActionKey(LayerRole::kApp, "content", changed)));
  changed = options;
  changed.uid = 65532;
  EXPECT_TRUE(differs(LayerActionKey(LayerRole::kApp, "content", changed)));
  changed = options;
  changed.gid = 65532;
  EXPECT_TRUE(differs(LayerActionKey(LayerRole::kApp, "content", changed)));
  // The number of compressing threads does not change the bytes: the same key.
  changed = options;
  changed.threads = 7;
  EXPECT_EQ(LayerActionKey(LayerRole::kApp, "content", changed), key);
}

TEST(LayerActionKeyTest, LayersOwnedByRootKeepTheKeysTheyHadBeforeOwnersWereKeyed) {
  // sha256 of the text the key was computed from before the owner entered it: caches filled
  // by earlier workers keep hitting.
  oci::LayerWriteOptions options;
  std::string text = oci::LayerWriterVersion(options) + "\napp\ncontent\nmtime=0\ngzip=6";
  EXPECT_EQ(LayerActionKey(LayerRole::kApp, "content", options), Sha256Of(text).ToString());
}

TEST(BuildEnvScopeTest, AValueWithANewlineCannotPassForTwoEntries) {
  // tempa.toml strings may span lines: {A = "1\nenv B=2"} must not be {A = "1", B = "2"}.
  EXPECT_NE(BuildEnvScope({{"A", "1\nenv B=2"}}), BuildEnvScope({{"A", "1"}, {"B", "2"}}));
  EXPECT_NE(BuildEnvScope({{"A", "1=2"}}), BuildEnvScope({{"A=1", "2"}}));
  EXPECT_NE(AppBuildScope("r/a\nenv B=2", {}), AppBuildScope("r/a", {{"B", "2"}}));
}

TEST(BuildEnvScopeTest, TheOrderEntriesWereGivenInDoesNotMatter) {
  std::map<std::string, std::string> forward;
  forward.emplace("A", "1");
  forward.emplace("B", "2");
  std::map<std::string, std::string> backward;
  backward.emplace("B", "2");
  backward.emplace("A", "1");
  EXPECT_EQ(BuildEnvScope(forward), BuildEnvScope(backward));
  EXPECT_EQ(AppBuildScope("reg/app", forward), AppBuildScope("reg/app", backward));
}

TEST(InputLayerKeyTest, ADependencyLayerIsKeyedByItsInputsItsAppAndEveryBuildEnvEntry) {
  oci::LayerWriteOptions options;
  const std::map<std::string, std::string> env = {{"CFLAGS", "-O2"}};
  const std::string key =
      InputLayerKey(Layer(LayerRole::kDeps, "lock1"), AppBuildScope("reg/app", env), options);
  ASSERT_FALSE(key.empty());
  EXPECT_EQ(InputLayerKey(Layer(LayerRole::kDeps, "lock1"), AppBuildScope("reg/app", env), options),
            key);
  std::set<std::string> keys = {key};
  auto differs = [&](const std::string& other) { return keys.insert(other).second; };
  EXPECT_TRUE(differs(
      InputLayerKey(Layer(LayerRole::kDeps, "lock2"), AppBuildScope("reg/app", env), options)));
  EXPECT_TRUE(differs(
      InputLayerKey(Layer(LayerRole::kDeps, "lock1"), AppBuildScope("reg/other", env), options)));
  EXPECT_TRUE(differs(
      InputLayerKey(Layer(LayerRole::kDeps, "lock1"), AppBuildScope("reg2/app", env), options)));
  EXPECT_TRUE(differs(InputLayerKey(Layer(LayerRole::kDeps, "lock1"),
                                    AppBuildScope("reg/app", {{"CFLAGS", "-O3"}}), options)));
  EXPECT_TRUE(differs(
      InputLayerKey(Layer(LayerRole::kDeps, "lock1"), AppBuildScope("reg/app", {}), options)));
  EXPECT_TRUE(
      differs(InputLayerKey(Layer(LayerRole::kDeps, "lock1"),
                            AppBuildScope("reg/app", {{"CFLAGS", "-O2"}, {"NEW", "1"}}), options)));
}

TEST(InputLayerKeyTest, ABaseLayerIsKeyedByItsInputsAloneAndSharedByEveryApp) {
  oci::LayerWriteOptions options;
  const std::string key =
      InputLayerKey(Layer(LayerRole::kBase, "debs1"), AppBuildScope("reg/app", {}), options);
  EXPECT_EQ(InputLayerKey(Layer(LayerRole::kBase, "debs1"),
                          AppBuildScope("reg/other", {{"X", "1"}}), options),
            key);
  EXPECT_NE(InputLayerKey(Layer(LayerRole::kBase, "debs2"), AppBuildScope("reg/app", {}), options),
            key);
}

TEST(InputLayerKeyTest, ALayerKeyedByItsOutputHasNoInputKey) {
  EXPECT_EQ(InputLayerKey(Layer(LayerRole::kApp, ""), AppBuildScope("reg/app", {}), {}), "");
}

TEST(FleetLayerKeyTest, KeyedByInputsAndBuildEnvButNeverTheApp) {
  oci::LayerWriteOptions options;
  const std::string key =
      FleetLayerKey(Layer(LayerRole::kDeps, "lock1"), BuildEnvScope({{"A", "1"}}), options);
  ASSERT_FALSE(key.empty());
  EXPECT_EQ(FleetLayerKey(Layer(LayerRole::kDeps, "lock1"), BuildEnvScope({{"A", "1"}}), options),
            key);
  EXPECT_NE(FleetLayerKey(Layer(LayerRole::kDeps, "lock2"), BuildEnvScope({{"A", "1"}}), options),
            key);
  EXPECT_NE(FleetLayerKey(Layer(LayerRole::kDeps, "lock1"), BuildEnvScope({{"A", "2"}}), options),
            key);
  EXPECT_NE(FleetLayerKey(Layer(LayerRole::kDeps, "lock1"), BuildEnvScope({}), options), key);
  oci::LayerWriteOptions level = options;
  level.compression_level = 1;
  EXPECT_NE(FleetLayerKey(Layer(LayerRole::kDeps, "lock1"), BuildEnvScope({{"A", "1"}}), level),
            key);
  // Never the same as the app-scoped key of the same layer: the two caches cannot alias.
  EXPECT_NE(InputLayerKey(Layer(LayerRole::kDeps, "lock1"), AppBuildScope("reg/app", {{"A", "1"}}),
                          options),
            key);
}

TEST(FleetLayerKeyTest, OnlyDependencyLayersMadeFromTheirInputsAloneAreShared) {
  EXPECT_EQ(FleetLayerKey(Layer(LayerRole::kDeps, "lock1", /*fleet=*/false), "", {}), "");
  EXPECT_EQ(FleetLayerKey(Layer(LayerRole::kBase, "debs1"), "", {}), "");
  EXPECT_EQ(FleetLayerKey(Layer(LayerRole::kDeps, ""), "", {}), "");
}

}  // namespace
}  // namespace tempa::worker
