// The file-size limit through the real `tempa build`, hit by a grandchild of the build command:
// a Rust crate's build script (run by cargo, itself run by the build step) writes a file larger
// than --max-file-size. cargo only says "signal: 25" and exits 101; the build must still fail
// as output_too_large naming the limit and the flag, not as a compile error.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/e2e/e2e_fixture.h"

namespace tempa::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void WriteFile(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

class FileLimitE2eTest : public TempaE2eTest {
 protected:
  void SetUp() override {
    TempaE2eTest::SetUp();
    ::chmod(tmp_.path().c_str(), 0755);  // the build user must reach the source
  }

  // A crate whose build.rs writes 16 MiB to `dir` (an expression of type String), built with
  // a 4 MiB file limit (the build script and the binary are well under 1 MiB).
  CommandResult BuildWritingBigFileTo(const std::string& dir) {
    fs::path app = tmp_.Join("app");
    WriteFile(app / "Cargo.toml",
              "[package]\nname = \"bigout\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
    WriteFile(app / "Cargo.lock",
              "version = 4\n\n[[package]]\nname = \"bigout\"\nversion = \"0.1.0\"\n");
    WriteFile(app / "build.rs", absl::StrCat("fn main() {\n    let dir: String = ", dir,
                                             ";\n    std::fs::write(format!(\"{dir}/big.bin\"), "
                                             "vec![0u8; 16 << 20]).unwrap();\n}\n"));
    WriteFile(app / "src/main.rs", "fn main() { println!(\"hello\"); }\n");
    return Tempa({"build", app.string(), "--image", registry() + "/bigout", "--cache-dir",
                  tmp_.Join("cache"), "--max-file-size", "4m", "--json"});
  }

  void ExpectOutputTooLarge(const CommandResult& r) {
    EXPECT_EQ(r.exit_code, 1) << r.err;
    json error = ErrorOf(r);
    EXPECT_EQ(error["kind"], "output_too_large") << r.out << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, "larger than 4194304 bytes")) << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, "--max-file-size")) << r.err;
  }
};

TEST_F(FileLimitE2eTest, ABuildScriptWritingPastTheFileLimitFailsAsOutputTooLarge) {
  // OUT_DIR is in the app's target directory, a writable mount: the file cut at the limit is
  // found there and named.
  CommandResult r = BuildWritingBigFileTo("std::env::var(\"OUT_DIR\").unwrap()");
  ExpectOutputTooLarge(r);
  EXPECT_TRUE(absl::StrContains(r.err, "/big.bin)")) << r.err;
}

TEST_F(FileLimitE2eTest, ABuildScriptWritingPastTheFileLimitInTmpFailsAsOutputTooLarge) {
  // /tmp is the sandbox's own tmpfs, gone with the run: only cargo's "(signal: 25)" tells.
  CommandResult r = BuildWritingBigFileTo("\"/tmp\".to_string()");
  ExpectOutputTooLarge(r);
  EXPECT_TRUE(absl::StrContains(r.err, "signal: 25")) << r.err;
}

}  // namespace
}  // namespace tempa::testing
