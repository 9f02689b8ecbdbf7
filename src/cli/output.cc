// Human-readable output of the client: aligned tables, sizes, and error reports.
#include "cli/output.h"

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace lathe::cli {
namespace {

// UTF-8 continuation bytes do not start a character.
std::size_t DisplayWidth(std::string_view text) {
    return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
}

// A cell must stay on its line: a newline or tab in a name would break the columns.
std::string OneLine(std::string text) {
    std::replace_if(
        text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
    return text;
}

}  // namespace

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::AddRow(std::vector<std::string> cells) {
    cells.resize(headers_.size());
    for (std::string& cell : cells) {
        cell = OneLine(std::move(cell));
    }
    rows_.push_back(std::move(cells));
}

void Table::Print(std::ostream& out) const {
    std::vector<std::size_t> widths(headers_.size(), 0);
    auto measure = [&widths](const std::vector<std::string>& row) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            widths[i] = std::max(widths[i], DisplayWidth(row[i]));
        }
    };
    measure(headers_);
    for (const auto& row : rows_) {
        measure(row);
    }
    auto print_row = [&](const std::vector<std::string>& row) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) {
                line.append(widths[i] - DisplayWidth(row[i]) + 2, ' ');
            }
        }
        while (line.ends_with(' ')) {
            line.pop_back();
        }
        out << line << '\n';
    };
    print_row(headers_);
    for (const auto& row : rows_) {
        print_row(row);
    }
}

std::string FormatBytes(std::uint64_t bytes) {
    static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    if (bytes < 1024) {
        return std::to_string(bytes) + " B";
    }
    double value = static_cast<double>(bytes);
    std::size_t unit = 0;
    while (value >= 1024 && unit + 1 < std::size(kUnits)) {
        value /= 1024;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
    return text;
}

std::string Cell(const Json& object, std::string_view field) {
    if (!object.is_object()) {
        return "-";
    }
    auto it = object.find(field);
    if (it == object.end() || it->is_null()) {
        return "-";
    }
    if (it->is_string()) {
        std::string text = it->get<std::string>();
        return text.empty() ? "-" : text;
    }
    return it->dump();
}

std::string TimeCell(const Json& object, std::string_view field) {
    std::string text = Cell(object, field);
    // Only the exact shape the API documents is shortened; anything else is shown as sent.
    if (text.size() > 20 && text[10] == 'T' && text[19] == '.' && text.back() == 'Z') {
        return text.substr(0, 19) + "Z";
    }
    return text;
}

void PrintJson(const Json& value) {
    // Replace, not throw, on invalid UTF-8 from the server: output must never abort halfway.
    std::cout << value.dump(2, ' ', false, Json::error_handler_t::replace) << '\n';
}

int ReportError(const CliError& error) {
    std::cout.flush();
    std::cerr << "error: " << error.message << '\n';
    if (!error.hint.empty()) {
        std::cerr << error.hint << '\n';
    }
    return static_cast<int>(error.exit_code);
}

}  // namespace lathe::cli
