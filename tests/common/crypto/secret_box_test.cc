#include "common/crypto/secret_box.h"

#include <sys/stat.h>
#include <unistd.h>

#include <random>
#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace tempa::crypto {
namespace {

using ::testing::HasSubstr;

std::string KeyBytes(char seed) {
  std::string key(SecretBox::kKeySize, '\0');
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<char>(seed + 7 * i);
  return key;
}

SecretBox BoxOrDie(char seed) {
  absl::StatusOr<SecretBox> box = SecretBox::FromKey(KeyBytes(seed));
  EXPECT_TRUE(box.ok()) << box.status();
  return std::move(*box);
}

void WritePrivate(const std::string& path, const std::string& contents) {
  testing::WriteFileOrDie(path, contents);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
}

TEST(SecretBoxTest, OpenReturnsWhatSealSealed) {
  SecretBox box = BoxOrDie('a');
  for (std::string plaintext : {std::string(), std::string("s3cret"), std::string(1 << 20, 'x'),
                                std::string("\0binary\xff", 8)}) {
    std::string sealed = box.Seal(plaintext, "app/web/webhook_secret");
    EXPECT_EQ(sealed.size(), plaintext.size() + SecretBox::kOverhead);
    EXPECT_EQ(static_cast<uint8_t>(sealed[0]), SecretBox::kVersion);
    absl::StatusOr<std::string> opened = box.Open(sealed, "app/web/webhook_secret");
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(*opened, plaintext);
  }
}

TEST(SecretBoxTest, SealedValueHidesThePlaintextAndNeverRepeats) {
  SecretBox box = BoxOrDie('a');
  std::string plaintext = "ghp_averyrecognisabletokenvalue";
  std::string first = box.Seal(plaintext, "app/web/git_credentials");
  std::string second = box.Seal(plaintext, "app/web/git_credentials");
  EXPECT_NE(first, second) << "a nonce was reused";
  EXPECT_EQ(first.find(plaintext), std::string::npos);
  EXPECT_EQ(first.find("averyrecognisable"), std::string::npos);
}

TEST(SecretBoxTest, ValueMovedToAnotherRecordDoesNotOpen) {
  SecretBox box = BoxOrDie('a');
  std::string sealed = box.Seal("s3cret", "app/web/webhook_secret");
  absl::StatusOr<std::string> opened = box.Open(sealed, "app/evil/webhook_secret");
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(box.Open(sealed, "").ok());
  EXPECT_FALSE(box.Open(sealed, "app/web/webhook_secret ").ok());
}

TEST(SecretBoxTest, ValueSealedUnderAnotherKeyDoesNotOpen) {
  std::string sealed = BoxOrDie('a').Seal("s3cret", "ad");
  absl::StatusOr<std::string> opened = BoxOrDie('b').Open(sealed, "ad");
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(opened.status().message(), HasSubstr("another key"));
}

TEST(SecretBoxTest, EveryFlippedBitIsDetected) {
  SecretBox box = BoxOrDie('a');
  std::string sealed = box.Seal("s3cret value", "ad");
  for (size_t byte = 0; byte < sealed.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string tampered = sealed;
      tampered[byte] = static_cast<char>(tampered[byte] ^ (1 << bit));
      EXPECT_FALSE(box.Open(tampered, "ad").ok()) << "byte " << byte << " bit " << bit;
    }
  }
}

TEST(SecretBoxTest, EveryTruncationAndExtensionIsDetected) {
  SecretBox box = BoxOrDie('a');
  std::string sealed = box.Seal("s3cret value", "ad");
  for (size_t n = 0; n < sealed.size(); ++n) {
    EXPECT_FALSE(box.Open(sealed.substr(0, n), "ad").ok()) << "kept " << n << " bytes";
    EXPECT_FALSE(box.Open(sealed.substr(n + 1), "ad").ok()) << "dropped " << n + 1 << " bytes";
  }
  EXPECT_FALSE(box.Open(sealed + "x", "ad").ok());
  EXPECT_FALSE(box.Open(sealed + std::string(16, '\0'), "ad").ok());
}

TEST(SecretBoxTest, UnknownVersionIsRefusedAsNotASealedValue) {
  SecretBox box = BoxOrDie('a');
  std::string sealed = box.Seal("s3cret", "ad");
  sealed[0] = 2;
  absl::StatusOr<std::string> opened = box.Open(sealed, "ad");
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(opened.status().message(), HasSubstr("version 2"));
}

TEST(SecretBoxTest, RandomGarbageNeverOpensNorCrashes) {
  SecretBox box = BoxOrDie('a');
  std::mt19937_64 rng(12345);
  for (int i = 0; i < 20000; ++i) {
    size_t size = rng() % 96;
    std::string garbage(size, '\0');
    for (char& c : garbage) c = static_cast<char>(rng());
    // Half of them carry the right version byte, so they reach the cipher.
    if (size > 0 && i % 2 == 0) garbage[0] = SecretBox::kVersion;
    EXPECT_FALSE(box.Open(garbage, "ad").ok()) << "input " << i;
  }
}

TEST(SecretBoxTest, KeyOfTheWrongSizeIsRefused) {
  EXPECT_EQ(SecretBox::FromKey(std::string(31, 'k')).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SecretBox::FromKey(std::string(33, 'k')).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SecretBox::FromKey("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SecretBoxTest, MovedFromBoxNoLongerHoldsTheKey) {
  SecretBox original = BoxOrDie('a');
  std::string sealed = original.Seal("s3cret", "ad");
  SecretBox moved(std::move(original));
  EXPECT_TRUE(moved.Open(sealed, "ad").ok());
  EXPECT_FALSE(original.Open(sealed, "ad").ok());  // NOLINT(bugprone-use-after-move)
}

TEST(SecretBoxKeyFileTest, RawHexAndBase64FilesGiveTheSameKey) {
  testing::TempDir dir;
  std::string key = KeyBytes('k');
  std::string hex = absl::BytesToHexString(key);
  std::string upper_hex = hex;
  for (char& c : upper_hex) c = absl::ascii_toupper(static_cast<unsigned char>(c));
  std::vector<std::pair<std::string, std::string>> files = {
      {"raw", key},
      {"hex", hex},
      {"hex-newline", hex + "\n"},
      {"hex-upper-crlf", upper_hex + "\r\n"},
      {"base64", absl::Base64Escape(key)},
      {"base64-newline", absl::Base64Escape(key) + "\n"},
  };
  std::string sealed = BoxOrDie('k').Seal("s3cret", "ad");
  for (const auto& [name, contents] : files) {
    WritePrivate(dir.Join(name), contents);
    absl::StatusOr<SecretBox> box = SecretBox::FromKeyFile(dir.Join(name));
    ASSERT_TRUE(box.ok()) << name << ": " << box.status();
    absl::StatusOr<std::string> opened = box->Open(sealed, "ad");
    ASSERT_TRUE(opened.ok()) << name << ": " << opened.status();
    EXPECT_EQ(*opened, "s3cret");
  }
}

TEST(SecretBoxKeyFileTest, FileWithoutA32ByteKeyIsRefused) {
  testing::TempDir dir;
  std::string key = KeyBytes('k');
  for (std::string contents :
       {std::string(), std::string("\n"), key.substr(0, 31), key + "\n" + "x",
        absl::BytesToHexString(key).substr(0, 62) + "\n", absl::BytesToHexString(key) + "00\n",
        absl::Base64Escape(key.substr(0, 24)) + "\n", std::string("password123\n"),
        std::string(64, 'g')}) {
    WritePrivate(dir.Join("key"), contents);
    absl::StatusOr<SecretBox> box = SecretBox::FromKeyFile(dir.Join("key"));
    EXPECT_EQ(box.status().code(), absl::StatusCode::kInvalidArgument) << contents.size();
    EXPECT_THAT(box.status().message(), HasSubstr("openssl rand -hex 32"));
    ASSERT_EQ(::unlink(dir.Join("key").c_str()), 0);
  }
}

TEST(SecretBoxKeyFileTest, KeyFileOthersCanReadIsRefusedWithTheFix) {
  testing::TempDir dir;
  std::string path = dir.Join("key");
  WritePrivate(path, absl::BytesToHexString(KeyBytes('k')));
  for (mode_t mode : {0640, 0604, 0620, 0644, 0666}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    absl::StatusOr<SecretBox> box = SecretBox::FromKeyFile(path);
    EXPECT_EQ(box.status().code(), absl::StatusCode::kPermissionDenied) << std::oct << mode;
    EXPECT_THAT(box.status().message(), HasSubstr("chmod 600 " + path));
  }
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_TRUE(SecretBox::FromKeyFile(path).ok());
}

TEST(SecretBoxKeyFileTest, MissingKeyFileIsNotFound) {
  testing::TempDir dir;
  EXPECT_EQ(SecretBox::FromKeyFile(dir.Join("nope")).status().code(), absl::StatusCode::kNotFound);
}

TEST(SecretBoxKeyFileTest, GeneratedKeyFileIsPrivateLoadsAndIsNeverOverwritten) {
  testing::TempDir dir;
  std::string path = dir.Join("key");
  ASSERT_TRUE(SecretBox::GenerateKeyFile(path).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  absl::StatusOr<SecretBox> box = SecretBox::FromKeyFile(path);
  ASSERT_TRUE(box.ok()) << box.status();
  std::string sealed = box->Seal("s3cret", "ad");

  absl::Status again = SecretBox::GenerateKeyFile(path);
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
  absl::StatusOr<SecretBox> reloaded = SecretBox::FromKeyFile(path);
  ASSERT_TRUE(reloaded.ok());
  EXPECT_TRUE(reloaded->Open(sealed, "ad").ok()) << "the key file was replaced";

  std::string other = dir.Join("other");
  ASSERT_TRUE(SecretBox::GenerateKeyFile(other).ok());
  absl::StatusOr<SecretBox> other_box = SecretBox::FromKeyFile(other);
  ASSERT_TRUE(other_box.ok());
  EXPECT_FALSE(other_box->Open(sealed, "ad").ok()) << "two generated keys are equal";
}

TEST(SecretBoxKeyFileTest, GenerateDoesNotWriteThroughASymlink) {
  testing::TempDir dir;
  std::string target = dir.Join("target");
  ASSERT_EQ(::symlink(target.c_str(), dir.Join("link").c_str()), 0);
  EXPECT_FALSE(SecretBox::GenerateKeyFile(dir.Join("link")).ok());
  EXPECT_NE(::access(target.c_str(), F_OK), 0) << "the key was written through the link";
}

}  // namespace
}  // namespace tempa::crypto
