// A hostile repository whose build replaces its own output with a symlink to a root-only file of
// the worker host, through the real `tempa build` (running as root): a Go -toolexec wrapper, a
// cargo linker named in .cargo/config.toml, a build.rs that slips in its own `ld`, and a pip
// build backend that plants links in the venv. Inside the
// sandbox the link's target is a decoy the build made in its private /tmp; on the host it is the
// secret. Tempa must read the output without following the link: the build fails as bad_input
// naming the path, and no blob in the registry holds the secret.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/pypi_index.h"

namespace tempa::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kSecret[] = "ROOT-ONLY-SECRET-5b1e";

void WriteFile(const fs::path& path, const std::string& text, fs::perms mode = fs::perms(0644)) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
  fs::permissions(path, mode);
}

// A shell snippet that, given OUT (a file the toolchain just wrote), makes the secret's path
// exist inside the sandbox (a decoy in its private /tmp, so tools that stat or chmod the output
// see a file) and puts a symlink to it where the output was.
std::string PlantLink(const std::string& secret) {
  return absl::StrCat("mkdir -p '", fs::path(secret).parent_path().string(), "'\n",
                      "echo decoy > '", secret, "'\n", "rm -f \"$OUT\"\nln -s '", secret,
                      "' \"$OUT\"\n");
}

// The argument after "-o" among "$@".
constexpr char kFindOutput[] = R"sh(OUT=""; prev=""
for a in "$@"; do [ "$prev" = "-o" ] && OUT="$a"; prev="$a"; done
)sh";

class HostileOutputE2eTest : public TempaE2eTest {
 protected:
  void SetUp() override {
    TempaE2eTest::SetUp();
    ::chmod(tmp_.path().c_str(), 0755);  // the build user must reach the sources
    secret_ = tmp_.Join("root-only/secret.txt");
    WriteFile(secret_, kSecret, fs::perms::owner_read | fs::perms::owner_write);
    fs::permissions(fs::path(secret_).parent_path(), fs::perms::owner_all);
  }

  // Builds `app` and expects the planted link to be refused: kind bad_input naming `path`.
  void ExpectRefused(const fs::path& app, const std::string& name, const std::string& path) {
    CommandResult r = Tempa({"build", app.string(), "--image", registry() + "/" + name,
                             "--cache-dir", tmp_.Join("cache-" + name), "--json"});
    EXPECT_NE(r.exit_code, 0) << r.out << r.err;
    nlohmann::json error = ErrorOf(r);
    ASSERT_TRUE(error.is_object()) << r.out << r.err;
    EXPECT_EQ(error["kind"], "bad_input") << error.dump();
    std::string message = error["message"].get<std::string>();
    EXPECT_TRUE(absl::StrContains(message, path)) << message;
    EXPECT_TRUE(absl::StrContains(message, "symlink")) << message;
    EXPECT_FALSE(absl::StrContains(r.out + r.err, kSecret));
    ExpectNoBlobHolds(name);
  }

  // No blob the registry stores, compressed or not, contains the secret.
  void ExpectNoBlobHolds(const std::string& name) {
    CommandResult grep = RunCommand(
        {"sh", "-c",
         absl::StrCat("for f in $(find '", registry_->storage_dir(), "' -type f -name data); do ",
                      "(cat \"$f\"; gzip -dc \"$f\" 2>/dev/null) | grep -q '", kSecret,
                      "' && echo \"$f\"; done; true")});
    EXPECT_EQ(grep.out, "") << name << ": blobs holding the secret";
  }

  std::string secret_;
};

TEST_F(HostileOutputE2eTest, GoToolexecThatSwapsTheBinaryForASymlinkIsRefused) {
  fs::path app = tmp_.Join("go-app");
  WriteFile(app / "go.mod", "module leaky\n\ngo 1.21\n");
  WriteFile(app / "main.go", "package main\n\nfunc main() { println(\"hi\") }\n");
  // The link step's output is renamed (not copied) into /out when GOTMPDIR is on the same mount,
  // so the symlink itself lands at /out/leaky.
  WriteFile(
      app / "wrap.sh",
      absl::StrCat("#!/bin/sh\n", kFindOutput, "\"$@\" || exit $?\n", "[ -n \"$OUT\" ] || exit 0\n",
                   "case \"$(basename \"$1\")\" in link)\n", PlantLink(secret_), ";;\nesac\n"),
      fs::perms(0755));
  WriteFile(app / "tempa.toml",
            "[build.env]\nGOFLAGS = \"-toolexec=/src/wrap.sh\"\nGOTMPDIR = \"/out\"\n");
  ExpectRefused(app, "go-toolexec", "leaky");
}

// A Rust crate at `app`, with `build_rs` as its build script when not empty.
fs::path RustCrate(const fs::path& app, const std::string& build_rs) {
  WriteFile(app / "Cargo.toml",
            absl::StrCat("[package]\nname = \"leaky\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
                         build_rs.empty() ? "" : "build = \"build.rs\"\n"));
  WriteFile(app / "Cargo.lock",
            "version = 4\n\n[[package]]\nname = \"leaky\"\nversion = \"0.1.0\"\n");
  WriteFile(app / "src/main.rs", "fn main() { println!(\"hello\"); }\n");
  if (!build_rs.empty()) WriteFile(app / "build.rs", build_rs);
  return app;
}

TEST_F(HostileOutputE2eTest, CargoLinkerFromCargoConfigThatPlantsASymlinkIsRefused) {
  fs::path app = RustCrate(tmp_.Join("rust-linker"), "");
  WriteFile(app / "evil-cc.sh",
            absl::StrCat("#!/bin/sh\n", kFindOutput, "cc \"$@\" || exit $?\n", PlantLink(secret_)),
            fs::perms(0755));
  WriteFile(app / ".cargo/config.toml",
            "[target.x86_64-unknown-linux-gnu]\nlinker = \"/src/evil-cc.sh\"\n");
  ExpectRefused(app, "rust-linker", "target/release/leaky");
}

TEST_F(HostileOutputE2eTest, BuildScriptThatSlipsInItsOwnLdIsRefused) {
  // build.rs asks rustc to pass -B to the C compiler driver, which then runs the repository's
  // `ld` instead of the system's.
  fs::path app = RustCrate(tmp_.Join("rust-build-rs"),
                           "fn main() { println!(\"cargo:rustc-link-arg=-B/src/evil/\"); }\n");
  WriteFile(app / "evil/ld",
            absl::StrCat("#!/bin/sh\n", kFindOutput, "/usr/bin/ld \"$@\" || exit $?\n",
                         PlantLink(secret_)),
            fs::perms(0755));
  ExpectRefused(app, "rust-build-rs", "target/release/leaky");
}

// An sdist whose in-tree PEP 517 backend plants an absolute and a relative link to the secret in
// the venv while pip builds it, then builds a real wheel.
constexpr char kBackend[] = R"py(import base64, hashlib, os, zipfile
SECRET = "@SECRET@"
def _plant():
    os.makedirs(os.path.dirname(SECRET), exist_ok=True)
    with open(SECRET, "w") as f:
        f.write("decoy")
    os.symlink(SECRET, "/opt/venv/leak-absolute.txt")
    os.symlink("../.." + SECRET, "/opt/venv/leak-relative.txt")
def get_requires_for_build_wheel(config_settings=None):
    return []
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _plant()
    name = "evilpkg-1.0-py3-none-any.whl"
    files = {"evilpkg/__init__.py": b"X = 1\n",
             "evilpkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: evilpkg\nVersion: 1.0\n",
             "evilpkg-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: evil\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = ""
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(data)}\n"
    record += "evilpkg-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
        z.writestr("evilpkg-1.0.dist-info/RECORD", record)
    return name
)py";

TEST_F(HostileOutputE2eTest, PipBuildBackendLinksInTheVenvStayLinksAndNeverCarryTheSecret) {
  if (::access("/usr/bin/python3.11", X_OK) != 0) GTEST_SKIP() << "python3.11 not installed";
  fs::path sdist_dir = tmp_.Join("sdist/evilpkg-1.0");
  std::string backend = kBackend;
  backend.replace(backend.find("@SECRET@"), 8, secret_);
  WriteFile(sdist_dir / "backend.py", backend);
  WriteFile(sdist_dir / "pyproject.toml",
            "[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\".\"]\n\n"
            "[project]\nname = \"evilpkg\"\nversion = \"1.0\"\n");
  WriteFile(sdist_dir / "PKG-INFO", "Metadata-Version: 2.1\nName: evilpkg\nVersion: 1.0\n");
  std::string sdist = tmp_.Join("evilpkg-1.0.tar.gz");
  ASSERT_EQ(RunCommand({"tar", "-czf", sdist, "-C", tmp_.Join("sdist"), "evilpkg-1.0"}).exit_code,
            0);
  TempDir index_root("tempa-pypi-");
  absl::StatusOr<std::unique_ptr<PypiIndex>> index = PypiIndex::Start(index_root.path(), {sdist});
  ASSERT_TRUE(index.ok()) << index.status();

  fs::path app = tmp_.Join("py-app");
  WriteFile(app / "requirements.txt", "evilpkg==1.0\n");
  WriteFile(app / "app.py", "import evilpkg\nprint(evilpkg.X)\n");
  CommandResult r =
      Tempa({"build", app.string(), "--image", registry() + "/py-backend", "--cache-dir",
             tmp_.Join("cache-py"), "--json", "--build-env", "PIP_INDEX_URL=" + (*index)->url()});
  if (r.exit_code != 0) {
    nlohmann::json error = ErrorOf(r);
    ASSERT_TRUE(error.is_object()) << r.out << r.err;
    EXPECT_EQ(error["kind"], "bad_input") << error.dump();
  } else {
    // The backend ran and its links went into the deps layer as links.
    CommandResult listing = RunCommand(
        {"sh", "-c",
         absl::StrCat("for f in $(find '", registry_->storage_dir(), "' -type f -name data); do ",
                      "tar -tvzf \"$f\" 2>/dev/null; done")});
    EXPECT_TRUE(absl::StrContains(listing.out, "opt/venv/leak-absolute.txt -> " + secret_))
        << listing.out;
  }
  EXPECT_FALSE(absl::StrContains(r.out + r.err, kSecret));
  ExpectNoBlobHolds("py-backend");
}

}  // namespace
}  // namespace tempa::testing
