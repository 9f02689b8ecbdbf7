// Tests for sealing secrets at rest: the key file, round trips, and refusing tampered or foreign data.
#include "core/secret_box.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "core/crypto.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;

class SecretBoxTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(InitCrypto().has_value());
        std::string pattern = (fs::temp_directory_path() / "lathe_secret_box_XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }

    void TearDown() override {
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }

    static unsigned Mode(const fs::path& path) {
        struct stat st {};
        EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
        return st.st_mode & 0777;
    }

    SecretBox MustOpen(const fs::path& key_file) {
        auto box = SecretBox::OpenOrCreate(key_file);
        EXPECT_TRUE(box.has_value()) << box.error().message;
        if (!box) {
            throw std::runtime_error("cannot open the secret box");
        }
        return std::move(*box);
    }

    fs::path dir_;
};

TEST_F(SecretBoxTest, KeyFileIsCreatedOwnerOnly) {
    const fs::path key_file = dir_ / "secret.key";
    ASSERT_FALSE(fs::exists(key_file));
    MustOpen(key_file);
    ASSERT_TRUE(fs::exists(key_file));
    EXPECT_EQ(Mode(key_file), 0600u);
    EXPECT_EQ(fs::file_size(key_file), 32u);
}

TEST_F(SecretBoxTest, LoosenedKeyFileIsTightenedOnOpen) {
    const fs::path key_file = dir_ / "secret.key";
    MustOpen(key_file);
    ASSERT_EQ(::chmod(key_file.c_str(), 0644), 0);
    MustOpen(key_file);
    EXPECT_EQ(Mode(key_file), 0600u);
}

TEST_F(SecretBoxTest, SealThenOpenRoundTrips) {
    const SecretBox box = MustOpen(dir_ / "secret.key");
    const std::string binary("\0\x01\xff token \n", 11);
    for (const std::string& plaintext :
         {std::string("hunter2"), std::string(""), binary, std::string(100'000, 'z')}) {
        auto opened = box.Open(box.Seal(plaintext));
        ASSERT_TRUE(opened.has_value()) << opened.error().message;
        EXPECT_EQ(*opened, plaintext);
    }
}

TEST_F(SecretBoxTest, SealedTextHidesThePlaintext) {
    const SecretBox box = MustOpen(dir_ / "secret.key");
    const std::string plaintext = "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI";
    const std::string sealed = box.Seal(plaintext);
    EXPECT_EQ(sealed.find(plaintext), std::string::npos);
    EXPECT_EQ(sealed.find("wJalrXUtnFEMI"), std::string::npos);
    auto raw = Base64UrlDecode(sealed);
    ASSERT_TRUE(raw.has_value());
    EXPECT_EQ(raw->find("wJalrXUtnFEMI"), std::string::npos);
    // A fresh nonce each time: equal secrets don't give equal sealed values.
    EXPECT_NE(box.Seal(plaintext), sealed);
}

TEST_F(SecretBoxTest, SecondOpenReadsTheSameKey) {
    const fs::path key_file = dir_ / "secret.key";
    const std::string sealed = MustOpen(key_file).Seal("persisted across restarts");
    const SecretBox reopened = MustOpen(key_file);
    auto opened = reopened.Open(sealed);
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    EXPECT_EQ(*opened, "persisted across restarts");
}

TEST_F(SecretBoxTest, TamperedCiphertextFails) {
    const SecretBox box = MustOpen(dir_ / "secret.key");
    const std::string sealed = box.Seal("do not touch");
    auto raw = Base64UrlDecode(sealed);
    ASSERT_TRUE(raw.has_value());
    // Flip one bit in each position in turn: nonce, MAC and ciphertext are all covered.
    for (std::size_t i = 0; i < raw->size(); ++i) {
        std::string tampered = *raw;
        tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
        EXPECT_FALSE(box.Open(Base64UrlEncode(tampered)).has_value()) << "byte " << i;
    }
    EXPECT_FALSE(box.Open(Base64UrlEncode(raw->substr(0, raw->size() - 1))).has_value());
    EXPECT_FALSE(box.Open(Base64UrlEncode(raw->substr(0, 10))).has_value());
    EXPECT_FALSE(box.Open("").has_value());
    EXPECT_FALSE(box.Open("not base64 !!").has_value());
}

TEST_F(SecretBoxTest, DifferentKeyFails) {
    const SecretBox first = MustOpen(dir_ / "first.key");
    const SecretBox second = MustOpen(dir_ / "second.key");
    auto opened = second.Open(first.Seal("for the first key only"));
    ASSERT_FALSE(opened.has_value());
    EXPECT_NE(opened.error().message.find("key"), std::string::npos) << opened.error().message;
}

TEST_F(SecretBoxTest, DamagedKeyFileIsAnErrorNamingIt) {
    const fs::path key_file = dir_ / "secret.key";
    {
        std::ofstream out(key_file, std::ios::binary);
        out << "too short";
    }
    ::chmod(key_file.c_str(), 0600);
    auto box = SecretBox::OpenOrCreate(key_file);
    ASSERT_FALSE(box.has_value());
    EXPECT_NE(box.error().message.find(key_file.string()), std::string::npos)
        << box.error().message;
}

TEST_F(SecretBoxTest, KeyFileInMissingDirectoryIsAnError) {
    const fs::path key_file = dir_ / "missing" / "secret.key";
    auto box = SecretBox::OpenOrCreate(key_file);
    ASSERT_FALSE(box.has_value());
    EXPECT_NE(box.error().message.find(key_file.string()), std::string::npos)
        << box.error().message;
}

}  // namespace
}  // namespace lathe
