#include "common/oci/layer_writer.h"

#include <archive_entry.h>
#include <unistd.h>

#include <clocale>
#include <random>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/oci/test_util.h"
#include "tests/support/dir_blob_store.h"

namespace tempa::oci {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ReadEntry;
using testing::ReadLayer;
using testing::TempDir;
using testing::WriteFile;
using Type = LayerEntry::Type;

constexpr int64_t kEpoch = 1700000000;  // 2023-11-14T22:13:20Z

LayerSpec TinySpec() {
  LayerSpec spec;
  // Added out of order, without "app" and "app/bin": the writer sorts and adds parents.
  spec.Add({"tmp", Type::kDirectory, 01777, "", {}, ""});
  spec.Add({"app/bin/server", Type::kFile, 0755, "", "#!/bin/sh\necho hi\n", ""});
  spec.Add({"app/current", Type::kSymlink, 0777, "", {}, "bin/server"});
  spec.Add({"app/hard", Type::kHardlink, 0644, "", {}, "app/README"});
  spec.Add({"app/README", Type::kFile, 0644, "", "hello\n", ""});
  spec.Add({"etc/empty", Type::kDirectory, 0700, "", {}, ""});
  return spec;
}

LayerWriteOptions Options(int threads = 2) {
  LayerWriteOptions options;
  options.mtime = kEpoch;
  options.threads = threads;
  return options;
}

struct Written {
  LayerWriteResult result;
  std::string bytes;
};

Written Write(const LayerSpec& spec, const LayerWriteOptions& options) {
  StringSink sink;
  absl::StatusOr<LayerWriteResult> result = WriteLayerTo(spec, options, sink);
  EXPECT_TRUE(result.ok()) << result.status();
  return {result.ok() ? *result : LayerWriteResult{}, sink.data()};
}

// TEMPA_DUMP_DIR=/tmp/x keeps the layers of the golden and odd-name tests for `tar -tvvzf`.
void MaybeDump(const std::string& name, const std::string& bytes) {
  if (const char* dir = std::getenv("TEMPA_DUMP_DIR")) WriteFile(absl::StrCat(dir, "/", name), bytes);
}

std::vector<std::string> Paths(const std::vector<ReadEntry>& entries) {
  std::vector<std::string> paths;
  for (const ReadEntry& e : entries) paths.push_back(e.path);
  return paths;
}

// The golden digests pin the whole format: tar layout, pax choices, gzip framing and
// libdeflate 1.14's level-6 output. Checked by eye with `tar -tvvzf` when recorded. If this
// fails, determinism broke (or libdeflate changed: then every cached layer digest changes too).
TEST(LayerWriterTest, GoldenDigestOfATinyTree) {
  Written w = Write(TinySpec(), Options());
  EXPECT_EQ(w.result.diff_id.ToString(), "sha256:b625d7ed15d7e4c735c4f18ae0f3b4db77db3982f1e6940fe3ad8d94e136359a");
  EXPECT_EQ(w.result.digest.ToString(), "sha256:be57bbf4942073fb5f43a2eca122585085cdd2874334d0e46509e6949f259092");
  EXPECT_EQ(w.result.size, static_cast<int64_t>(w.bytes.size()));
  EXPECT_EQ(w.result.entries, 9);
  MaybeDump("golden.tar.gz", w.bytes);
}

TEST(LayerWriterTest, VersionNamesTheCompressorAndMemberSize) {
  EXPECT_EQ(LayerWriterVersion(Options()), "pax1/libdeflate-1.14/members-1048576");
}

TEST(LayerWriterTest, ReadsBackWithSortedEntriesFixedOwnersAndOneMtime) {
  Written w = Write(TinySpec(), Options());
  std::vector<ReadEntry> entries = ReadLayer(w.bytes);
  EXPECT_THAT(Paths(entries), ElementsAre("app/", "app/README", "app/bin/", "app/bin/server",
                                          "app/current", "app/hard", "etc/", "etc/empty/",
                                          "tmp/"));
  for (const ReadEntry& e : entries) {
    SCOPED_TRACE(e.path);
    EXPECT_EQ(e.mtime, kEpoch);
    EXPECT_EQ(e.uid, 0);
    EXPECT_EQ(e.gid, 0);
    EXPECT_EQ(e.uname, "");
    EXPECT_EQ(e.gname, "");
    EXPECT_FALSE(e.atime_set);
    EXPECT_FALSE(e.ctime_set);
  }
  ASSERT_EQ(entries.size(), 9u);
  EXPECT_EQ(entries[0].type, static_cast<unsigned>(AE_IFDIR));
  EXPECT_EQ(entries[0].perm, 0755u);  // implicit parent
  EXPECT_EQ(entries[1].contents, "hello\n");
  EXPECT_EQ(entries[1].perm, 0644u);
  EXPECT_EQ(entries[3].perm, 0755u);
  EXPECT_EQ(entries[3].contents, "#!/bin/sh\necho hi\n");
  EXPECT_EQ(entries[4].type, static_cast<unsigned>(AE_IFLNK));
  EXPECT_EQ(entries[4].symlink, "bin/server");
  EXPECT_EQ(entries[5].hardlink, "app/README");
  EXPECT_EQ(entries[7].perm, 0700u);
  EXPECT_EQ(entries[8].perm, 01777u);
}

TEST(LayerWriterTest, OwnerAndMtimeComeFromTheOptions) {
  LayerWriteOptions options = Options();
  options.uid = 1000;
  options.gid = 1001;
  options.mtime = 86400;
  Written w = Write(TinySpec(), options);
  for (const ReadEntry& e : ReadLayer(w.bytes)) {
    EXPECT_EQ(e.uid, 1000);
    EXPECT_EQ(e.gid, 1001);
    EXPECT_EQ(e.mtime, 86400);
  }
}

TEST(LayerWriterTest, ThreadCountDoesNotChangeTheBytes) {
  std::string big(3 << 20, '\0');
  std::mt19937 rng(7);
  for (char& c : big) c = static_cast<char>('a' + rng() % 8);
  LayerSpec spec = TinySpec();
  spec.Add({"data/big", Type::kFile, 0644, "", big, ""});
  Written one = Write(spec, Options(1));
  Written four = Write(spec, Options(4));
  EXPECT_TRUE(one.bytes == four.bytes);
  EXPECT_EQ(one.result.digest, four.result.digest);

  // Smaller members: different gzip bytes, same tar.
  LayerWriteOptions small = Options(3);
  small.chunk_bytes = 64 << 10;
  Written chunked = Write(spec, small);
  EXPECT_NE(chunked.result.digest, one.result.digest);
  EXPECT_EQ(chunked.result.diff_id, one.result.diff_id);
  std::vector<ReadEntry> entries = ReadLayer(chunked.bytes);
  ASSERT_EQ(entries.size(), 11u);
  EXPECT_EQ(entries[7].path, "data/big");
  EXPECT_TRUE(entries[7].contents == big);
}

TEST(LayerWriterTest, OddNamesRoundTripAndDoNotDependOnTheLocale) {
  std::string long_path;
  for (int i = 0; i < 6; ++i) absl::StrAppend(&long_path, std::string(20, 'a' + i), "/");
  absl::StrAppend(&long_path, std::string(150 - long_path.size(), 'z'));
  ASSERT_EQ(long_path.size(), 150u);
  const std::vector<std::string> names = {"with space.txt", "ünïcødé/日本語.txt", long_path,
                                          "new\nline", "latin1-\xe9\xff"};
  LayerSpec spec;
  for (const std::string& name : names) spec.Add({name, Type::kFile, 0644, "", name, ""});

  std::setlocale(LC_ALL, "C");
  Written c = Write(spec, Options());
  std::setlocale(LC_ALL, "C.UTF-8");
  Written utf8 = Write(spec, Options());
  std::setlocale(LC_ALL, "C");
  EXPECT_TRUE(c.bytes == utf8.bytes);
  MaybeDump("odd-names.tar.gz", c.bytes);

  std::map<std::string, std::string> read;
  for (const ReadEntry& e : ReadLayer(c.bytes)) read[e.path] = e.contents;
  for (const std::string& name : names) {
    ASSERT_EQ(read.count(name), 1u) << name;
    EXPECT_EQ(read[name], name);
  }
}

TEST(LayerWriterTest, SameContentWithDifferentMtimesAndCreationOrderGivesIdenticalBytes) {
  TempDir dir;
  WriteFile(dir / "one/go.mod", "module x\n");
  WriteFile(dir / "one/cmd/main.go", "package main\n", 0755);
  testing::MakeDirs(dir / "one/empty");
  ASSERT_EQ(symlink("cmd/main.go", (dir / "one/link").c_str()), 0);
  ASSERT_EQ(link((dir / "one/go.mod").c_str(), (dir / "one/go.mod.hard").c_str()), 0);
  sleep(1);  // different mtimes and ctimes on disk
  testing::MakeDirs(dir / "two");
  ASSERT_EQ(symlink("cmd/main.go", (dir / "two/link").c_str()), 0);  // created first this time
  testing::MakeDirs(dir / "two/empty");
  WriteFile(dir / "two/cmd/main.go", "package main\n", 0700);  // exec bit, different perms
  WriteFile(dir / "two/go.mod", "module x\n", 0600);
  ASSERT_EQ(link((dir / "two/go.mod").c_str(), (dir / "two/go.mod.hard").c_str()), 0);

  LayerSpec a, b;
  ASSERT_TRUE(a.AddTree(dir / "one", "app").ok());
  ASSERT_TRUE(b.AddTree(dir / "two", "app").ok());
  Written wa = Write(a, Options());
  Written wb = Write(b, Options());
  EXPECT_TRUE(wa.bytes == wb.bytes);
  EXPECT_EQ(wa.result.digest, wb.result.digest);
}

TEST(LayerWriterTest, GzipAndTarAcceptTheLayer) {
  TempDir dir;
  LayerSpec spec = TinySpec();
  spec.Add({"data/big", Type::kFile, 0644, "", std::string(5 << 20, 'x'), ""});
  Written w = Write(spec, Options());
  std::string file = dir / "layer.tar.gz";
  WriteFile(file, w.bytes);
  testing::CommandResult gzip = testing::Run("gzip -t " + file);
  EXPECT_EQ(gzip.exit_code, 0) << gzip.output;
  testing::CommandResult tar = testing::Run("tar -tzf " + file);
  EXPECT_EQ(tar.exit_code, 0) << tar.output;
  EXPECT_THAT(tar.output, HasSubstr("app/bin/server\n"));
  EXPECT_THAT(tar.output, HasSubstr("data/big\n"));
  testing::CommandResult diff_id = testing::Run("gzip -dc " + file + " | sha256sum");
  EXPECT_THAT(diff_id.output, HasSubstr(w.result.diff_id.hex()));
  testing::CommandResult digest = testing::Run("sha256sum " + file);
  EXPECT_THAT(digest.output, HasSubstr(w.result.digest.hex()));
}

TEST(LayerWriterTest, FilesAreStreamedFromDisk) {
  TempDir dir;
  std::string data(3 * (1 << 20) + 17, '\0');
  std::mt19937 rng(1);
  for (char& c : data) c = static_cast<char>(rng());
  WriteFile(dir / "blob", data);
  LayerSpec spec;
  spec.Add({"blob", Type::kFile, 0644, dir / "blob", {}, ""});
  Written w = Write(spec, Options());
  std::vector<ReadEntry> entries = ReadLayer(w.bytes);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_TRUE(entries[0].contents == data);
}

TEST(LayerWriterTest, EmptySpecIsAValidEmptyLayer) {
  Written w = Write(LayerSpec(), Options());
  EXPECT_EQ(w.result.tar_size, 1024);
  EXPECT_TRUE(ReadLayer(w.bytes).empty());
}

absl::Status WriteError(const LayerSpec& spec) {
  StringSink sink;
  return WriteLayerTo(spec, Options(), sink).status();
}

TEST(LayerWriterTest, InvalidSpecsAreRefused) {
  for (const char* path : {"/abs", "a/../b", "a//b", "./a", "a/", ""}) {
    LayerSpec spec;
    spec.Add({path, Type::kFile, 0644, "", "x", ""});
    EXPECT_EQ(WriteError(spec).code(), absl::StatusCode::kInvalidArgument) << path;
  }
  LayerSpec under_file;
  under_file.Add({"a", Type::kFile, 0644, "", "x", ""});
  under_file.Add({"a/b", Type::kFile, 0644, "", "x", ""});
  EXPECT_THAT(WriteError(under_file).message(), HasSubstr("not a directory"));

  LayerSpec forward_link;
  forward_link.Add({"a", Type::kHardlink, 0644, "", {}, "b"});
  forward_link.Add({"b", Type::kFile, 0644, "", "x", ""});
  EXPECT_EQ(WriteError(forward_link).code(), absl::StatusCode::kInvalidArgument);

  LayerSpec missing;
  missing.Add({"a", Type::kFile, 0644, "/nonexistent/tempa/file", {}, ""});
  absl::Status status = WriteError(missing);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("/nonexistent/tempa/file"));

  StringSink sink;
  LayerWriteOptions bad_level = Options();
  bad_level.compression_level = 13;
  EXPECT_EQ(WriteLayerTo(LayerSpec(), bad_level, sink).status().code(),
            absl::StatusCode::kInvalidArgument);
}

class FailingSink : public ByteSink {
 public:
  absl::Status Write(absl::string_view) override { return absl::ResourceExhaustedError("full"); }
};

TEST(LayerWriterTest, SinkErrorsAreReturned) {
  FailingSink sink;
  LayerSpec spec = TinySpec();
  spec.Add({"big", Type::kFile, 0644, "", std::string(8 << 20, 'y'), ""});
  absl::StatusOr<LayerWriteResult> result = WriteLayerTo(spec, Options(), sink);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(LayerWriterTest, WriteLayerStoresTheBlobAndDescribesIt) {
  TempDir dir;
  tempa::testing::DirBlobStore store(dir.path());
  absl::StatusOr<LayerRecord> record = WriteLayer(TinySpec(), Options(), store);
  ASSERT_TRUE(record.ok()) << record.status();
  Written w = Write(TinySpec(), Options());
  EXPECT_EQ(record->blob.media_type, kMediaTypeLayerGzip);
  EXPECT_EQ(record->blob.digest, w.result.digest);
  EXPECT_EQ(record->blob.size, w.result.size);
  EXPECT_EQ(record->diff_id, w.result.diff_id);
  absl::StatusOr<std::string> stored = store.Read(record->blob.digest);
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(*stored == w.bytes);
}

}  // namespace
}  // namespace tempa::oci
