// The source view's times follow content: an unchanged path keeps the time it was given, a
// changed, new, removed or renamed one (and its directory) gets a time later than any the app's
// builds saw, whatever times the user's files carry; links are copied, never followed; a record
// that is not exactly what Tempa writes is refused.
#include "buildpacks/internal/source_view.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "temp_tree.h"

namespace tempa::buildpacks::internal {
namespace {

using test_support::TempTree;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

int64_t MtimeNs(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
}

void SetMtime(const std::string& path, absl::Time t) {
  struct timespec times[2] = {absl::ToTimespec(t), absl::ToTimespec(t)};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

int64_t Ns(absl::Time t) { return absl::ToUnixNanos(t); }

class SourceViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_.Write("Cargo.toml", "[workspace]\n");
    src_.Write("lib/src/lib.rs", "pub const S: &str = \"A\";\n");
    src_.Write("bin/src/main.rs", "fn main() {}\n");
  }

  // Makes the view number `n` at time `now`.
  SourceViewResult View(int n, absl::Time now) {
    absl::StatusOr<SourceViewResult> result =
        MakeSourceView(src_.path(), View(n), record(), now, {{"target", ".git"}, true});
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : SourceViewResult{};
  }
  std::string View(int n) const { return out_ / ("view" + std::to_string(n)); }
  std::string record() const { return out_ / "source-times"; }

  TempTree src_, out_;
};

TEST_F(SourceViewTest, AnUnchangedFileKeepsItsTimeAndAChangedOneGetsALaterOne) {
  SourceViewResult first = View(1, kT0);
  EXPECT_EQ(first.changed, first.entries);  // a first build: everything is new
  EXPECT_FALSE(first.record_ignored);
  EXPECT_EQ(MtimeNs(View(1) + "/lib/src/lib.rs"), Ns(kT0));

  // The change carries a time older than the first build, as a `cp -p` or a checkout would.
  src_.Write("lib/src/lib.rs", "pub const S: &str = \"B\";\n");
  SetMtime(src_ / "lib/src/lib.rs", kT0 - absl::Hours(48));
  SourceViewResult second = View(2, kT0 + absl::Minutes(1));
  EXPECT_EQ(second.changed, 1u);
  EXPECT_EQ(MtimeNs(View(2) + "/bin/src/main.rs"), Ns(kT0));
  EXPECT_EQ(MtimeNs(View(2) + "/Cargo.toml"), Ns(kT0));
  EXPECT_EQ(MtimeNs(View(2) + "/lib/src/lib.rs"), Ns(kT0 + absl::Minutes(1)));
  EXPECT_EQ(test_support::ReadFileOrEmpty(View(2) + "/lib/src/lib.rs"),
            "pub const S: &str = \"B\";\n");

  // Back to the first content: still a change (a new time), never the first build's time.
  src_.Write("lib/src/lib.rs", "pub const S: &str = \"A\";\n");
  View(3, kT0 + absl::Minutes(2));
  EXPECT_EQ(MtimeNs(View(3) + "/lib/src/lib.rs"), Ns(kT0 + absl::Minutes(2)));
}

TEST_F(SourceViewTest, TheUsersTimesNeverMatter) {
  View(1, kT0);
  // Touched, content unchanged: keeps its time.
  SetMtime(src_ / "bin/src/main.rs", kT0 + absl::Hours(5));
  View(2, kT0 + absl::Minutes(1));
  EXPECT_EQ(MtimeNs(View(2) + "/bin/src/main.rs"), Ns(kT0));
}

TEST_F(SourceViewTest, ANewFileAndItsDirectoryGetANewTime) {
  View(1, kT0);
  src_.Write("lib/src/extra.rs", "// new\n");
  SourceViewResult second = View(2, kT0 + absl::Minutes(1));
  EXPECT_EQ(MtimeNs(View(2) + "/lib/src/extra.rs"), Ns(kT0 + absl::Minutes(1)));
  EXPECT_EQ(MtimeNs(View(2) + "/lib/src"), Ns(kT0 + absl::Minutes(1)));
  EXPECT_EQ(MtimeNs(View(2) + "/bin/src"), Ns(kT0));
  EXPECT_EQ(second.changed, 2u);
}

TEST_F(SourceViewTest, ARemovedOrRenamedFileIsAChange) {
  src_.Write("lib/src/old.rs", "// old\n");
  View(1, kT0);
  ASSERT_EQ(::unlink((src_ / "lib/src/old.rs").c_str()), 0);
  View(2, kT0 + absl::Minutes(1));
  EXPECT_EQ(MtimeNs(View(2) + "/lib/src"), Ns(kT0 + absl::Minutes(1)));

  ASSERT_EQ(::rename((src_ / "bin/src/main.rs").c_str(), (src_ / "bin/src/app.rs").c_str()), 0);
  View(3, kT0 + absl::Minutes(2));
  EXPECT_EQ(MtimeNs(View(3) + "/bin/src/app.rs"), Ns(kT0 + absl::Minutes(2)));
  EXPECT_EQ(MtimeNs(View(3) + "/bin/src"), Ns(kT0 + absl::Minutes(2)));
  EXPECT_EQ(MtimeNs(View(3) + "/lib/src/lib.rs"), Ns(kT0));
}

TEST_F(SourceViewTest, ASymlinkIsCopiedAsALinkNeverFollowed) {
  src_.Symlink("/etc/passwd", "lib/src/secret");
  View(1, kT0);
  char target[64] = {};
  ASSERT_GT(::readlink((View(1) + "/lib/src/secret").c_str(), target, sizeof(target) - 1), 0);
  EXPECT_STREQ(target, "/etc/passwd");
  EXPECT_EQ(MtimeNs(View(1) + "/lib/src/secret"), Ns(kT0));
  // Its target text is its content: retargeting it is a change.
  ASSERT_EQ(::unlink((src_ / "lib/src/secret").c_str()), 0);
  src_.Symlink("/etc/shadow", "lib/src/secret");
  View(2, kT0 + absl::Minutes(1));
  EXPECT_EQ(MtimeNs(View(2) + "/lib/src/secret"), Ns(kT0 + absl::Minutes(1)));
}

TEST_F(SourceViewTest, TargetAndGitAreLeftOut) {
  src_.Write("target/release/app", "stale");
  src_.Write(".git/HEAD", "ref");
  View(1, kT0);
  EXPECT_NE(::access((View(1) + "/target").c_str(), F_OK), 0);
  EXPECT_NE(::access((View(1) + "/.git").c_str(), F_OK), 0);
}

TEST_F(SourceViewTest, NewTimesAreLaterThanAnyGivenEvenWhenTheClockGoesBack) {
  View(1, kT0);
  src_.Write("lib/src/lib.rs", "changed\n");
  View(2, kT0 - absl::Hours(1));
  EXPECT_EQ(MtimeNs(View(2) + "/lib/src/lib.rs"), Ns(kT0 + absl::Seconds(1)));
}

TEST_F(SourceViewTest, AHostileRecordIsRefusedAndEverythingCountsAsChanged) {
  View(1, kT0);
  std::string good = test_support::ReadFileOrEmpty(record());
  ASSERT_FALSE(good.empty());
  const std::string hex_lib = "6c69622f7372632f6c69622e7273";  // "lib/src/lib.rs"
  const std::string hash(64, 'a');
  const std::vector<std::string> hostile = {
      "garbage\n",
      good.substr(0, good.size() - 1),                         // torn: no final newline
      good + "f " + hash + " 5 " + hex_lib + "\n",             // a path twice
      good + "f " + hash + " 5 2e2e2f6574632f706173737764\n",  // "../etc/passwd"
      good + "f " + hash + " 5 2f6574632f706173737764\n",      // "/etc/passwd"
      good + "x " + hash + " 5 6162\n",                        // no such kind
      // Times far in the future would push every later build's times there.
      "tempa-source-times v1 9000000000000000000\n",
      std::string(kMaxSourceTimesRecordBytes + 1, 'a'),
  };
  int n = 2;
  for (const std::string& text : hostile) {
    out_.Write("source-times", text);
    SourceViewResult result = View(n, kT0 + absl::Minutes(n));
    EXPECT_TRUE(result.record_ignored) << text.substr(0, 200);
    EXPECT_EQ(result.changed, result.entries);
    EXPECT_EQ(MtimeNs(View(n) + "/bin/src/main.rs"), Ns(kT0 + absl::Minutes(n)));
    ++n;
  }
  // A link planted where the record is: not followed, refused, and replaced by a record.
  ASSERT_EQ(::unlink(record().c_str()), 0);
  out_.Symlink(src_ / "Cargo.toml", "source-times");
  SourceViewResult linked = View(n, kT0 + absl::Minutes(n));
  EXPECT_TRUE(linked.record_ignored);
  EXPECT_EQ(test_support::ReadFileOrEmpty(src_ / "Cargo.toml"), "[workspace]\n");
  struct stat st;
  ASSERT_EQ(::lstat(record().c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // And the rewritten record is used again.
  EXPECT_FALSE(View(n + 1, kT0 + absl::Minutes(n + 1)).record_ignored);
}

}  // namespace
}  // namespace tempa::buildpacks::internal
