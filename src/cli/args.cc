// Command-line parsing for the client: global flags anywhere, then per-command options.
#include "cli/args.h"

#include <charconv>
#include <utility>

namespace lathe::cli {

Result<GlobalOptions> ExtractGlobalOptions(std::vector<std::string>& args) {
    GlobalOptions global;
    std::vector<std::string> rest;
    rest.reserve(args.size());
    bool after_separator = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (after_separator) {
            rest.push_back(arg);
        } else if (arg == "--") {
            after_separator = true;
            rest.push_back(arg);
        } else if (arg == "--json") {
            global.json = true;
        } else if (arg == "--help" || arg == "-h") {
            global.help = true;
        } else if (arg == "--url") {
            if (i + 1 >= args.size()) {
                return UsageError("option --url needs a value");
            }
            global.url = args[++i];
        } else if (arg.starts_with("--url=")) {
            global.url = arg.substr(6);
        } else {
            rest.push_back(arg);
        }
    }
    args = std::move(rest);
    return global;
}

std::optional<std::string> ParsedArgs::Value(std::string_view name) const {
    auto it = values.find(name);
    if (it == values.end()) {
        return std::nullopt;
    }
    return it->second;
}

Result<ParsedArgs> ParseArgs(std::span<const std::string> args,
                             std::span<const OptionSpec> options) {
    ParsedArgs parsed;
    bool after_separator = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        // A lone "-" is a positional (it means stdout for `files get`).
        if (after_separator || !arg.starts_with("-") || arg == "-") {
            parsed.positionals.push_back(arg);
            continue;
        }
        if (arg == "--") {
            after_separator = true;
            continue;
        }
        if (!arg.starts_with("--")) {
            return UsageError("unknown option " + arg);
        }
        std::string_view body = std::string_view(arg).substr(2);
        std::optional<std::string> inline_value;
        if (auto eq = body.find('='); eq != std::string_view::npos) {
            inline_value = std::string(body.substr(eq + 1));
            body = body.substr(0, eq);
        }
        const OptionSpec* spec = nullptr;
        for (const OptionSpec& option : options) {
            if (option.name == body) {
                spec = &option;
            }
        }
        if (spec == nullptr) {
            return UsageError("unknown option --" + std::string(body));
        }
        if (!spec->takes_value) {
            if (inline_value) {
                return UsageError("option --" + std::string(body) + " takes no value");
            }
            parsed.flags.emplace(body);
            continue;
        }
        if (!inline_value) {
            if (i + 1 >= args.size()) {
                return UsageError("option --" + std::string(body) + " needs a value");
            }
            inline_value = args[++i];
        }
        parsed.values[std::string(body)] = std::move(*inline_value);
    }
    return parsed;
}

Result<ParsedArgs> ParseCommandLine(std::span<const std::string> args,
                                    std::span<const OptionSpec> options,
                                    std::string_view usage,
                                    std::size_t min_positionals,
                                    std::size_t max_positionals) {
    Result<ParsedArgs> parsed = ParseArgs(args, options);
    if (!parsed) {
        return UsageError(parsed.error().message, std::string(usage));
    }
    const std::size_t count = parsed->positionals.size();
    if (count < min_positionals) {
        return UsageError("missing arguments", std::string(usage));
    }
    if (count > max_positionals) {
        return UsageError("unexpected argument '" + parsed->positionals[max_positionals] + "'",
                          std::string(usage));
    }
    return parsed;
}

Result<std::int64_t> ParseInteger(std::string_view text,
                                  std::string_view what,
                                  std::int64_t min,
                                  std::int64_t max) {
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min ||
        value > max) {
        return UsageError(std::string(what) + " must be an integer from " + std::to_string(min) +
                          " to " + std::to_string(max) + ", not '" + std::string(text) + "'");
    }
    return value;
}

}  // namespace lathe::cli
