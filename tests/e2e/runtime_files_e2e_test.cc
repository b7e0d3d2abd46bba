// Runtime files, through the real `tempa` binary: apps laid out as public Go and Rust projects are
// (templates/, index.html, static/ read from the working directory) build into images whose
// /app holds those files in a layer of their own, and answer their pages under runc with only
// PORT set. The files layer is keyed by content (a template change rebuilds it alone, a code
// change reuses it), and what .tempaignore leaves out is in no layer of the image.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/temp_dir.h"

namespace tempa::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The layer of `role` in a `tempa build --json` answer; null when there is none.
json LayerOf(const json& out, const std::string& role) {
  for (const json& layer : out["layers"]) {
    if (layer["role"] == role) return layer;
  }
  return json();
}

std::string Roles(const json& out) {
  std::string roles;
  for (const json& layer : out["layers"])
    absl::StrAppend(&roles, roles.empty() ? "" : ",", layer["role"].get<std::string>());
  return roles;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

// Pulls `image` into an OCI layout under `work` and returns the paths of its layer blobs.
std::vector<std::string> LayerBlobs(const std::string& image, const std::string& work) {
  std::string layout = work + "/layout";
  fs::create_directories(work);
  CommandResult copy = RunCommand({"skopeo", "copy", "--quiet", "--src-tls-verify=false",
                                   "docker://" + image, "oci:" + layout + ":x"});
  EXPECT_EQ(copy.exit_code, 0) << copy.err;
  auto blob = [&](const std::string& digest) {
    return layout + "/blobs/sha256/" + digest.substr(digest.find(':') + 1);
  };
  std::ifstream index_in(layout + "/index.json");
  json index = json::parse(index_in, nullptr, false);
  if (index.is_discarded() || index["manifests"].empty()) return {};
  std::ifstream manifest_in(blob(index["manifests"][0]["digest"]));
  json manifest = json::parse(manifest_in, nullptr, false);
  std::vector<std::string> blobs;
  for (const json& layer : manifest["layers"]) blobs.push_back(blob(layer["digest"]));
  return blobs;
}

// How many lines of the uncompressed tar at `blob` (names and contents) hold `needle`.
int CountInLayer(const std::string& blob, const std::string& needle) {
  CommandResult r =
      RunCommand({"sh", "-c", absl::StrCat("zcat '", blob, "' | grep -a -F -c -e '", needle, "'")});
  return r.out.empty() ? -1 : std::stoi(r.out);
}

// Neither the name nor the content of the secret is in any layer, while `present` (a file the
// image must hold) is in one: the search itself works.
void ExpectSecretInNoLayer(const std::string& image, const std::string& work,
                           const std::string& secret_value, const std::string& present) {
  std::vector<std::string> blobs = LayerBlobs(image, work);
  ASSERT_GE(blobs.size(), 2u);
  int found_present = 0;
  for (const std::string& blob : blobs) {
    EXPECT_EQ(CountInLayer(blob, "secret.env"), 0) << blob;
    EXPECT_EQ(CountInLayer(blob, secret_value), 0) << blob;
    found_present += CountInLayer(blob, present);
  }
  EXPECT_GE(found_present, 1) << present << " is in no layer: the search cannot see files";
}

TEST_F(TempaE2eTest, GoTemplatesAppAnswersAndATemplateChangeRebuildsOnlyTheFilesLayer) {
  if (geteuid() != 0) GTEST_SKIP() << "running images with runc needs root";
  std::string src = CopyTestApp("go-templates", "app");
  std::string cache = tmp_.Join("cache");
  CommandResult result;
  json first = BuildJson(src, registry() + "/gotemplates:v1", cache, &result);
  ASSERT_EQ(result.exit_code, 0);
  ASSERT_EQ(Roles(first), "base,files,app") << first.dump();
  json files = LayerOf(first, "files");
  EXPECT_EQ(files["report"]["files"], "3") << files.dump();
  EXPECT_THAT(files["report"]["why"].get<std::string>(),
              ::testing::HasSubstr("defaults excluded *.go, go.mod"));
  EXPECT_TRUE(absl::StrContains(result.err, "runtime files: 3 files")) << result.err;

  {
    int port = PickFreePort();
    std::string id = RunImageWithRunc(first["image"], tmp_.Join("run1"), port);
    ASSERT_FALSE(id.empty());
    absl::Cleanup stop = [&] { RunCommand({"runc", "delete", "-f", id}); };
    EXPECT_EQ(HttpGetRetrying(port, "/"), "<h1>templates from go</h1>\n");
    EXPECT_EQ(HttpGetRetrying(port, "/about"), "<p>about go</p>\n");
    EXPECT_EQ(HttpGetRetrying(port, "/static/style.css"), "p { margin: 0; }\n");
  }

  // A template alone: the files layer is rebuilt, the binary's layer reused.
  WriteFile(src + "/templates/index.html", "<h1>new templates from {{.Lang}}</h1>\n");
  json template_only = BuildJson(src, registry() + "/gotemplates:v2", cache);
  ASSERT_EQ(Roles(template_only), "base,files,app") << template_only.dump();
  EXPECT_TRUE(LayerOf(template_only, "base")["reused"].get<bool>());
  EXPECT_FALSE(LayerOf(template_only, "files")["reused"].get<bool>());
  EXPECT_TRUE(LayerOf(template_only, "app")["reused"].get<bool>());
  EXPECT_EQ(LayerOf(template_only, "app")["digest"], LayerOf(first, "app")["digest"]);
  {
    int port = PickFreePort();
    std::string id = RunImageWithRunc(template_only["image"], tmp_.Join("run2"), port);
    ASSERT_FALSE(id.empty());
    absl::Cleanup stop = [&] { RunCommand({"runc", "delete", "-f", id}); };
    EXPECT_EQ(HttpGetRetrying(port, "/"), "<h1>new templates from go</h1>\n");
  }

  // Code alone: the files layer is reused as it is.
  std::string code;
  {
    std::ifstream in(src + "/main.go");
    code.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  code = absl::StrCat(code, "\nfunc init() { log.SetPrefix(\"gotemplates: \") }\n");
  WriteFile(src + "/main.go", code);
  // As a new commit would, with a later commit time: the files layer's key is its content alone.
  CommandResult code_build = Tempa(
      {"build", src, "--image", registry() + "/gotemplates:v3", "--cache-dir", cache, "--json"},
      {{"SOURCE_DATE_EPOCH", "1700003600"}});
  ASSERT_EQ(code_build.exit_code, 0) << code_build.err;
  json code_only = json::parse(LastLine(code_build.out));
  ASSERT_EQ(Roles(code_only), "base,files,app") << code_only.dump();
  EXPECT_TRUE(LayerOf(code_only, "files")["reused"].get<bool>());
  EXPECT_EQ(LayerOf(code_only, "files")["digest"], LayerOf(template_only, "files")["digest"]);
  EXPECT_FALSE(LayerOf(code_only, "app")["reused"].get<bool>());
}

TEST_F(TempaE2eTest, RustServerReadsIndexAndStaticFromItsWorkingDirectory) {
  if (geteuid() != 0) GTEST_SKIP() << "running images with runc needs root";
  std::string src = CopyTestApp("rust-pages", "app");
  CommandResult result;
  json out = BuildJson(src, registry() + "/pages:v1", tmp_.Join("cache"), &result);
  ASSERT_EQ(result.exit_code, 0);
  ASSERT_EQ(Roles(out), "base,files,app") << out.dump();
  json files = LayerOf(out, "files");
  EXPECT_EQ(files["report"]["files"], "3") << files.dump();  // index.html, style.css, README.md
  EXPECT_THAT(files["report"]["why"].get<std::string>(), ::testing::HasSubstr("Cargo.toml"));
  EXPECT_THAT(files["report"]["why"].get<std::string>(),
              ::testing::HasSubstr("the binary is /app/pages, in the app layer"));

  int port = PickFreePort();
  std::string id = RunImageWithRunc(out["image"], tmp_.Join("run"), port);
  ASSERT_FALSE(id.empty());
  absl::Cleanup stop = [&] { RunCommand({"runc", "delete", "-f", id}); };
  EXPECT_THAT(HttpGetRetrying(port, "/"), ::testing::HasSubstr("<h1>pages from rust</h1>"));
  EXPECT_EQ(HttpGetRetrying(port, "/static/style.css"), "h1 { color: rebeccapurple; }\n");
}

TEST_F(TempaE2eTest, TempaignoreKeepsASecretOutOfEveryLayerOfAGoImage) {
  std::string src = CopyTestApp("go-templates", "app");
  const std::string secret = "API_TOKEN=tempa-e2e-go-secret-7c1f";
  WriteFile(src + "/secret.env", secret + "\n");
  WriteFile(src + "/.tempaignore", "# local credentials\nsecret.env\n");
  std::string image = registry() + "/gosecret:v1";
  json out = BuildJson(src, image, tmp_.Join("cache"));
  ASSERT_FALSE(LayerOf(out, "files").is_null()) << out.dump();
  EXPECT_THAT(LayerOf(out, "files")["report"]["why"].get<std::string>(),
              ::testing::HasSubstr(".tempaignore excluded 1"));
  ExpectSecretInNoLayer(image, tmp_.Join("pull"), secret, "templates/index.html");
}

TEST_F(TempaE2eTest, TempaTomlIncludeAndExcludeReachTheFilesLayer) {
  std::string src = CopyTestApp("go-templates", "app");
  WriteFile(src + "/tempa.toml", "include = [\"go.mod\"]\nexclude = [\"static/\"]\n");
  json out = BuildJson(src, registry() + "/gotoml:v1", tmp_.Join("cache"));
  json files = LayerOf(out, "files");
  ASSERT_FALSE(files.is_null()) << out.dump();
  EXPECT_EQ(files["report"]["files"], "3") << files.dump();  // two templates and go.mod
  std::string why = files["report"]["why"];
  EXPECT_THAT(why, ::testing::HasSubstr("tempa.toml include added go.mod"));
  EXPECT_THAT(why, ::testing::HasSubstr("tempa.toml exclude removed 1"));

  WriteFile(src + "/tempa.toml", "include = \"go.mod\"\n");
  CommandResult bad = Tempa({"build", src, "--image", registry() + "/gotoml:v2", "--cache-dir",
                             tmp_.Join("cache"), "--json"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(bad.out + bad.err, "tempa.toml:1: include must be an array"))
      << bad.out << bad.err;
}

TEST_F(TempaE2eTest, TempaignoreKeepsASecretOutOfEveryLayerOfAPythonImage) {
  if (access("/usr/bin/python3.11", X_OK) != 0) GTEST_SKIP() << "python3.11 not installed";
  std::string src = tmp_.Join("app");
  fs::create_directories(src);
  // A script app with no dependencies: std's http.server on $PORT.
  WriteFile(src + "/main.py",
            "import http.server, os\n"
            "http.server.ThreadingHTTPServer(('0.0.0.0', int(os.environ['PORT'])),\n"
            "    http.server.SimpleHTTPRequestHandler).serve_forever()\n");
  WriteFile(src + "/index.html", "<h1>python pages</h1>\n");
  const std::string secret = "DB_PASSWORD=tempa-e2e-py-secret-93ab";
  WriteFile(src + "/secret.env", secret + "\n");
  WriteFile(src + "/.tempaignore", "secret.env\n");
  std::string image = registry() + "/pysecret:v1";
  json out = BuildJson(src, image, tmp_.Join("cache"));
  ASSERT_FALSE(LayerOf(out, "app").is_null()) << out.dump();
  EXPECT_THAT(LayerOf(out, "app")["report"]["why"].get<std::string>(),
              ::testing::HasSubstr(".tempaignore excluded 1"));
  ExpectSecretInNoLayer(image, tmp_.Join("pull"), secret, "app/main.py");

  if (geteuid() != 0) return;
  int port = PickFreePort();
  std::string id = RunImageWithRunc(out["image"], tmp_.Join("run"), port);
  ASSERT_FALSE(id.empty());
  absl::Cleanup stop = [&] { RunCommand({"runc", "delete", "-f", id}); };
  EXPECT_EQ(HttpGetRetrying(port, "/index.html"), "<h1>python pages</h1>\n");
}

}  // namespace
}  // namespace tempa::testing
