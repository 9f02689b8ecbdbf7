// Command-line parsing for the client: global flags anywhere, then per-command options.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cli_error.h"

namespace lathe::cli {

// Flags every command accepts, wherever they appear on the command line.
struct GlobalOptions {
    bool json = false;
    bool help = false;
    std::optional<std::string> url;
};

// Removes the global flags (--json, --url, --help, -h) from `args` and returns them. Everything
// after a "--" is left alone, so a file name may start with a dash.
Result<GlobalOptions> ExtractGlobalOptions(std::vector<std::string>& args);

struct OptionSpec {
    std::string_view name;  // without the leading "--"
    bool takes_value = false;
};

struct ParsedArgs {
    std::vector<std::string> positionals;
    std::map<std::string, std::string, std::less<>> values;
    std::set<std::string, std::less<>> flags;

    bool Has(std::string_view name) const { return flags.contains(name) || values.contains(name); }
    std::optional<std::string> Value(std::string_view name) const;
};

// Parses `--name value`, `--name=value` and boolean `--name`; anything else is positional.
// An option not in `options` is a usage error, so a typo never passes silently.
Result<ParsedArgs> ParseArgs(std::span<const std::string> args,
                             std::span<const OptionSpec> options);

// ParseArgs, then checks the number of positionals; every usage error carries `usage` as its
// hint, so the user sees the right synopsis.
Result<ParsedArgs> ParseCommandLine(std::span<const std::string> args,
                                    std::span<const OptionSpec> options,
                                    std::string_view usage,
                                    std::size_t min_positionals,
                                    std::size_t max_positionals);

// Parses a decimal integer in [min, max]; `what` names it in the error message.
Result<std::int64_t> ParseInteger(std::string_view text,
                                  std::string_view what,
                                  std::int64_t min,
                                  std::int64_t max);

}  // namespace lathe::cli
