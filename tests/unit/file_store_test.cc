// Tests for the project file store and its tar writer, on real temp directories and the system tar.
#include "projects/file_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "projects/tar_writer.h"

namespace lathe::projects {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kMiB = 1024 * 1024;

void WriteFile(const fs::path& path, std::string_view content) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    ASSERT_TRUE(out.good()) << path;
}

std::string ReadFile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

// Runs a shell command and returns its exit status and combined output.
std::pair<int, std::string> RunShell(const std::string& command) {
    std::string output;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr) {
        return {-1, "popen failed"};
    }
    char buffer[4096];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
        output.append(buffer, n);
    }
    const int status = ::pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// Every regular file (with its content) and directory (as "<dir>") under root, symlinks and other
// types left out, keyed by relative path.
std::map<std::string, std::string> Snapshot(const fs::path& root) {
    std::map<std::string, std::string> snapshot;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
         ++it) {
        const auto type = it->symlink_status().type();
        const std::string rel = fs::relative(it->path(), root).string();
        if (type == fs::file_type::directory) {
            snapshot[rel] = "<dir>";
        } else if (type == fs::file_type::regular) {
            snapshot[rel] = ReadFile(it->path());
        }
    }
    return snapshot;
}

// The error code of a result, or nullopt when it unexpectedly succeeded (so a wrong success fails
// the assertion instead of reading error() from a value).
template <typename T>
std::optional<ErrorCode> CodeOf(const std::expected<T, Error>& result) {
    if (result.has_value()) {
        return std::nullopt;
    }
    return result.error().code;
}

std::vector<std::string> Names(const std::vector<FileEntry>& entries) {
    std::vector<std::string> names;
    for (const FileEntry& entry : entries) {
        names.push_back(entry.name);
    }
    return names;
}

class FileStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "lathe_file_store_XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        base_ = pattern;
        root_ = base_ / "projects" / "p1";
        outside_ = base_ / "outside";
        WriteFile(outside_ / "secret.txt", "top secret");
    }

    void TearDown() override {
        std::error_code ignored;
        fs::remove_all(base_, ignored);
    }

    std::unique_ptr<FileStore> MakeStore(std::uint64_t max_file_bytes = kMiB,
                                         std::uint64_t max_project_bytes = 16 * kMiB) {
        return std::make_unique<FileStore>(root_, max_file_bytes, max_project_bytes);
    }

    // A file outside the root, as an upload handler would have streamed it.
    fs::path MakeUpload(std::string_view content) {
        const fs::path path = base_ / ("upload-" + std::to_string(upload_count_++));
        WriteFile(path, content);
        return path;
    }

    fs::path base_;
    fs::path root_;
    fs::path outside_;
    int upload_count_ = 0;
};

TEST(NormalizePathTest, AcceptsAndNormalizes) {
    const std::string long_component(255, 'c');
    // 32 components of 127 bytes, each followed by '/': exactly 4096 bytes.
    std::string max_total;
    for (int i = 0; i < 32; ++i) {
        max_total += std::string(127, 'x') + "/";
    }
    ASSERT_EQ(max_total.size(), 4096u);
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"", ""},
        {".", ""},
        {"./a//b/", "a/b"},
        {"a/./b/.", "a/b"},
        {"a.txt", "a.txt"},
        {"...", "..."},
        {"..a/b..", "..a/b.."},
        {"a b/c\\d", "a b/c\\d"},
        {"données/日本語.txt", "données/日本語.txt"},
        {long_component, long_component},
        {max_total, max_total.substr(0, 4095)},
    };
    for (const auto& [input, expected] : cases) {
        SCOPED_TRACE("input: " + input.substr(0, 60));
        auto result = FileStore::NormalizePath(input);
        ASSERT_TRUE(result.has_value()) << result.error().message;
        EXPECT_EQ(*result, expected);
    }
}

TEST(NormalizePathTest, RejectsUnsafePaths) {
    std::string too_long;
    for (int i = 0; i < 32; ++i) {
        too_long += std::string(127, 'x') + "/";
    }
    too_long += "y";
    ASSERT_EQ(too_long.size(), 4097u);
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"..", "'..'"},
        {"../x", "'..'"},
        {"a/..", "'..'"},
        {"a/../../b", "'..'"},
        {"a/../b", "'..'"},
        {"/etc/passwd", "absolute"},
        {"/", "absolute"},
        {std::string("a\0b", 3), "NUL"},
        {"a\nb", "control"},
        {"a\x01", "control"},
        {"tab\there", "control"},
        {"del\x7f", "control"},
        {std::string(256, 'c'), "longer than 255 bytes"},
        {"ok/" + std::string(256, 'c') + "/ok", "longer than 255 bytes"},
        {too_long, "longer than 4096 bytes"},
    };
    for (const auto& [input, message_part] : cases) {
        SCOPED_TRACE("input: " + input.substr(0, 60));
        auto result = FileStore::NormalizePath(input);
        ASSERT_FALSE(result.has_value()) << "accepted as " << *result;
        EXPECT_EQ(result.error().code, ErrorCode::kBadRequest);
        EXPECT_NE(result.error().message.find(message_part), std::string::npos)
            << result.error().message;
    }
}

TEST_F(FileStoreTest, ConstructorCreatesRootAndStagingStaysOutsideIt) {
    auto store = std::make_unique<FileStore>(root_.string() + "/", kMiB, kMiB);
    EXPECT_TRUE(fs::is_directory(root_));
    EXPECT_EQ(store->root(), root_);
    EXPECT_EQ(store->staging_dir(), base_ / "projects" / ".lathe-staging");

    auto staging = store->CreateStagingFile();
    ASSERT_TRUE(staging.has_value()) << staging.error().message;
    EXPECT_EQ(staging->parent_path(), store->staging_dir());
    EXPECT_TRUE(fs::is_regular_file(*staging));
    auto listing = store->List("");
    ASSERT_TRUE(listing.has_value());
    EXPECT_TRUE(listing->empty());
}

TEST_F(FileStoreTest, UnusableRootIsReportedNotThrown) {
    WriteFile(base_ / "projects" / "not_a_dir", "x");
    FileStore store(base_ / "projects" / "not_a_dir" / "p", kMiB, kMiB);
    auto stat = store.Stat("");
    ASSERT_FALSE(stat.has_value());
    EXPECT_EQ(stat.error().code, ErrorCode::kInternal);
    auto write = store.WriteString("a.txt", "x");
    ASSERT_FALSE(write.has_value());
}

TEST_F(FileStoreTest, StatReportsFilesDirectoriesAndMissingPaths) {
    auto store = MakeStore();
    ASSERT_TRUE(store->WriteString("a/b.txt", "hello").has_value());

    auto file = store->Stat("./a//b.txt");
    ASSERT_TRUE(file.has_value()) << file.error().message;
    EXPECT_EQ(file->path, "a/b.txt");
    EXPECT_EQ(file->name, "b.txt");
    EXPECT_FALSE(file->is_dir);
    EXPECT_EQ(file->size, 5u);
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    EXPECT_NEAR(static_cast<double>(file->modified_unix_ms), static_cast<double>(now_ms), 60000);

    auto dir = store->Stat("a");
    ASSERT_TRUE(dir.has_value());
    EXPECT_TRUE(dir->is_dir);
    EXPECT_EQ(dir->size, 0u);

    auto root = store->Stat("");
    ASSERT_TRUE(root.has_value());
    EXPECT_EQ(root->path, "");
    EXPECT_EQ(root->name, "");
    EXPECT_TRUE(root->is_dir);

    auto missing = store->Stat("a/c.txt");
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
    EXPECT_EQ(missing.error().message, "file 'a/c.txt' does not exist");

    auto under_file = store->Stat("a/b.txt/x");
    ASSERT_FALSE(under_file.has_value());
    EXPECT_EQ(under_file.error().code, ErrorCode::kNotFound);

    auto bad = store->Stat("../outside/secret.txt");
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().code, ErrorCode::kBadRequest);
}

TEST_F(FileStoreTest, SymlinksLeadingOutsideAreRejected) {
    auto store = MakeStore();
    fs::create_symlink("/etc", root_ / "etc");
    fs::create_symlink(outside_, root_ / "out");
    fs::create_symlink("../../outside", root_ / "up");  // relative, climbs out of the root
    fs::create_symlink("out", root_ / "chain");         // inside link to a link that leaves
    fs::create_symlink(outside_ / "secret.txt", root_ / "secret_link");
    fs::create_symlink("nowhere", root_ / "dangling");

    for (const std::string path :
         {"etc", "etc/passwd", "out", "out/secret.txt", "up/secret.txt", "chain/secret.txt",
          "secret_link", "dangling", "out/new_dir/file.txt"}) {
        SCOPED_TRACE(path);
        auto resolved = store->Resolve(path);
        ASSERT_FALSE(resolved.has_value()) << *resolved;
        EXPECT_EQ(resolved.error().code, ErrorCode::kBadRequest);
        auto stat = store->Stat(path);
        ASSERT_FALSE(stat.has_value());
        EXPECT_EQ(stat.error().code, ErrorCode::kBadRequest);
    }
    EXPECT_EQ(CodeOf(store->List("etc")), ErrorCode::kBadRequest);
    EXPECT_EQ(CodeOf(store->List("up")), ErrorCode::kBadRequest);
    std::ostringstream tar;
    EXPECT_EQ(CodeOf(store->WriteTar("out", tar)), ErrorCode::kBadRequest);
    EXPECT_EQ(CodeOf(store->MakeDirectory("out/made")), ErrorCode::kBadRequest);
    EXPECT_FALSE(fs::exists(outside_ / "made"));

    // Writing through the links must not create or replace anything outside.
    const fs::path upload = MakeUpload("pwned");
    auto commit = store->CommitUpload("out/new.txt", upload);
    ASSERT_FALSE(commit.has_value());
    EXPECT_EQ(commit.error().code, ErrorCode::kBadRequest);
    EXPECT_FALSE(fs::exists(upload)) << "the temp file must be removed on failure";
    EXPECT_FALSE(fs::exists(outside_ / "new.txt"));

    auto overwrite = store->WriteString("up/secret.txt", "pwned");
    ASSERT_FALSE(overwrite.has_value());
    EXPECT_EQ(overwrite.error().code, ErrorCode::kBadRequest);
    EXPECT_EQ(ReadFile(outside_ / "secret.txt"), "top secret");
    EXPECT_FALSE(store->WriteString("secret_link", "pwned").has_value());
    EXPECT_EQ(ReadFile(outside_ / "secret.txt"), "top secret");
    EXPECT_TRUE(fs::is_empty(store->staging_dir()));

    // Listings and usage never look through them.
    auto listing = store->List("");
    ASSERT_TRUE(listing.has_value());
    EXPECT_TRUE(listing->empty()) << listing->size() << " entries, first " << listing->at(0).name;
    EXPECT_EQ(store->UsageBytes(), 0u);
}

TEST_F(FileStoreTest, SymlinksStayingInsideAreFollowed) {
    auto store = MakeStore();
    ASSERT_TRUE(store->WriteString("docs/readme.txt", "read me").has_value());
    fs::create_symlink("docs", root_ / "docs_link");
    fs::create_symlink(root_ / "docs", root_ / "abs_link");
    fs::create_symlink("../docs/readme.txt", root_ / "docs" / "self");

    auto resolved = store->Resolve("abs_link/readme.txt");
    ASSERT_TRUE(resolved.has_value()) << resolved.error().message;
    EXPECT_EQ(*resolved, root_ / "abs_link" / "readme.txt");

    auto stat = store->Stat("docs_link/readme.txt");
    ASSERT_TRUE(stat.has_value()) << stat.error().message;
    EXPECT_EQ(stat->size, 7u);
    auto via_self = store->Stat("docs/self");
    ASSERT_TRUE(via_self.has_value()) << via_self.error().message;
    EXPECT_EQ(via_self->size, 7u);

    auto through = store->List("docs_link");
    ASSERT_TRUE(through.has_value()) << through.error().message;
    EXPECT_EQ(Names(*through), (std::vector<std::string>{"readme.txt", "self"}));

    const fs::path upload = MakeUpload("new");
    auto commit = store->CommitUpload("docs_link/new.txt", upload);
    ASSERT_TRUE(commit.has_value()) << commit.error().message;
    EXPECT_EQ(ReadFile(root_ / "docs" / "new.txt"), "new");

    auto root_listing = store->List("");
    ASSERT_TRUE(root_listing.has_value());
    EXPECT_EQ(Names(*root_listing), (std::vector<std::string>{"abs_link", "docs", "docs_link"}));
    for (const FileEntry& entry : *root_listing) {
        EXPECT_TRUE(entry.is_dir) << entry.name;
    }
}

TEST_F(FileStoreTest, CommitUploadCreatesParentsAndReplacesAtomically) {
    auto store = MakeStore();
    auto staging = store->CreateStagingFile();
    ASSERT_TRUE(staging.has_value());
    WriteFile(*staging, "version 1");
    auto first = store->CommitUpload("x/y/z.txt", *staging);
    ASSERT_TRUE(first.has_value()) << first.error().message;
    EXPECT_EQ(first->path, "x/y/z.txt");
    EXPECT_EQ(first->size, 9u);
    EXPECT_EQ(ReadFile(root_ / "x" / "y" / "z.txt"), "version 1");
    EXPECT_FALSE(fs::exists(*staging));

    auto second = store->WriteString("x/y/z.txt", "v2");
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(ReadFile(root_ / "x" / "y" / "z.txt"), "v2");
    EXPECT_TRUE(fs::is_empty(store->staging_dir()));

    auto empty = store->WriteString("empty", "");
    ASSERT_TRUE(empty.has_value());
    EXPECT_EQ(empty->size, 0u);
}

TEST_F(FileStoreTest, CommitUploadRefusesDirectoriesAndFileParents) {
    auto store = MakeStore();
    ASSERT_TRUE(store->MakeDirectory("d/sub").has_value());
    ASSERT_TRUE(store->WriteString("f", "file").has_value());

    const fs::path upload = MakeUpload("data");
    auto onto_dir = store->CommitUpload("d", upload);
    ASSERT_FALSE(onto_dir.has_value());
    EXPECT_EQ(onto_dir.error().code, ErrorCode::kConflict);
    EXPECT_FALSE(fs::exists(upload));
    EXPECT_TRUE(fs::is_directory(root_ / "d" / "sub"));

    auto under_file = store->WriteString("f/child.txt", "data");
    ASSERT_FALSE(under_file.has_value());
    EXPECT_EQ(under_file.error().code, ErrorCode::kConflict);
    EXPECT_EQ(ReadFile(root_ / "f"), "file");

    auto onto_root = store->CommitUpload("", MakeUpload("x"));
    ASSERT_FALSE(onto_root.has_value());
    EXPECT_EQ(onto_root.error().code, ErrorCode::kBadRequest);

    const fs::path bad_path_upload = MakeUpload("x");
    EXPECT_EQ(CodeOf(store->CommitUpload("../escape", bad_path_upload)),
              ErrorCode::kBadRequest);
    EXPECT_FALSE(fs::exists(bad_path_upload));
    EXPECT_TRUE(fs::is_empty(store->staging_dir()));
}

TEST_F(FileStoreTest, EnforcesPerFileLimit) {
    auto store = MakeStore(/*max_file_bytes=*/10, /*max_project_bytes=*/1000);
    auto ok = store->WriteString("ten", std::string(10, 'a'));
    ASSERT_TRUE(ok.has_value()) << ok.error().message;

    auto too_big = store->WriteString("eleven", std::string(11, 'a'));
    ASSERT_FALSE(too_big.has_value());
    EXPECT_EQ(too_big.error().code, ErrorCode::kPayloadTooLarge);
    EXPECT_NE(too_big.error().message.find("limit of 10 bytes"), std::string::npos)
        << too_big.error().message;
    EXPECT_FALSE(fs::exists(root_ / "eleven"));

    const fs::path upload = MakeUpload(std::string(11, 'b'));
    auto committed = store->CommitUpload("ten", upload);
    ASSERT_FALSE(committed.has_value());
    EXPECT_EQ(committed.error().code, ErrorCode::kPayloadTooLarge);
    EXPECT_FALSE(fs::exists(upload));
    EXPECT_EQ(ReadFile(root_ / "ten"), std::string(10, 'a')) << "the old file must survive";
}

TEST_F(FileStoreTest, EnforcesPerProjectLimitCountingReplacedFiles) {
    auto store = MakeStore(/*max_file_bytes=*/10, /*max_project_bytes=*/25);
    ASSERT_TRUE(store->WriteString("a", std::string(10, 'a')).has_value());
    ASSERT_TRUE(store->WriteString("dir/b", std::string(10, 'b')).has_value());
    EXPECT_EQ(store->UsageBytes(), 20u);

    auto over = store->WriteString("c", std::string(10, 'c'));
    ASSERT_FALSE(over.has_value());
    EXPECT_EQ(over.error().code, ErrorCode::kPayloadTooLarge);
    EXPECT_FALSE(fs::exists(root_ / "c"));

    // Replacing a file only counts the difference.
    ASSERT_TRUE(store->WriteString("a", std::string(5, 'A')).has_value());
    EXPECT_EQ(store->UsageBytes(), 15u);
    auto fits_exactly = store->WriteString("c", std::string(10, 'c'));
    ASSERT_TRUE(fits_exactly.has_value()) << fits_exactly.error().message;
    EXPECT_EQ(store->UsageBytes(), 25u);
    auto same_size = store->WriteString("c", std::string(10, 'C'));
    ASSERT_TRUE(same_size.has_value()) << "a full project may still rewrite a file in place: "
                                       << same_size.error().message;
    EXPECT_EQ(ReadFile(root_ / "c"), std::string(10, 'C'));

    auto grow = store->CommitUpload("a", MakeUpload(std::string(6, 'x')));
    ASSERT_FALSE(grow.has_value());
    EXPECT_EQ(grow.error().code, ErrorCode::kPayloadTooLarge);
    EXPECT_EQ(ReadFile(root_ / "a"), std::string(5, 'A'));

    // Files reached only through a symlink are not the project's.
    fs::create_symlink(outside_, root_ / "out");
    fs::create_symlink(root_ / "dir", root_ / "dir_again");
    EXPECT_EQ(store->UsageBytes(), 25u);
    EXPECT_TRUE(fs::is_empty(store->staging_dir()));
}

TEST_F(FileStoreTest, MakeDirectoryCreatesParentsAndRefusesFiles) {
    auto store = MakeStore();
    auto made = store->MakeDirectory("x/y/z");
    ASSERT_TRUE(made.has_value()) << made.error().message;
    EXPECT_TRUE(made->is_dir);
    EXPECT_EQ(made->path, "x/y/z");
    EXPECT_TRUE(fs::is_directory(root_ / "x" / "y" / "z"));
    EXPECT_TRUE(store->MakeDirectory("x/y").has_value()) << "an existing directory is fine";

    ASSERT_TRUE(store->WriteString("f", "x").has_value());
    EXPECT_EQ(CodeOf(store->MakeDirectory("f")), ErrorCode::kConflict);
    EXPECT_EQ(CodeOf(store->MakeDirectory("f/g")), ErrorCode::kConflict);
    EXPECT_EQ(CodeOf(store->MakeDirectory("a/../b")), ErrorCode::kBadRequest);
}

TEST_F(FileStoreTest, RenameMovesFilesAndDirectories) {
    auto store = MakeStore();
    ASSERT_TRUE(store->WriteString("a.txt", "alpha").has_value());
    ASSERT_TRUE(store->WriteString("d/inner/x.txt", "x").has_value());

    auto moved = store->Rename("a.txt", "new/dir/a2.txt");
    ASSERT_TRUE(moved.has_value()) << moved.error().message;
    EXPECT_EQ(moved->path, "new/dir/a2.txt");
    EXPECT_EQ(moved->name, "a2.txt");
    EXPECT_EQ(ReadFile(root_ / "new" / "dir" / "a2.txt"), "alpha");
    EXPECT_FALSE(fs::exists(root_ / "a.txt"));

    auto dir = store->Rename("d", "e");
    ASSERT_TRUE(dir.has_value()) << dir.error().message;
    EXPECT_TRUE(dir->is_dir);
    EXPECT_EQ(ReadFile(root_ / "e" / "inner" / "x.txt"), "x");
    EXPECT_FALSE(fs::exists(root_ / "d"));
}

TEST_F(FileStoreTest, RenameRefusesConflictsMissingSourcesAndOwnSubtree) {
    auto store = MakeStore();
    ASSERT_TRUE(store->WriteString("a.txt", "alpha").has_value());
    ASSERT_TRUE(store->WriteString("b.txt", "beta").has_value());
    ASSERT_TRUE(store->MakeDirectory("d/sub").has_value());

    auto conflict = store->Rename("a.txt", "b.txt");
    ASSERT_FALSE(conflict.has_value());
    EXPECT_EQ(conflict.error().code, ErrorCode::kConflict);
    EXPECT_EQ(ReadFile(root_ / "a.txt"), "alpha");
    EXPECT_EQ(ReadFile(root_ / "b.txt"), "beta");
    EXPECT_EQ(CodeOf(store->Rename("a.txt", "d")), ErrorCode::kConflict);
    EXPECT_EQ(CodeOf(store->Rename("a.txt", "a.txt")), ErrorCode::kConflict);

    EXPECT_EQ(CodeOf(store->Rename("missing", "x")), ErrorCode::kNotFound);
    EXPECT_EQ(CodeOf(store->Rename("d", "d/sub/d")), ErrorCode::kBadRequest);
    EXPECT_EQ(CodeOf(store->Rename("d", "d/x")), ErrorCode::kBadRequest);
    EXPECT_EQ(CodeOf(store->Rename("", "x")), ErrorCode::kBadRequest);
    EXPECT_EQ(CodeOf(store->Rename("d", "")), ErrorCode::kBadRequest);
    EXPECT_EQ(CodeOf(store->Rename("a.txt", "../a.txt")), ErrorCode::kBadRequest);

    // Into its own subtree by way of a symlink: caught by the kernel, still a clear 400.
    fs::create_symlink("d", root_ / "d_link");
    auto sneaky = store->Rename("d", "d_link/sub/moved");
    ASSERT_FALSE(sneaky.has_value());
    EXPECT_EQ(sneaky.error().code, ErrorCode::kBadRequest) << sneaky.error().message;
    EXPECT_TRUE(fs::is_directory(root_ / "d" / "sub"));
}

TEST_F(FileStoreTest, RenameMovesAnOutsideLinkWithoutTouchingItsTarget) {
    auto store = MakeStore();
    fs::create_symlink(outside_, root_ / "out");
    auto moved = store->Rename("out", "moved");
    ASSERT_TRUE(moved.has_value()) << moved.error().message;
    EXPECT_FALSE(moved->is_dir);
    EXPECT_TRUE(fs::is_symlink(root_ / "moved"));
    EXPECT_EQ(ReadFile(outside_ / "secret.txt"), "top secret");
    EXPECT_EQ(CodeOf(store->Rename("moved/secret.txt", "x")), ErrorCode::kBadRequest);
}

TEST_F(FileStoreTest, RemoveDeletesTreesButNeverSymlinkTargets) {
    auto store = MakeStore();
    ASSERT_TRUE(store->WriteString("tree/a/b/c.txt", "c").has_value());
    ASSERT_TRUE(store->WriteString("tree/top.txt", "top").has_value());
    fs::create_symlink(outside_, root_ / "tree" / "a" / "out");
    fs::create_symlink(outside_, root_ / "out");
    fs::create_symlink("nowhere", root_ / "dangling");
    ASSERT_TRUE(store->WriteString("keep.txt", "keep").has_value());

    ASSERT_TRUE(store->Remove("tree").has_value());
    EXPECT_FALSE(fs::exists(root_ / "tree"));
    EXPECT_EQ(ReadFile(outside_ / "secret.txt"), "top secret");

    auto link = store->Remove("out");
    ASSERT_TRUE(link.has_value()) << link.error().message;
    EXPECT_FALSE(fs::exists(fs::symlink_status(root_ / "out")));
    EXPECT_TRUE(fs::is_directory(outside_));
    EXPECT_EQ(ReadFile(outside_ / "secret.txt"), "top secret");
    EXPECT_TRUE(store->Remove("dangling").has_value());

    ASSERT_TRUE(fs::exists(root_ / "keep.txt"));
    ASSERT_TRUE(store->Remove("keep.txt").has_value());
    EXPECT_FALSE(fs::exists(root_ / "keep.txt"));

    EXPECT_EQ(CodeOf(store->Remove("")), ErrorCode::kBadRequest);
    EXPECT_EQ(CodeOf(store->Remove(".")), ErrorCode::kBadRequest);
    EXPECT_EQ(CodeOf(store->Remove("nope")), ErrorCode::kNotFound);
    EXPECT_TRUE(fs::is_directory(root_));
}

TEST_F(FileStoreTest, RemoveThroughAnOutsideLinkIsRejected) {
    auto store = MakeStore();
    fs::create_symlink(outside_, root_ / "out");
    auto removed = store->Remove("out/secret.txt");
    ASSERT_FALSE(removed.has_value());
    EXPECT_EQ(removed.error().code, ErrorCode::kBadRequest);
    EXPECT_TRUE(fs::exists(outside_ / "secret.txt"));
}

TEST_F(FileStoreTest, ListPutsDirectoriesFirstThenFilesByName) {
    auto store = MakeStore();
    for (const char* file : {"b.txt", "a.txt", "Z.txt", "dir/inner.txt"}) {
        ASSERT_TRUE(store->WriteString(file, file).has_value());
    }
    ASSERT_TRUE(store->MakeDirectory("zdir").has_value());
    ASSERT_TRUE(store->MakeDirectory("adir").has_value());

    auto listing = store->List("");
    ASSERT_TRUE(listing.has_value()) << listing.error().message;
    EXPECT_EQ(Names(*listing),
              (std::vector<std::string>{"adir", "dir", "zdir", "Z.txt", "a.txt", "b.txt"}));
    EXPECT_EQ(listing->at(3).path, "Z.txt");
    EXPECT_EQ(listing->at(3).size, 5u);

    auto nested = store->List("dir/");
    ASSERT_TRUE(nested.has_value());
    ASSERT_EQ(nested->size(), 1u);
    EXPECT_EQ(nested->at(0).path, "dir/inner.txt");
    EXPECT_EQ(nested->at(0).name, "inner.txt");

    EXPECT_EQ(CodeOf(store->List("a.txt")), ErrorCode::kBadRequest);
    EXPECT_EQ(CodeOf(store->List("nope")), ErrorCode::kNotFound);
}

class TarTest : public FileStoreTest {
protected:
    void SetUp() override {
        FileStoreTest::SetUp();
        store_ = MakeStore(64 * kMiB, 256 * kMiB);
        std::string binary;
        for (int i = 0; i < 3000; ++i) {
            binary += static_cast<char>(i % 256);
        }
        long_path_ = "deep/" + std::string(60, 'd') + "/" + std::string(60, 'e') + "/long_" +
                     std::string(40, 'f') + ".txt";
        ASSERT_GT(long_path_.size(), 100u);
        const std::vector<std::pair<std::string, std::string>> files = {
            {"README.md", "hello\n"},
            {"data/binary.bin", binary},
            {"data/exact.bin", std::string(1024, 'x')},
            {"data/empty.bin", ""},
            {"données/日本語.txt", "unicode"},
            {long_path_, "far down"},
        };
        for (const auto& [path, content] : files) {
            auto written = store_->WriteString(path, content);
            ASSERT_TRUE(written.has_value()) << written.error().message;
        }
        ASSERT_TRUE(store_->MakeDirectory("empty_dir").has_value());
        // None of these may end up in an archive, and the FIFO must not hang the walk.
        fs::create_symlink(outside_, root_ / "link_out");
        fs::create_symlink("README.md", root_ / "data" / "link_in");
        ASSERT_EQ(::mkfifo((root_ / "data" / "pipe").c_str(), 0644), 0);
    }

    // Writes the tar of path to a file, checks GNU tar reads it cleanly, and extracts it.
    fs::path TarAndExtract(const std::string& path, std::string* listing) {
        const fs::path archive = base_ / "out.tar";
        {
            std::ofstream out(archive, std::ios::binary | std::ios::trunc);
            auto status = store_->WriteTar(path, out);
            EXPECT_TRUE(status.has_value()) << status.error().message;
        }
        EXPECT_EQ(fs::file_size(archive) % 512, 0u);
        auto [list_status, list_output] = RunShell("tar -tvf " + archive.string());
        EXPECT_EQ(list_status, 0) << list_output;
        EXPECT_EQ(list_output.find("tar:"), std::string::npos) << list_output;
        *listing = list_output;
        const fs::path extract = base_ / ("extract-" + std::to_string(extract_count_++));
        fs::create_directories(extract);
        auto [extract_status, extract_output] =
            RunShell("tar -xf " + archive.string() + " -C " + extract.string());
        EXPECT_EQ(extract_status, 0) << extract_output;
        EXPECT_EQ(extract_output, "");
        return extract;
    }

    std::unique_ptr<FileStore> store_;
    std::string long_path_;
    int extract_count_ = 0;
};

TEST_F(TarTest, WholeProjectRoundTripsThroughSystemTar) {
    std::string listing;
    const fs::path extract = TarAndExtract("", &listing);
    EXPECT_NE(listing.find(long_path_), std::string::npos) << listing;
    EXPECT_EQ(listing.find("link_out"), std::string::npos) << listing;
    EXPECT_EQ(listing.find("link_in"), std::string::npos) << listing;
    EXPECT_EQ(listing.find("pipe"), std::string::npos) << listing;
    EXPECT_EQ(listing.find("secret"), std::string::npos) << listing;

    auto expected = Snapshot(root_);
    auto actual = Snapshot(extract);
    EXPECT_EQ(actual.size(), expected.size());
    EXPECT_TRUE(actual == expected);
    for (const auto& [path, content] : expected) {
        auto it = actual.find(path);
        ASSERT_NE(it, actual.end()) << "missing from the archive: " << path;
        EXPECT_EQ(it->second, content) << path;
    }
    EXPECT_EQ(ReadFile(extract / long_path_), "far down");
    EXPECT_TRUE(fs::is_directory(extract / "empty_dir"));
    EXPECT_FALSE(fs::exists(fs::symlink_status(extract / "link_out")));
}

TEST_F(TarTest, DirectoryIsArchivedUnderItsName) {
    std::string listing;
    const fs::path extract = TarAndExtract("deep", &listing);
    std::vector<std::string> top;
    for (const auto& entry : fs::directory_iterator(extract)) {
        top.push_back(entry.path().filename().string());
    }
    EXPECT_EQ(top, std::vector<std::string>{"deep"});
    EXPECT_TRUE(Snapshot(extract / "deep") == Snapshot(root_ / "deep"));
    EXPECT_EQ(ReadFile(extract / long_path_), "far down");
}

TEST_F(TarTest, SingleFileIsArchivedAlone) {
    std::string listing;
    const fs::path extract = TarAndExtract("data/binary.bin", &listing);
    auto snapshot = Snapshot(extract);
    ASSERT_EQ(snapshot.size(), 1u);
    EXPECT_EQ(snapshot.begin()->first, "binary.bin");
    EXPECT_EQ(snapshot.begin()->second, ReadFile(root_ / "data" / "binary.bin"));
}

TEST_F(TarTest, ReportsMissingAndEscapingPaths) {
    std::ostringstream out;
    EXPECT_EQ(CodeOf(store_->WriteTar("missing", out)), ErrorCode::kNotFound);
    EXPECT_EQ(CodeOf(store_->WriteTar("link_out", out)), ErrorCode::kBadRequest);
    EXPECT_EQ(CodeOf(store_->WriteTar("../outside", out)), ErrorCode::kBadRequest);
    EXPECT_TRUE(out.str().empty());
}

TEST_F(TarTest, SinkFailureStopsTheArchive) {
    std::size_t calls = 0;
    ByteSink failing = [&calls](std::string_view) -> Status {
        if (++calls > 3) {
            return MakeError(ErrorCode::kInternal, "client went away");
        }
        return {};
    };
    auto status = store_->WriteTar("", failing);
    ASSERT_FALSE(status.has_value());
    EXPECT_EQ(status.error().message, "client went away");
    EXPECT_EQ(calls, 4u);
}

TEST(TarWriterTest, PaxHeaderCarriesNamesOfAnyLength) {
    std::string pattern = (fs::temp_directory_path() / "lathe_tar_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    const fs::path base = pattern;
    // Lengths around the 100-byte field and the PAX record's own length digits changing.
    for (std::size_t length : {99u, 100u, 101u, 155u, 256u, 1000u}) {
        SCOPED_TRACE(length);
        std::string name(length, 'n');
        for (std::size_t i = 50; i < length; i += 51) {
            name[i] = '/';  // keep components under 255 bytes
        }
        const fs::path file = base / "file.txt";
        WriteFile(file, "payload");
        const fs::path archive = base / "a.tar";
        {
            std::ofstream out(archive, std::ios::binary);
            ASSERT_TRUE(WriteTarArchive(file, name, out).has_value());
        }
        auto [status, output] = RunShell("tar -tf " + archive.string());
        EXPECT_EQ(status, 0) << output;
        EXPECT_EQ(output, name + "\n");
    }
    fs::remove_all(base);
}

}  // namespace
}  // namespace lathe::projects
