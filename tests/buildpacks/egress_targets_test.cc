// Which hosts a build step may reach, read from the build env.
#include "buildpacks/internal/egress_targets.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::buildpacks::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<NetworkTarget> Must(const absl::StatusOr<std::vector<NetworkTarget>>& targets) {
  EXPECT_TRUE(targets.ok()) << targets.status();
  return targets.ok() ? *targets : std::vector<NetworkTarget>{};
}

TEST(TargetOfUrl, SchemesGiveDefaultPortsAndUserInfoIsDropped) {
  EXPECT_EQ(*TargetOfUrl("https://pypi.example.com/simple"), (NetworkTarget{"pypi.example.com", 443}));
  EXPECT_EQ(*TargetOfUrl("http://user:pw@10.0.0.5:8080/simple?x=1"),
            (NetworkTarget{"10.0.0.5", 8080}));
  EXPECT_EQ(*TargetOfUrl("sparse+https://crates.example.com/index/"),
            (NetworkTarget{"crates.example.com", 443}));
  EXPECT_EQ(*TargetOfUrl("http://[::1]:5000/"), (NetworkTarget{"::1", 5000}));
  EXPECT_FALSE(TargetOfUrl("pypi.example.com/simple").ok());
  EXPECT_FALSE(TargetOfUrl("https://host:99999/").ok());
  EXPECT_FALSE(TargetOfUrl("https:///path").ok());
}

TEST(PipEgress, TheIndexesTheBuildEnvNamesAndNothingWithoutThem) {
  EXPECT_THAT(Must(PipEgress({})), IsEmpty());
  EXPECT_THAT(Must(PipEgress({{"TEMPA_ALLOW_HOSTS", "git.example.com:443"}})), IsEmpty());
  EXPECT_THAT(Must(PipEgress({{"PIP_INDEX_URL", "https://mirror.example/simple"},
                              {"PIP_EXTRA_INDEX_URL", "http://a.example/s http://b.example:81/s"},
                              {"PIP_FIND_LINKS", "/wheels https://files.example/wheels"},
                              {"TEMPA_ALLOW_HOSTS", "git.example.com:443, https://x.example"}})),
              ElementsAre(NetworkTarget{"mirror.example", 443}, NetworkTarget{"a.example", 80},
                          NetworkTarget{"b.example", 81}, NetworkTarget{"files.example", 443},
                          NetworkTarget{"git.example.com", 443}, NetworkTarget{"x.example", 443}));
}

TEST(PipEgress, AMalformedIndexOrAllowedHostNamesTheVariable) {
  auto bad = PipEgress({{"PIP_INDEX_URL", "mirror.example/simple"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("PIP_INDEX_URL"));
  bad = PipEgress({{"PIP_INDEX_URL", "https://m/simple"}, {"TEMPA_ALLOW_HOSTS", "gitlab"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("TEMPA_ALLOW_HOSTS: \"gitlab\""));
}

TEST(GoEgress, ProxiesAndTheChecksumDatabase) {
  EXPECT_THAT(Must(GoEgress({})), IsEmpty());
  EXPECT_THAT(Must(GoEgress({{"GOPROXY", "off"}})), IsEmpty());
  EXPECT_THAT(Must(GoEgress({{"GOPROXY", "https://athens.example,direct"}})),
              ElementsAre(NetworkTarget{"athens.example", 443},
                          NetworkTarget{"sum.golang.org", 443}));
  EXPECT_THAT(Must(GoEgress({{"GOPROXY", "http://127.0.0.1:3000|https://p2.example"},
                             {"GOSUMDB", "off"}})),
              ElementsAre(NetworkTarget{"127.0.0.1", 3000}, NetworkTarget{"p2.example", 443}));
  EXPECT_THAT(Must(GoEgress({{"GOPROXY", "https://p.example"},
                             {"GOSUMDB", "sum.example+abc https://sum.example:8443"}})),
              ElementsAre(NetworkTarget{"p.example", 443}, NetworkTarget{"sum.example", 8443}));
}

TEST(CargoEgress, NamedRegistriesAndCratesIoOnlyWhenOnline) {
  EXPECT_THAT(Must(CargoEgress({})), IsEmpty());
  EXPECT_THAT(Must(CargoEgress({{"CARGO_REGISTRIES_MINE_INDEX", "sparse+https://c.example/i/"}})),
              ElementsAre(NetworkTarget{"c.example", 443}));
  EXPECT_THAT(Must(CargoEgress({{"CARGO_NET_OFFLINE", "false"}})),
              ElementsAre(NetworkTarget{"index.crates.io", 443},
                          NetworkTarget{"static.crates.io", 443}));
}

}  // namespace
}  // namespace tempa::buildpacks::internal
