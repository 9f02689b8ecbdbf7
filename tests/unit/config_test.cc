// Tests for server settings: defaults, file < environment < flag precedence, validation and --help.
#include "core/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace lathe {
namespace {

namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "lathe_config_XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }

    void TearDown() override {
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }

    // Writes a YAML file and returns its path.
    std::string WriteYaml(std::string_view content, const std::string& name = "lathe.yaml") {
        const fs::path path = dir_ / name;
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << content;
        out.close();
        return path.string();
    }

    fs::path dir_;
};

// The error message of a failed load, or a marker saying it unexpectedly succeeded.
std::string LoadError(const ConfigSources& sources) {
    auto loaded = LoadServerConfig(sources);
    if (loaded.has_value()) {
        return "<loaded successfully>";
    }
    EXPECT_EQ(loaded.error().code, ErrorCode::kBadRequest);
    return loaded.error().message;
}

bool Contains(const std::string& haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}

TEST_F(ConfigTest, NoSourcesGiveTheDocumentedDefaults) {
    auto loaded = LoadServerConfig(ConfigSources{});
    ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
    const ServerConfig& c = *loaded;
    EXPECT_EQ(c.host, "127.0.0.1");
    EXPECT_EQ(c.port, 8080);
    EXPECT_EQ(c.data_dir, "./lathe-data");
    EXPECT_EQ(c.max_body_bytes, 5ull << 20);
    EXPECT_EQ(c.max_file_bytes, 1ull << 30);
    EXPECT_EQ(c.session_ttl_hours, 12);
    EXPECT_EQ(c.login_rate_per_user, 10);
    EXPECT_EQ(c.log_level, "info");
    EXPECT_EQ(c.sqlite_synchronous, "full");
}

TEST_F(ConfigTest, UnrelatedEnvironmentVariablesAreIgnored) {
    ConfigSources sources;
    sources.env = {{"HOME", "/root"}, {"PORT", "1"}, {"LATHE", "x"}};
    auto loaded = LoadServerConfig(sources);
    ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
    EXPECT_EQ(loaded->port, 8080);
}

TEST_F(ConfigTest, FileThenEnvironmentThenFlagForTheSameSetting) {
    const std::string yaml = WriteYaml("port: 9001\nhost: 0.0.0.0\n");
    struct Case {
        bool file, env, flag;
        int want_port;
    };
    const Case cases[] = {
        {false, false, false, 8080}, {true, false, false, 9001}, {false, true, false, 9002},
        {false, false, true, 9003},  {true, true, false, 9002},  {true, false, true, 9003},
        {false, true, true, 9003},   {true, true, true, 9003},
    };
    for (const Case& c : cases) {
        ConfigSources sources;
        if (c.file) {
            sources.yaml_path = yaml;
        }
        if (c.env) {
            sources.env["LATHE_PORT"] = "9002";
        }
        if (c.flag) {
            sources.flags["port"] = "9003";
        }
        auto loaded = LoadServerConfig(sources);
        ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
        EXPECT_EQ(loaded->port, c.want_port)
            << "file=" << c.file << " env=" << c.env << " flag=" << c.flag;
        // A setting only the file gives survives the higher-precedence sources.
        EXPECT_EQ(loaded->host, c.file ? "0.0.0.0" : "127.0.0.1");
    }
}

TEST_F(ConfigTest, YamlSetsEveryKindOfSetting) {
    const std::string yaml = WriteYaml(
        "data_dir: /srv/lathe\nmax_body_bytes: 2048\nlog_level: debug\n"
        "sqlite_synchronous: normal\nsession_ttl_hours: 1\n");
    auto loaded = LoadServerConfig(ConfigSources{yaml, {}, {}});
    ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
    EXPECT_EQ(loaded->data_dir, "/srv/lathe");
    EXPECT_EQ(loaded->max_body_bytes, 2048u);
    EXPECT_EQ(loaded->log_level, "debug");
    EXPECT_EQ(loaded->sqlite_synchronous, "normal");
    EXPECT_EQ(loaded->session_ttl_hours, 1);
}

TEST_F(ConfigTest, EmptyYamlFileGivesDefaults) {
    auto loaded = LoadServerConfig(ConfigSources{WriteYaml(""), {}, {}});
    ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
    EXPECT_EQ(loaded->port, 8080);
}

TEST_F(ConfigTest, UnknownYamlKeyIsAnErrorNamingTheKey) {
    const std::string yaml = WriteYaml("port: 9000\nlisten_port: 9001\n");
    const std::string message = LoadError(ConfigSources{yaml, {}, {}});
    EXPECT_TRUE(Contains(message, "listen_port")) << message;
    EXPECT_TRUE(Contains(message, yaml)) << message;
}

TEST_F(ConfigTest, UnknownFlagIsAnErrorNamingTheFlag) {
    ConfigSources sources;
    sources.flags["no_such_setting"] = "1";
    const std::string message = LoadError(sources);
    EXPECT_TRUE(Contains(message, "--no-such-setting")) << message;
}

TEST_F(ConfigTest, BadIntegersAreRejectedFromEverySource) {
    for (const char* bad : {"abc", "80x", "", "8.5", "-1", "65536", "99999999999999999999"}) {
        SCOPED_TRACE(std::string("value '") + bad + "'");
        ConfigSources from_flag;
        from_flag.flags["port"] = bad;
        std::string message = LoadError(from_flag);
        EXPECT_TRUE(Contains(message, "port")) << message;
        EXPECT_TRUE(Contains(message, "--port")) << message;

        ConfigSources from_env;
        from_env.env["LATHE_PORT"] = bad;
        message = LoadError(from_env);
        EXPECT_TRUE(Contains(message, "LATHE_PORT")) << message;
    }
}

TEST_F(ConfigTest, OutOfRangeMessageGivesTheRange) {
    ConfigSources sources;
    sources.flags["port"] = "70000";
    const std::string message = LoadError(sources);
    EXPECT_TRUE(Contains(message, "0..65535")) << message;
}

TEST_F(ConfigTest, RangeBoundsAreInclusive) {
    for (const char* ok : {"0", "65535"}) {
        ConfigSources sources;
        sources.flags["port"] = ok;
        auto loaded = LoadServerConfig(sources);
        ASSERT_TRUE(loaded.has_value()) << ok << ": " << loaded.error().message;
        EXPECT_EQ(loaded->port, std::atoi(ok));
    }
    ConfigSources too_small;
    too_small.flags["max_body_bytes"] = "1023";
    EXPECT_TRUE(Contains(LoadError(too_small), "max_body_bytes"));
    ConfigSources negative_unsigned;
    negative_unsigned.flags["max_file_bytes"] = "-5";
    EXPECT_TRUE(Contains(LoadError(negative_unsigned), "max_file_bytes"));
}

TEST_F(ConfigTest, BadIntegerInYamlNamesTheFile) {
    const std::string yaml = WriteYaml("session_ttl_hours: forever\n");
    const std::string message = LoadError(ConfigSources{yaml, {}, {}});
    EXPECT_TRUE(Contains(message, "session_ttl_hours")) << message;
    EXPECT_TRUE(Contains(message, yaml)) << message;
}

TEST_F(ConfigTest, EnumeratedStringsAreValidated) {
    ConfigSources bad;
    bad.flags["log_level"] = "verbose";
    const std::string message = LoadError(bad);
    EXPECT_TRUE(Contains(message, "verbose")) << message;
    EXPECT_TRUE(Contains(message, "debug")) << message;  // lists the allowed values

    for (const char* level : {"debug", "info", "warn", "error"}) {
        ConfigSources good;
        good.env["LATHE_LOG_LEVEL"] = level;
        auto loaded = LoadServerConfig(good);
        ASSERT_TRUE(loaded.has_value()) << level << ": " << loaded.error().message;
        EXPECT_EQ(loaded->log_level, level);
    }

    ConfigSources bad_sync;
    bad_sync.flags["sqlite_synchronous"] = "off";
    EXPECT_TRUE(Contains(LoadError(bad_sync), "sqlite_synchronous"));
}

TEST_F(ConfigTest, MalformedYamlIsAnErrorNamingTheFile) {
    const std::string yaml = WriteYaml("port: [9000\nhost: x\n", "broken.yaml");
    const std::string message = LoadError(ConfigSources{yaml, {}, {}});
    EXPECT_TRUE(Contains(message, yaml)) << message;
}

TEST_F(ConfigTest, YamlThatIsNotAMappingIsAnError) {
    const std::string yaml = WriteYaml("- port\n- 9000\n", "list.yaml");
    const std::string message = LoadError(ConfigSources{yaml, {}, {}});
    EXPECT_TRUE(Contains(message, yaml)) << message;
}

TEST_F(ConfigTest, NestedYamlValueIsAnError) {
    const std::string yaml = WriteYaml("port:\n  value: 9000\n");
    const std::string message = LoadError(ConfigSources{yaml, {}, {}});
    EXPECT_TRUE(Contains(message, "port")) << message;
}

TEST_F(ConfigTest, MissingYamlFileIsAnErrorNamingTheFile) {
    const std::string missing = (dir_ / "nope.yaml").string();
    const std::string message = LoadError(ConfigSources{missing, {}, {}});
    EXPECT_TRUE(Contains(message, missing)) << message;
}

// The flag, environment variable and default of each setting, derived from its name the way the
// documentation promises (snake_case name -> --kebab-case flag, LATHE_UPPER_CASE variable).
TEST_F(ConfigTest, HelpListsEverySettingsFlagVariableAndDefault) {
    const std::string help = ServerSettingsHelp();
    const ServerConfig defaults;
    ASSERT_FALSE(ServerSettings().empty());
    for (const SettingSpec& s : ServerSettings()) {
        std::string flag = "--";
        std::string env = "LATHE_";
        for (char ch : s.name) {
            flag += ch == '_' ? '-' : ch;
            env += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        }
        const std::string flag_line = "  " + flag + " VALUE\n";
        const auto start = help.find(flag_line);
        ASSERT_NE(start, std::string::npos) << "help does not list " << flag << "\n" << help;
        // This setting's block runs to the next flag line.
        const auto end = help.find("\n  --", start + flag_line.size());
        const std::string block = help.substr(start, end == std::string::npos ? end : end - start);
        EXPECT_TRUE(Contains(block, "env: " + env)) << block;
        EXPECT_TRUE(Contains(block, "default: " + s.get(defaults))) << block;
        EXPECT_TRUE(Contains(block, s.help)) << block;
    }
    EXPECT_TRUE(Contains(help, "--data-dir VALUE"));
    EXPECT_TRUE(Contains(help, "env: LATHE_PORT   default: 8080"));
}

// Every setting's documented default is what LoadServerConfig gives, and feeding the default back
// through its own flag is accepted (no default outside its own valid range).
TEST_F(ConfigTest, EveryDefaultIsValidForItsOwnSetting) {
    const ServerConfig defaults;
    for (const SettingSpec& s : ServerSettings()) {
        ConfigSources sources;
        sources.flags[s.name] = s.get(defaults);
        auto loaded = LoadServerConfig(sources);
        ASSERT_TRUE(loaded.has_value()) << s.name << ": " << loaded.error().message;
        EXPECT_EQ(s.get(*loaded), s.get(defaults)) << s.name;
    }
}

}  // namespace
}  // namespace lathe
