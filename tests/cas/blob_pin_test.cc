// Pinning against eviction: a blob a running build holds survives any eviction (another
// build's publish, EvictToFit) until its pin is released; pins nest and move; a build's view
// pins what it writes from the moment it is published.
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "common/cas/local_cas.h"
#include "common/cas/pinning_blob_store.h"
#include "gtest/gtest.h"

namespace tempa::cas {
namespace {

namespace fs = std::filesystem;

class BlobPinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "blob_pin_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    LocalCasOptions options;
    options.max_bytes = 150;  // room for one 100-byte blob
    options.now = [this] { return now_ += absl::Seconds(1); };
    absl::StatusOr<std::unique_ptr<LocalCas>> cas = LocalCas::Open(root_, options);
    ASSERT_TRUE(cas.ok()) << cas.status();
    cas_ = *std::move(cas);
  }
  void TearDown() override {
    cas_.reset();
    fs::remove_all(root_);
  }
  Digest Put(char fill) {
    absl::StatusOr<Digest> d = cas_->blobs().Put(std::string(100, fill));
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : Digest();
  }
  bool Has(const Digest& d) { return *cas_->blobs().Contains(d); }

  std::string root_;
  absl::Time now_ = absl::FromUnixSeconds(1000);
  std::unique_ptr<LocalCas> cas_;
};

TEST_F(BlobPinTest, APinnedBlobSurvivesAnotherBuildsPublishAndEvictToFit) {
  Digest a = Put('a');
  absl::StatusOr<BlobPin> pin = cas_->blobs().Pin(a);
  ASSERT_TRUE(pin.ok()) << pin.status();
  Digest b = Put('b');  // another build's blob: over the cap, yet `a` stays
  EXPECT_TRUE(Has(a));
  EXPECT_TRUE(Has(b));  // the newest publish keeps itself
  ASSERT_TRUE(cas_->EvictToFit().ok());
  EXPECT_TRUE(Has(a));
  EXPECT_FALSE(Has(b));
}

TEST_F(BlobPinTest, AReleasedPinLetsTheBlobBeEvicted) {
  Digest a = Put('a');
  {
    absl::StatusOr<BlobPin> pin = cas_->blobs().Pin(a);
    ASSERT_TRUE(pin.ok());
    Put('b');
    EXPECT_TRUE(Has(a));
  }
  ASSERT_TRUE(cas_->EvictToFit().ok());
  EXPECT_FALSE(Has(a));
}

TEST_F(BlobPinTest, PinsNestAndMove) {
  Digest a = Put('a');
  absl::StatusOr<BlobPin> first = cas_->blobs().Pin(a);
  absl::StatusOr<BlobPin> second = cas_->blobs().Pin(a);
  ASSERT_TRUE(first.ok() && second.ok());
  BlobPin moved = *std::move(first);
  first->Release();  // the moved-from pin holds nothing
  Put('b');
  EXPECT_TRUE(Has(a));
  moved.Release();
  ASSERT_TRUE(cas_->EvictToFit().ok());
  EXPECT_TRUE(Has(a)) << "still held by the second pin";
  second->Release();
  Put('c');
  EXPECT_FALSE(Has(a));
}

TEST_F(BlobPinTest, BlobsWrittenThroughABuildsViewStayUntilTheViewEnds) {
  Digest a, b, other;
  {
    PinningBlobStore build(&cas_->blobs());
    a = *build.Put(std::string(100, 'a'));
    b = *build.Put(std::string(100, 'b'));  // its publish would evict `a` if `a` were not pinned
    other = Put('o');                       // another build's
    ASSERT_TRUE(cas_->EvictToFit().ok());
    EXPECT_TRUE(Has(a));
    EXPECT_TRUE(Has(b));
    EXPECT_FALSE(Has(other));
  }
  ASSERT_TRUE(cas_->EvictToFit().ok());
  EXPECT_FALSE(Has(a));
  EXPECT_LE(cas_->total_bytes(), 150u);
}

TEST_F(BlobPinTest, AViewHoldsABlobItFoundAndRefusesOneThatIsGone) {
  Digest a = Put('a');
  PinningBlobStore build(&cas_->blobs());
  ASSERT_TRUE(build.Hold(a).ok());
  Put('b');
  ASSERT_TRUE(cas_->EvictToFit().ok());
  EXPECT_TRUE(Has(a));
  EXPECT_EQ(build.Hold(Sha256Of("gone")).code(), absl::StatusCode::kNotFound);
}

TEST_F(BlobPinTest, PinningAnAbsentBlobIsNotFound) {
  absl::StatusOr<BlobPin> pin = cas_->blobs().Pin(Sha256Of("never stored"));
  EXPECT_EQ(pin.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tempa::cas
