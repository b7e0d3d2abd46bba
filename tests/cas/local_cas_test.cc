// Behaviour of the local content-addressed store: publishing, corruption, LRU eviction, reopen,
// the one-process lock and the action cache.
#include "common/cas/local_cas.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::cas {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class LocalCasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "cas_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    options_.now = [this] { return now_; };
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<LocalCas> OpenCas() {
    auto cas = LocalCas::Open(root_, options_);
    EXPECT_TRUE(cas.ok()) << cas.status();
    return cas.ok() ? std::move(*cas) : nullptr;
  }
  size_t FilesIn(const std::string& sub) {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(root_ + sub)) ++n;
    return n;
  }
  std::string BlobFile(const Digest& d) { return root_ + "/blobs/sha256/" + d.hex(); }

  std::string root_;
  LocalCasOptions options_;
  absl::Time now_ = absl::FromUnixSeconds(1000);
};

TEST_F(LocalCasTest, ConcurrentWritersOfTheSameBlobBothSucceed) {
  options_.now = [] { return absl::Now(); };  // the scripted clock is not thread-safe
  auto cas = OpenCas();
  std::string data(3 << 20, 'x');
  for (size_t i = 0; i < data.size(); i += 4099) data[i] = static_cast<char>(i);
  const Digest want = Sha256Of(data);

  std::vector<absl::Status> results(8);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      auto writer = cas->blobs().NewWriter();
      if (!writer.ok()) return void(results[t] = writer.status());
      for (size_t i = 0; i < data.size(); i += 65536) {
        absl::string_view chunk = absl::string_view(data).substr(i, 65536);
        if (auto s = (*writer)->Append(chunk); !s.ok()) return void(results[t] = s);
      }
      results[t] = (*writer)->Commit(want).status();
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& s : results) EXPECT_TRUE(s.ok()) << s;

  auto read = cas->blobs().Read(want);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, data);
  EXPECT_EQ(cas->total_bytes(), data.size());
  EXPECT_EQ(FilesIn("/tmp"), 0u);
  EXPECT_EQ(FilesIn("/blobs/sha256"), 1u);
}

TEST_F(LocalCasTest, CommitWithWrongExpectedDigestPublishesNothing) {
  auto cas = OpenCas();
  auto writer = cas->blobs().NewWriter();
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append("hello").ok());
  auto committed = (*writer)->Commit(Sha256Of("something else"));
  EXPECT_EQ(committed.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(committed.status().message(), HasSubstr(Sha256Of("hello").ToString()));
  writer->reset();

  EXPECT_FALSE(*cas->blobs().Contains(Sha256Of("hello")));
  EXPECT_FALSE(*cas->blobs().Contains(Sha256Of("something else")));
  EXPECT_EQ(FilesIn("/blobs/sha256"), 0u);
  EXPECT_EQ(FilesIn("/tmp"), 0u);
  EXPECT_EQ(cas->total_bytes(), 0u);
}

TEST_F(LocalCasTest, AbandonedWriterLeavesNoTempFile) {
  auto cas = OpenCas();
  {
    auto writer = cas->blobs().NewWriter();
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append(std::string(5 << 20, 'a')).ok());
    EXPECT_EQ(FilesIn("/tmp"), 1u);
  }
  EXPECT_EQ(FilesIn("/tmp"), 0u);
  EXPECT_EQ(FilesIn("/blobs/sha256"), 0u);
}

TEST_F(LocalCasTest, StaleTempFilesFromACrashedProcessAreRemovedOnOpen) {
  OpenCas().reset();
  std::ofstream(root_ + "/tmp/blob-crashed") << "partial";
  auto cas = OpenCas();
  EXPECT_EQ(FilesIn("/tmp"), 0u);
}

TEST_F(LocalCasTest, CorruptedBlobIsDetectedOnReadAndRemoved) {
  auto cas = OpenCas();
  auto digest = cas->blobs().Put("good content");
  ASSERT_TRUE(digest.ok());
  ASSERT_EQ(chmod(BlobFile(*digest).c_str(), 0644), 0);
  std::ofstream(BlobFile(*digest), std::ios::trunc) << "evil content";  // same size

  auto read = cas->blobs().Read(*digest);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(read.status().message(), HasSubstr(digest->ToString()));
  EXPECT_FALSE(fs::exists(BlobFile(*digest)));
  EXPECT_FALSE(*cas->blobs().Contains(*digest));
  EXPECT_EQ(cas->blobs().Size(*digest).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cas->total_bytes(), 0u);
}

TEST_F(LocalCasTest, CorruptedBlobIsDetectedByVerifyAndRemoved) {
  auto cas = OpenCas();
  auto digest = cas->blobs().Put("good content");
  ASSERT_TRUE(digest.ok());
  EXPECT_TRUE(cas->blobs().Verify(*digest).ok());
  ASSERT_EQ(chmod(BlobFile(*digest).c_str(), 0644), 0);
  std::ofstream(BlobFile(*digest), std::ios::trunc) << "evil content";

  EXPECT_EQ(cas->blobs().Verify(*digest).code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(fs::exists(BlobFile(*digest)));
  EXPECT_FALSE(*cas->blobs().Contains(*digest));
}

TEST_F(LocalCasTest, EvictsLeastRecentlyUsedBlobsPastTheCap) {
  options_.max_bytes = 300;
  auto cas = OpenCas();
  auto put_at = [&](int second, char fill) {
    now_ = absl::FromUnixSeconds(1000 + second);
    auto d = cas->blobs().Put(std::string(100, fill));
    EXPECT_TRUE(d.ok()) << d.status();
    return *d;
  };
  Digest a = put_at(1, 'a');
  Digest b = put_at(2, 'b');
  Digest c = put_at(3, 'c');
  now_ = absl::FromUnixSeconds(1004);
  ASSERT_TRUE(cas->blobs().Path(a).ok());  // a is now more recent than b and c
  Digest d = put_at(5, 'd');

  EXPECT_TRUE(*cas->blobs().Contains(a));
  EXPECT_FALSE(*cas->blobs().Contains(b));
  EXPECT_TRUE(*cas->blobs().Contains(c));
  EXPECT_TRUE(*cas->blobs().Contains(d));
  EXPECT_EQ(cas->total_bytes(), 300u);

  // A blob larger than the whole cap is kept (it was just committed); everything else goes.
  Digest big = put_at(6, 'z');
  now_ = absl::FromUnixSeconds(1007);
  auto huge = cas->blobs().Put(std::string(500, 'h'));
  ASSERT_TRUE(huge.ok());
  EXPECT_TRUE(*cas->blobs().Contains(*huge));
  EXPECT_FALSE(*cas->blobs().Contains(big));
  EXPECT_FALSE(*cas->blobs().Contains(a));
  EXPECT_EQ(cas->total_bytes(), 500u);
  EXPECT_EQ(FilesIn("/blobs/sha256"), 1u);
}

TEST_F(LocalCasTest, EvictToFitHonoursALowerCapOnReopen) {
  auto cas = OpenCas();
  for (char fill : {'a', 'b', 'c'}) {
    now_ += absl::Seconds(1);
    ASSERT_TRUE(cas->blobs().Put(std::string(100, fill)).ok());
  }
  cas.reset();
  options_.max_bytes = 150;
  cas = OpenCas();
  EXPECT_EQ(cas->total_bytes(), 100u);
  EXPECT_TRUE(*cas->blobs().Contains(Sha256Of(std::string(100, 'c'))));
}

TEST_F(LocalCasTest, IndexAndActionsSurviveReopen) {
  oci::LayerRecord layer;
  Digest blob;
  {
    auto cas = OpenCas();
    auto d = cas->blobs().Put("layer bytes");
    ASSERT_TRUE(d.ok());
    blob = *d;
    layer.blob = {oci::kMediaTypeLayerGzip, blob, 11, {}};
    layer.diff_id = Sha256Of("uncompressed");
    ASSERT_TRUE(cas->actions().Put("deps:go1.23:abc", layer).ok());
  }
  auto cas = OpenCas();
  EXPECT_TRUE(*cas->blobs().Contains(blob));
  EXPECT_EQ(*cas->blobs().Size(blob), 11u);
  EXPECT_EQ(cas->total_bytes(), 11u);
  auto got = cas->actions().Get("deps:go1.23:abc");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, layer);
}

TEST_F(LocalCasTest, ReopenReconcilesTheIndexWithTheFilesOnDisk) {
  Digest kept, deleted;
  {
    auto cas = OpenCas();
    kept = *cas->blobs().Put("kept");
    deleted = *cas->blobs().Put("deleted");
  }
  fs::remove(BlobFile(deleted));
  // A blob whose index entry a crash lost, and a file that is not a blob at all.
  Digest orphan = Sha256Of("orphan");
  std::ofstream(BlobFile(orphan)) << "orphan";
  std::ofstream(BlobFile(Sha256Of("liar"))) << "not what the name says";

  auto cas = OpenCas();
  EXPECT_TRUE(*cas->blobs().Contains(kept));
  EXPECT_FALSE(*cas->blobs().Contains(deleted));
  EXPECT_TRUE(*cas->blobs().Contains(orphan));
  EXPECT_FALSE(fs::exists(BlobFile(Sha256Of("liar"))));
  EXPECT_EQ(cas->total_bytes(), 4u + 6u);
}

TEST_F(LocalCasTest, SecondOpenerWaitsThenFailsClearly) {
  auto first = OpenCas();
  LocalCasOptions second_options;
  second_options.lock_wait = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  auto second = LocalCas::Open(root_, second_options);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(),
              HasSubstr("cache directory " + root_ +
                        " is in use by another tempa process; wait for it or pass a different "
                        "--cache-dir"));

  first.reset();
  EXPECT_TRUE(LocalCas::Open(root_, second_options).ok());
}

TEST_F(LocalCasTest, ActionCacheRoundTripsLayerRecords) {
  auto cas = OpenCas();
  EXPECT_FALSE(cas->actions().Get("missing")->has_value());

  oci::LayerRecord first{{oci::kMediaTypeLayerGzip, Sha256Of("a.tgz"), 1234, {}},
                         Sha256Of("a.tar")};
  oci::LayerRecord second{{oci::kMediaTypeLayerTar, Sha256Of("b.tar"), 1ll << 40, {}},
                          Sha256Of("b.tar")};
  ASSERT_TRUE(cas->actions().Put("key", first).ok());
  EXPECT_EQ(*cas->actions().Get("key"), first);
  ASSERT_TRUE(cas->actions().Put("key", second).ok());  // replaces
  EXPECT_EQ(*cas->actions().Get("key"), second);
  EXPECT_FALSE(cas->actions().Get("other")->has_value());
}

TEST_F(LocalCasTest, OnlyTheExactActionKeyHitsNeverAPrefixOrANeighbour) {
  auto cas = OpenCas();
  oci::LayerRecord layer{{oci::kMediaTypeLayerGzip, Sha256Of("a.tgz"), 10, {}}, Sha256Of("a.tar")};
  const std::string key = Sha256Of("inputs").ToString();
  ASSERT_TRUE(cas->actions().Put(key, layer).ok());
  EXPECT_EQ(*cas->actions().Get(key), layer);
  std::string neighbour = key;
  neighbour.back() = neighbour.back() == '0' ? '1' : '0';
  for (const std::string& other : {key.substr(0, key.size() - 1), key + "0", neighbour,
                                   absl::AsciiStrToUpper(key), std::string()}) {
    absl::StatusOr<std::optional<oci::LayerRecord>> got = cas->actions().Get(other);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_FALSE(got->has_value()) << other;
  }
}

}  // namespace
}  // namespace tempa::cas
