// A hostile repository through the real `tempa build`: a Rust crate whose build script (code
// the repository's author controls, run during the build) follows the repository's own symlinks
// (absolute, relative, and one to the host's root) and absolute paths to read a world-readable
// secret and plant files in a world-writable directory outside the repository. The build must
// succeed without either: the sandbox shows it only its source and caches.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/e2e/e2e_fixture.h"

namespace tempa::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kSecret[] = "TOPSECRET-7d3f";

void WriteFile(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// build.rs: tries every way out it is given (one path per line in escapes.txt), reports each
// as a cargo warning (which `tempa build` streams to stderr) and never fails the build.
constexpr char kBuildScript[] = R"rs(
use std::fs;
fn main() {
    let escapes = fs::read_to_string("escapes.txt").unwrap();
    for path in escapes.lines() {
        match fs::read_to_string(format!("{path}/secret.txt")) {
            Ok(text) => println!("cargo:warning=READ {path}: {}", text.trim()),
            Err(e) => println!("cargo:warning=denied read {path}: {e}"),
        }
        match fs::write(format!("{path}/planted"), "x") {
            Ok(()) => println!("cargo:warning=WROTE {path}"),
            Err(e) => println!("cargo:warning=denied write {path}: {e}"),
        }
    }
    println!("cargo:rerun-if-changed=escapes.txt");
}
)rs";

class HostileRepoE2eTest : public TempaE2eTest {
 protected:
  void SetUp() override {
    TempaE2eTest::SetUp();
    ::chmod(tmp_.path().c_str(), 0755);  // the build user must reach the source
  }
};

TEST_F(HostileRepoE2eTest, SymlinksAndAbsolutePathsCannotReachOutsideTheSandbox) {
  // Readable and writable by anyone on the host: only the sandbox's mounts keep the build out.
  fs::path outside = tmp_.Join("outside");
  WriteFile(outside / "secret.txt", kSecret);
  fs::permissions(outside, fs::perms::all);
  fs::permissions(outside / "secret.txt", fs::perms::owner_read | fs::perms::owner_write |
                                              fs::perms::group_read | fs::perms::others_read);

  fs::path app = tmp_.Join("app");
  WriteFile(app / "Cargo.toml",
            "[package]\nname = \"leaky\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
  WriteFile(app / "Cargo.lock",
            "version = 4\n\n[[package]]\nname = \"leaky\"\nversion = \"0.1.0\"\n");
  WriteFile(app / "build.rs", kBuildScript);
  WriteFile(app / "src/main.rs", "fn main() { println!(\"hello\"); }\n");
  fs::create_directory_symlink(outside, app / "absolute");
  fs::create_directory_symlink("../outside", app / "relative");
  fs::create_directory_symlink("/", app / "host-root");
  const std::string via_root = absl::StrCat("host-root", outside.string());
  WriteFile(app / "escapes.txt",
            absl::StrCat("absolute\nrelative\n", via_root, "\n", outside.string(), "\n"));

  CommandResult r = Tempa(
      {"build", app.string(), "--image", registry() + "/leaky", "--cache-dir", tmp_.Join("cache")});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // The build script ran and tried every way out; none reached the secret or wrote a file.
  for (const std::string& path :
       {std::string("absolute"), std::string("relative"), via_root, outside.string()}) {
    EXPECT_TRUE(absl::StrContains(r.err, absl::StrCat("denied read ", path, ":"))) << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, absl::StrCat("denied write ", path, ":"))) << r.err;
  }
  EXPECT_FALSE(absl::StrContains(r.err, kSecret)) << r.err;
  EXPECT_FALSE(absl::StrContains(r.err, "WROTE")) << r.err;
  EXPECT_FALSE(fs::exists(outside / "planted"));
  // Nor did it change the repository it was given (the source is mounted read-only).
  EXPECT_FALSE(fs::exists(app / "planted"));
}

// A Python app's source goes into its image as it is: a link to a host file or directory in the
// repository is refused naming it (it would resolve outside the tree), and the host file's bytes
// never reach the registry.
TEST_F(HostileRepoE2eTest, SourceLinksToHostFilesAreRefusedNamingTheLinkAndNeverCopied) {
  if (::access("/usr/bin/python3.11", X_OK) != 0) GTEST_SKIP() << "python3.11 not installed";
  fs::path secret_dir = tmp_.Join("host-only");
  WriteFile(secret_dir / "secret.txt", kSecret);
  fs::permissions(secret_dir, fs::perms::owner_all);

  for (const std::string& link : {std::string("leak.txt"), std::string("conf")}) {
    fs::path app = tmp_.Join("py-" + link);
    WriteFile(app / "app.py", "print('hello')\n");
    WriteFile(app / "static/ok.txt", "fine\n");
    fs::create_symlink("ok.txt", app / "static/alias.txt");  // inside the tree: fine
    if (link == "conf") {
      fs::create_directory_symlink(secret_dir, app / link);
    } else {
      fs::create_symlink(secret_dir / "secret.txt", app / link);
    }
    CommandResult r = Tempa({"build", app.string(), "--image", registry() + "/py-" + link,
                             "--cache-dir", tmp_.Join("cache"), "--json"});
    EXPECT_NE(r.exit_code, 0) << r.out << r.err;
    nlohmann::json error = ErrorOf(r);
    ASSERT_TRUE(error.is_object()) << r.out << r.err;
    EXPECT_EQ(error["kind"], "bad_input") << error.dump();
    EXPECT_TRUE(absl::StrContains(error["message"].get<std::string>(), "symlink " + link))
        << error.dump();
    EXPECT_FALSE(absl::StrContains(r.out + r.err, kSecret));
  }
  CommandResult grep = RunCommand(
      {"sh", "-c",
       absl::StrCat("for f in $(find '", registry_->storage_dir(), "' -type f -name data); do ",
                    "(cat \"$f\"; gzip -dc \"$f\" 2>/dev/null) | grep -q '", kSecret,
                    "' && echo \"$f\"; done; true")});
  EXPECT_EQ(grep.out, "");
}

}  // namespace
}  // namespace tempa::testing
