// lineage.yaml parsing: CML's format, line-numbered problems, and no crash on any input.
#include "lineage/lineage_yaml.h"

#include <gtest/gtest.h>

#include <random>

namespace lathe::lineage {
namespace {

TEST(LineageYamlTest, ReadsCmlsFormat) {
    auto file = ParseLineageYaml(R"(
"Churn Model":
  hive_table_qualified_names: ["default.telco_churn@cm"]
  metadata: {query: "select * from telco_churn", training_file: "train.py"}
Other:
  datasets:
    - data/a.csv
    - s3://bucket/b.parquet
)");
    EXPECT_TRUE(file.problems.empty());
    ASSERT_EQ(file.models.size(), 2u);
    const auto& churn = file.models.at("Churn Model");
    EXPECT_EQ(churn.hive_tables, std::vector<std::string>{"default.telco_churn@cm"});
    EXPECT_EQ(churn.metadata["query"], "select * from telco_churn");
    EXPECT_EQ(churn.metadata["training_file"], "train.py");
    EXPECT_EQ(file.models.at("Other").datasets,
              (std::vector<std::string>{"data/a.csv", "s3://bucket/b.parquet"}));
}

TEST(LineageYamlTest, SyntaxErrorNamesLineAndColumnAndKeepsNothing) {
    auto file = ParseLineageYaml("model:\n  datasets: [a.csv\n  metadata: {}\n");
    EXPECT_TRUE(file.models.empty());
    ASSERT_EQ(file.problems.size(), 1u);
    EXPECT_TRUE(file.problems[0].starts_with("lineage.yaml:")) << file.problems[0];
    EXPECT_NE(file.problems[0].find(":3:"), std::string::npos) << file.problems[0];
}

TEST(LineageYamlTest, WrongShapesAreProblemsWithLinesAndOtherEntriesSurvive) {
    auto file = ParseLineageYaml(
        "good:\n"
        "  datasets: [x.csv]\n"
        "bad: just a string\n"
        "typed:\n"
        "  hive_table_qualified_names: {a: b}\n"
        "  datasets: [ok.csv, [nested]]\n"
        "  metadata: [1, 2]\n"
        "  colour: blue\n");
    ASSERT_EQ(file.models.count("good"), 1u);
    EXPECT_EQ(file.models.count("bad"), 0u);
    ASSERT_EQ(file.models.count("typed"), 1u);
    EXPECT_EQ(file.models.at("typed").datasets, std::vector<std::string>{"ok.csv"});
    ASSERT_EQ(file.problems.size(), 5u);
    EXPECT_NE(file.problems[0].find("lineage.yaml:3:"), std::string::npos) << file.problems[0];
    EXPECT_NE(file.problems[1].find("lineage.yaml:5:"), std::string::npos) << file.problems[1];
    EXPECT_NE(file.problems[2].find("lineage.yaml:6:"), std::string::npos) << file.problems[2];
    EXPECT_NE(file.problems[3].find("lineage.yaml:7:"), std::string::npos) << file.problems[3];
    EXPECT_NE(file.problems[4].find("unknown key \"colour\""), std::string::npos)
        << file.problems[4];
}

TEST(LineageYamlTest, TopLevelMustBeAMapping) {
    auto file = ParseLineageYaml("- a\n- b\n");
    EXPECT_TRUE(file.models.empty());
    ASSERT_EQ(file.problems.size(), 1u);
    EXPECT_NE(file.problems[0].find("must map model names"), std::string::npos);
    EXPECT_TRUE(ParseLineageYaml("").problems.empty());
    EXPECT_TRUE(ParseLineageYaml("# only a comment\n").models.empty());
}

TEST(LineageYamlTest, InvalidUtf8NeverReachesJson) {
    auto file = ParseLineageYaml("\xff\xfem:\n  datasets: [\"a\xc0.csv\"]\n  metadata: {k\xff: v\xfe}\n");
    for (const auto& [name, d] : file.models) {
        nlohmann::json j = DeclarationJson(d);
        j["name"] = name;
        EXPECT_NO_THROW((void)j.dump());
    }
    auto garbage = ParseLineageYaml("\x00\xff\xfe garbage: [[[");
    nlohmann::json problems = garbage.problems;
    EXPECT_NO_THROW((void)problems.dump());
    EXPECT_EQ(ValidUtf8("caf\xc3\xa9 \xff"), "caf\xc3\xa9 \xef\xbf\xbd");
}

TEST(LineageYamlTest, OversizedFileIsRefused) {
    std::string big(kMaxLineageYamlBytes + 1, '#');
    auto file = ParseLineageYaml(big);
    ASSERT_EQ(file.problems.size(), 1u);
    EXPECT_NE(file.problems[0].find("at most"), std::string::npos);
}

TEST(LineageYamlTest, GarbageNeverCrashes) {
    std::mt19937 rng(7);
    const std::string alphabet = "ab:-[]{}\"'\n #&*!|>%@`,?\t\\";
    for (int i = 0; i < 3000; ++i) {
        std::string text;
        const int n = static_cast<int>(rng() % 80);
        for (int j = 0; j < n; ++j) {
            text += alphabet[rng() % alphabet.size()];
        }
        auto file = ParseLineageYaml(text);
        for (const auto& p : file.problems) {
            EXPECT_TRUE(p.starts_with("lineage.yaml")) << p;
        }
    }
    // Deep nesting and anchors are bounded too.
    std::string deep = "m:\n  metadata: " + std::string(500, '[') + std::string(500, ']') + "\n";
    (void)ParseLineageYaml(deep);
    (void)ParseLineageYaml("a: &x [*x]\n");
}

}  // namespace
}  // namespace lathe::lineage
