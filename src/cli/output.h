// Human-readable output of the client: aligned tables, sizes, and error reports.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cli_error.h"
#include "cli/json.h"

namespace lathe::cli {

// Columns padded to the widest cell (counted in characters, not bytes, so names in any script
// line up); the last column is not padded, so lines carry no trailing spaces.
class Table {
public:
    explicit Table(std::vector<std::string> headers);
    void AddRow(std::vector<std::string> cells);
    bool empty() const { return rows_.empty(); }
    void Print(std::ostream& out) const;

private:
    std::vector<std::string> headers_;
    std::vector<std::vector<std::string>> rows_;
};

// "512 B", "3.0 MiB", ...
std::string FormatBytes(std::uint64_t bytes);

// A JSON value as a table cell: strings without quotes, null as "-".
std::string Cell(const Json& object, std::string_view field);

// A timestamp cell: the server's RFC 3339 time without its fraction of a second, which only
// widens the column ("2026-11-24T07:00:00.123Z" -> "2026-11-24T07:00:00Z").
std::string TimeCell(const Json& object, std::string_view field);

// Pretty JSON for --json, so scripts and people can both read it.
void PrintJson(const Json& value);

// Prints "error: <message>" (and the hint) on stderr and returns the exit code.
int ReportError(const CliError& error);

}  // namespace lathe::cli
