// Cron schedules in a time zone: parsing, next fire times across DST, and English descriptions.
#include "jobs/schedule.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <charconv>
#include <chrono>
#include <exception>
#include <span>

// Debian's libdate-tz is built against the system's zoneinfo with these settings; they change the
// layout of tz.h's types, so they must match the library. Only this file includes tz.h.
#ifndef USE_OS_TZDB
#define USE_OS_TZDB 1
#endif
#ifndef HAS_STRING_VIEW
#define HAS_STRING_VIEW 1
#endif
#ifndef ONLY_C_LOCALE
#define ONLY_C_LOCALE 1
#endif
#include <date/tz.h>

namespace lathe::jobs {
namespace {

using std::chrono::days;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr std::int64_t kMsPerMinute = 60'000;
constexpr int kMinutesPerDay = 24 * 60;
// Long enough to reach the next 29 February from anywhere.
constexpr int kSearchDays = 5 * 366 + 2;
// Searches start between 1900 and 9999, which keeps the calendar arithmetic far from overflow.
constexpr std::int64_t kEarliestSearchMs = -2'208'988'800'000;
constexpr std::int64_t kLatestSearchMs = 253'402'300'799'999;
constexpr std::size_t kMaxExpressionLength = 512;

constexpr std::array<std::string_view, 12> kMonthAbbrevs = {
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 12> kMonthNames = {
    "january", "february", "march",     "april",   "may",      "june",
    "july",    "august",   "september", "october", "november", "december"};
constexpr std::array<std::string_view, 7> kDayAbbrevs = {"sun", "mon", "tue", "wed",
                                                         "thu", "fri", "sat"};
constexpr std::array<std::string_view, 7> kDayNames = {"sunday",   "monday", "tuesday", "wednesday",
                                                       "thursday", "friday", "saturday"};
constexpr std::array<std::string_view, 12> kMonthTitles = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};
constexpr std::array<std::string_view, 7> kDayTitles = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};

struct FieldSpec {
    std::string_view name;  // as users read it in messages: "day-of-month"
    int min;
    int max;        // largest value stored (day-of-week: 6)
    int max_input;  // largest value accepted as written (day-of-week: 7, another Sunday)
    std::span<const std::string_view> abbrevs;  // abbrevs[i] names value names_base + i
    std::span<const std::string_view> names;
    int names_base;
    std::string_view name_kind;  // "month name"
};

const FieldSpec kMinuteSpec{"minute", 0, 59, 59, {}, {}, 0, ""};
const FieldSpec kHourSpec{"hour", 0, 23, 23, {}, {}, 0, ""};
const FieldSpec kDayOfMonthSpec{"day-of-month", 1, 31, 31, {}, {}, 0, ""};
const FieldSpec kMonthSpec{"month", 1, 12, 12, kMonthAbbrevs, kMonthNames, 1, "month name"};
const FieldSpec kDayOfWeekSpec{"day-of-week", 0, 6, 7, kDayAbbrevs, kDayNames, 0, "day name"};

std::unexpected<Error> BadRequest(std::string message) {
    return MakeError(ErrorCode::kBadRequest, std::move(message));
}

std::string Lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

std::string_view Trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
        s.remove_prefix(1);
    }
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
        s.remove_suffix(1);
    }
    return s;
}

std::vector<std::string_view> SplitWords(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) {
            ++i;
        }
        std::size_t start = i;
        while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) {
            ++i;
        }
        if (i > start) {
            out.push_back(s.substr(start, i - start));
        }
    }
    return out;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= s.size(); ++i) {
        if (i == s.size() || s[i] == sep) {
            out.push_back(s.substr(start, i - start));
            start = i + 1;
        }
    }
    return out;
}

// A small non-negative decimal, or nullopt; the length cap keeps "99999999999" out of int.
std::optional<int> SmallNumber(std::string_view s) {
    if (s.empty() || s.size() > 6) {
        return std::nullopt;
    }
    int v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size()) {
        return std::nullopt;
    }
    return v;
}

bool AllDigits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
    });
}

std::optional<int> LookUpName(std::string_view word, const FieldSpec& spec) {
    std::string lower = Lower(word);
    for (std::size_t i = 0; i < spec.abbrevs.size(); ++i) {
        if (lower == spec.abbrevs[i] || lower == spec.names[i]) {
            return spec.names_base + static_cast<int>(i);
        }
    }
    return std::nullopt;
}

std::string RangeText(int lo, int hi) {
    return std::to_string(lo) + "-" + std::to_string(hi);
}

Result<int> ParseValue(std::string_view text, const FieldSpec& spec) {
    if (text.empty()) {
        return BadRequest(std::string(spec.name) + " has an empty value");
    }
    if (AllDigits(text)) {
        std::optional<int> v = SmallNumber(text);
        if (!v || *v < spec.min || *v > spec.max_input) {
            return BadRequest(std::string(spec.name) + " " + std::string(text) +
                              " is out of range " + RangeText(spec.min, spec.max_input));
        }
        return *v;
    }
    if (!spec.abbrevs.empty()) {
        if (std::optional<int> v = LookUpName(text, spec)) {
            return *v;
        }
        return BadRequest(std::string(spec.name) + " '" + std::string(text) +
                          "' is not a number or a " + std::string(spec.name_kind));
    }
    return BadRequest(std::string(spec.name) + " '" + std::string(text) + "' is not a number");
}

void SetValue(CronField& field, int v, const FieldSpec& spec) {
    // Values above the stored maximum are aliases: day-of-week 7 is Sunday again.
    field.values |= std::uint64_t{1} << (v > spec.max ? v - (spec.max - spec.min + 1) : v);
}

// One list item: "*", "*/N", "A", "A-B", "A-B/N" or "A/N" (A up to the maximum, every N).
Status ParseTerm(std::string_view term, const FieldSpec& spec, bool first, CronField& field) {
    std::vector<std::string_view> parts = Split(term, '/');
    if (parts.size() > 2) {
        return BadRequest(std::string(spec.name) + " '" + std::string(term) +
                          "' has more than one '/'");
    }
    int step = 1;
    if (parts.size() == 2) {
        if (!AllDigits(parts[1])) {
            return BadRequest(std::string(spec.name) + " step '" + std::string(parts[1]) +
                              "' in '" + std::string(term) + "' is not a number");
        }
        std::optional<int> n = SmallNumber(parts[1]);
        // A step as wide as the whole range only ever hits its start: almost surely a mistake
        // such as "*/60" for "every hour".
        if (!n || *n < 1 || *n > spec.max - spec.min) {
            return BadRequest(std::string(spec.name) + " step " + std::string(parts[1]) +
                              " is out of range " + RangeText(1, spec.max - spec.min));
        }
        step = *n;
    }
    std::string_view base = parts[0];
    int lo = 0;
    int hi = 0;
    if (base == "*") {
        lo = spec.min;
        hi = spec.max;
        if (first) {
            field.star = true;
            field.star_step = step;
        }
    } else {
        std::vector<std::string_view> ends = Split(base, '-');
        if (ends.size() > 2) {
            return BadRequest(std::string(spec.name) + " '" + std::string(term) +
                              "' has more than one '-'");
        }
        ASSIGN_OR_RETURN(lo, ParseValue(ends[0], spec));
        if (ends.size() == 2) {
            ASSIGN_OR_RETURN(hi, ParseValue(ends[1], spec));
            if (lo > hi) {
                return BadRequest(std::string(spec.name) + " range '" + std::string(base) +
                                  "' is backwards: it starts after it ends");
            }
        } else {
            hi = parts.size() == 2 ? std::max(lo, spec.max) : lo;
        }
    }
    for (int v = lo; v <= hi; v += step) {
        SetValue(field, v, spec);
    }
    return {};
}

Result<CronField> ParseField(std::string_view text, const FieldSpec& spec) {
    CronField field;
    std::vector<std::string_view> terms = Split(text, ',');
    for (std::size_t i = 0; i < terms.size(); ++i) {
        if (terms[i].empty()) {
            return BadRequest(std::string(spec.name) + " '" + std::string(text) +
                              "' has an empty list item");
        }
        RETURN_IF_ERROR(ParseTerm(terms[i], spec, i == 0, field));
    }
    return field;
}

Result<CronSchedule> ParseFields(std::string_view expression) {
    std::vector<std::string_view> words = SplitWords(expression);
    if (words.size() != 5) {
        return BadRequest("expected 5 fields (minute hour day-of-month month day-of-week), got " +
                          std::to_string(words.size()) + " in '" + std::string(expression) + "'");
    }
    CronSchedule s;
    ASSIGN_OR_RETURN(s.minute, ParseField(words[0], kMinuteSpec));
    ASSIGN_OR_RETURN(s.hour, ParseField(words[1], kHourSpec));
    ASSIGN_OR_RETURN(s.day_of_month, ParseField(words[2], kDayOfMonthSpec));
    ASSIGN_OR_RETURN(s.month, ParseField(words[3], kMonthSpec));
    ASSIGN_OR_RETURN(s.day_of_week, ParseField(words[4], kDayOfWeekSpec));
    return s;
}

Result<std::string> ExpandShorthand(std::string_view expression) {
    std::string lower = Lower(expression);
    if (lower == "@hourly") {
        return std::string("0 * * * *");
    }
    if (lower == "@daily" || lower == "@midnight") {
        return std::string("0 0 * * *");
    }
    if (lower == "@weekly") {
        return std::string("0 0 * * 0");
    }
    if (lower == "@monthly") {
        return std::string("0 0 1 * *");
    }
    if (lower == "@yearly" || lower == "@annually") {
        return std::string("0 0 1 1 *");
    }
    return BadRequest("unknown shorthand '" + std::string(expression) +
                      "' (expected @hourly, @daily, @midnight, @weekly, @monthly, @yearly or "
                      "@annually)");
}

struct TimeOfDay {
    int hour = 0;
    int minute = 0;
};

Result<TimeOfDay> ParseTimeOfDay(std::string_view text) {
    std::vector<std::string_view> parts = Split(text, ':');
    if (parts.size() != 2 || !AllDigits(parts[0]) || parts[0].size() > 2 || !AllDigits(parts[1]) ||
        parts[1].size() != 2) {
        return BadRequest("time '" + std::string(text) + "' must be HH:MM on a 24-hour clock");
    }
    TimeOfDay t{*SmallNumber(parts[0]), *SmallNumber(parts[1])};
    if (t.hour > 23) {
        return BadRequest("time '" + std::string(text) + "': hour " + std::to_string(t.hour) +
                          " is out of range 0-23");
    }
    if (t.minute > 59) {
        return BadRequest("time '" + std::string(text) + "': minute " + std::to_string(t.minute) +
                          " is out of range 0-59");
    }
    return t;
}

Result<int> ParseEveryCount(std::string_view text, std::string_view unit, int max) {
    std::optional<int> n = AllDigits(text) ? SmallNumber(text) : std::nullopt;
    if (!n || *n < 1 || *n > max) {
        return BadRequest("every N " + std::string(unit) + ": N must be 1-" + std::to_string(max) +
                          ", got '" + std::string(text) + "'");
    }
    return *n;
}

// CML's schedule picker writes these phrases; each becomes the cron fields it stands for.
Result<std::string> ExpandWords(std::string_view expression) {
    std::string lower = Lower(expression);
    std::vector<std::string_view> w = SplitWords(lower);
    auto unrecognized = [&] {
        return BadRequest("unrecognized schedule '" + std::string(expression) +
                          "': expected 5 cron fields, an @shorthand such as @daily, or a phrase "
                          "such as 'every 15 minutes' or 'daily at 02:00'");
    };
    if (w.empty()) {
        return unrecognized();
    }
    if (w[0] == "every") {
        if (w.size() == 2 && w[1] == "minute") {
            return std::string("* * * * *");
        }
        if (w.size() == 2 && w[1] == "hour") {
            return std::string("0 * * * *");
        }
        if (w.size() == 3 && (w[2] == "minute" || w[2] == "minutes")) {
            ASSIGN_OR_RETURN(int n, ParseEveryCount(w[1], "minutes", 59));
            return n == 1 ? std::string("* * * * *") : "*/" + std::to_string(n) + " * * * *";
        }
        if (w.size() == 3 && (w[2] == "hour" || w[2] == "hours")) {
            ASSIGN_OR_RETURN(int n, ParseEveryCount(w[1], "hours", 23));
            return n == 1 ? std::string("0 * * * *") : "0 */" + std::to_string(n) + " * * *";
        }
        return unrecognized();
    }
    if (w.size() == 1 && w[0] == "hourly") {
        return std::string("0 * * * *");
    }
    if (w[0] != "daily" && w[0] != "weekly" && w[0] != "monthly") {
        return unrecognized();
    }
    std::string day_of_month = "*";
    std::string day_of_week = "*";
    if (w[0] == "weekly") {
        day_of_week = "0";
    } else if (w[0] == "monthly") {
        day_of_month = "1";
    }
    TimeOfDay time;
    std::size_t i = 1;
    if (i < w.size() && w[i] == "on" && w[0] == "weekly") {
        if (i + 1 >= w.size()) {
            return BadRequest("'" + std::string(expression) + "': 'on' needs a day name");
        }
        std::optional<int> day = LookUpName(w[i + 1], kDayOfWeekSpec);
        if (!day) {
            return BadRequest("'" + std::string(w[i + 1]) + "' is not a day name");
        }
        day_of_week = std::to_string(*day);
        i += 2;
    } else if (i < w.size() && w[i] == "on" && w[0] == "monthly") {
        if (i + 2 >= w.size() || w[i + 1] != "day") {
            return BadRequest("'" + std::string(expression) + "': expected 'on day D'");
        }
        std::optional<int> day = AllDigits(w[i + 2]) ? SmallNumber(w[i + 2]) : std::nullopt;
        if (!day || *day < 1 || *day > 31) {
            return BadRequest("day " + std::string(w[i + 2]) + " is out of range 1-31");
        }
        day_of_month = std::to_string(*day);
        i += 3;
    }
    if (i < w.size() && w[i] == "at") {
        if (i + 1 >= w.size()) {
            return BadRequest("'" + std::string(expression) + "': 'at' needs a time HH:MM");
        }
        ASSIGN_OR_RETURN(time, ParseTimeOfDay(w[i + 1]));
        i += 2;
    }
    if (i != w.size()) {
        return BadRequest("unexpected '" + std::string(w[i]) + "' in '" + std::string(expression) +
                          "'");
    }
    return std::to_string(time.minute) + " " + std::to_string(time.hour) + " " + day_of_month +
           " * " + day_of_week;
}

// CML's phrases start with one of a few words. Five words that do not are read as cron fields, so
// that a typo in the minute field gets a message about the minute field.
bool LooksLikeWords(std::string_view expr) {
    std::vector<std::string_view> words = SplitWords(expr);
    std::string first = Lower(words.front());
    if (first == "every" || first == "hourly" || first == "daily" || first == "weekly" ||
        first == "monthly") {
        return true;
    }
    return words.size() != 5 && std::isalpha(static_cast<unsigned char>(expr.front()));
}

// The zone, or nullptr. date::locate_zone throws for unknown names and when the database cannot
// be read; neither may escape this module.
const date::time_zone* FindZone(std::string_view name) {
    try {
        return date::locate_zone(name);
    } catch (const std::exception&) {
        return nullptr;
    }
}

bool Has(std::uint64_t values, int v) {
    return (values >> v) & 1;
}

// The smallest set value >= from, or -1.
int NextValue(std::uint64_t values, int from) {
    if (from >= 64) {
        return -1;
    }
    std::uint64_t rest = values >> from;
    return rest == 0 ? -1 : from + std::countr_zero(rest);
}

int CountValues(std::uint64_t values) {
    return std::popcount(values);
}

std::uint64_t FullSet(int lo, int hi) {
    std::uint64_t out = 0;
    for (int v = lo; v <= hi; ++v) {
        out |= std::uint64_t{1} << v;
    }
    return out;
}

std::uint64_t Progression(int lo, int hi, int step) {
    std::uint64_t out = 0;
    for (int v = lo; v <= hi; v += step) {
        out |= std::uint64_t{1} << v;
    }
    return out;
}

std::vector<int> Values(std::uint64_t values) {
    std::vector<int> out;
    for (int v = NextValue(values, 0); v >= 0; v = NextValue(values, v + 1)) {
        out.push_back(v);
    }
    return out;
}

// "1-5", "0-45/15" or "1,3,10-12": a list that parses back to exactly these values.
std::string ListText(std::uint64_t values) {
    std::vector<int> v = Values(values);
    std::string out;
    // A progression reads better than a list only from four values on ("0-45/15", "1,3,5").
    if (v.size() >= 4) {
        int step = v[1] - v[0];
        bool progression = step > 1;
        for (std::size_t i = 2; progression && i < v.size(); ++i) {
            progression = v[i] - v[i - 1] == step;
        }
        if (progression) {
            return std::to_string(v.front()) + "-" + std::to_string(v.back()) + "/" +
                   std::to_string(step);
        }
    }
    for (std::size_t i = 0; i < v.size();) {
        std::size_t j = i;
        while (j + 1 < v.size() && v[j + 1] == v[j] + 1) {
            ++j;
        }
        if (!out.empty()) {
            out += ",";
        }
        if (j - i >= 2) {
            out += std::to_string(v[i]) + "-" + std::to_string(v[j]);
            i = j + 1;
        } else {
            out += std::to_string(v[i]);
            i += 1;
        }
    }
    return out;
}

std::string FieldText(const CronField& field, const FieldSpec& spec) {
    if (!field.star) {
        return ListText(field.values);
    }
    std::string out = field.star_step == 1 ? "*" : "*/" + std::to_string(field.star_step);
    std::uint64_t extra = field.values & ~Progression(spec.min, spec.max, field.star_step);
    if (extra != 0) {
        out += "," + ListText(extra);
    }
    return out;
}

bool DayMatches(const CronSchedule& s, date::local_days day) {
    date::year_month_day ymd{day};
    bool dom = Has(s.day_of_month.values, static_cast<int>(static_cast<unsigned>(ymd.day())));
    bool dow = Has(s.day_of_week.values, static_cast<int>(date::weekday{day}.c_encoding()));
    // Vixie cron: a '*'-led field does not restrict, so the other alone decides; two restricted
    // fields widen each other.
    if (s.day_of_month.star || s.day_of_week.star) {
        return dom && dow;
    }
    return dom || dow;
}

std::int64_t ToMs(date::sys_seconds t) {
    return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

// Finds fire times for one schedule in one zone, day by day in local time.
class FireTimeSearch {
public:
    FireTimeSearch(const CronSchedule& s, const date::time_zone& zone)
        : s_(s), zone_(zone), wildcard_(s.minute.star || s.hour.star) {}

    std::optional<std::int64_t> After(std::int64_t after_ms) const {
        if (after_ms < kEarliestSearchMs || after_ms > kLatestSearchMs) {
            return std::nullopt;
        }
        date::sys_seconds after_s{std::chrono::floor<seconds>(milliseconds(after_ms))};
        date::sys_info info = zone_.get_info(after_s);
        date::local_days today = std::chrono::floor<days>(
            date::local_seconds{(after_s + info.offset).time_since_epoch()});
        // From the day before: where a fall-back crosses midnight (Brazil used to), the repeated
        // hour belongs to the previous local day.
        date::local_days day = today - days{1};
        const date::local_days last = today + days{kSearchDays};
        while (day <= last) {
            date::year_month_day ymd{day};
            if (!Has(s_.month.values, static_cast<int>(static_cast<unsigned>(ymd.month())))) {
                date::year_month next = date::year_month{ymd.year(), ymd.month()} + date::months{1};
                day = date::local_days{next / 1};
                continue;
            }
            if (DayMatches(s_, day)) {
                bool near_transition = false;
                std::optional<std::int64_t> found = EarliestOnDay(day, after_ms, near_transition);
                if (found) {
                    // Near a transition the next day's first run can come before this day's last
                    // (that midnight fall-back again), so it gets a say.
                    date::local_days next = day + days{1};
                    if (near_transition && DayMatches(s_, next) &&
                        Has(s_.month.values, static_cast<int>(static_cast<unsigned>(
                                                 date::year_month_day{next}.month())))) {
                        bool unused = false;
                        if (auto other = EarliestOnDay(next, after_ms, unused)) {
                            found = std::min(*found, *other);
                        }
                    }
                    return found;
                }
            }
            day += days{1};
        }
        return std::nullopt;
    }

private:
    // The first matching minute of the day at or after `from` (minutes since local midnight).
    std::optional<int> NextMinute(int from) const {
        if (from >= kMinutesPerDay) {
            return std::nullopt;
        }
        int h = from / 60;
        if (Has(s_.hour.values, h)) {
            int m = NextValue(s_.minute.values, from % 60);
            if (m >= 0 && m < 60) {
                return h * 60 + m;
            }
        }
        int next_h = NextValue(s_.hour.values, h + 1);
        if (next_h < 0 || next_h > 23) {
            return std::nullopt;
        }
        return next_h * 60 + NextValue(s_.minute.values, 0);
    }

    // The first minute of the day whose local time, less `offset_ms`, is after `after_ms`.
    static int FirstMinuteAfter(date::local_days day,
                                std::int64_t after_ms,
                                std::int64_t offset_ms) {
        std::int64_t day_ms =
            std::chrono::duration_cast<milliseconds>(day.time_since_epoch()).count();
        std::int64_t into_day = after_ms + offset_ms - day_ms;
        if (into_day < 0) {
            return 0;
        }
        return static_cast<int>(
            std::min<std::int64_t>(into_day / kMsPerMinute + 1, kMinutesPerDay));
    }

    // The earliest fire time of `day` after `after_ms`. Most days sit inside one UTC offset and
    // take the direct path; days near a transition map each local time on its own.
    std::optional<std::int64_t> EarliestOnDay(date::local_days day,
                                              std::int64_t after_ms,
                                              bool& near_transition) const {
        // Every instant whose local time falls on `day` lies in this window, whatever the offset.
        date::sys_seconds window_begin{(day - days{1}).time_since_epoch()};
        date::sys_seconds window_end{(day + days{2}).time_since_epoch()};
        date::sys_info info = zone_.get_info(window_begin);
        if (info.end >= window_end) {
            near_transition = false;
            std::int64_t offset_ms = std::chrono::duration_cast<milliseconds>(info.offset).count();
            std::optional<int> minute = NextMinute(FirstMinuteAfter(day, after_ms, offset_ms));
            if (!minute) {
                return std::nullopt;
            }
            date::local_seconds local = day + minutes{*minute};
            return ToMs(date::sys_seconds{local.time_since_epoch()} - info.offset);
        }
        near_transition = true;
        // No local time earlier than `after` plus the smallest offset around can fire after it.
        seconds min_offset = info.offset;
        while (info.end < window_end) {
            info = zone_.get_info(info.end);
            min_offset = std::min(min_offset, info.offset);
        }
        std::int64_t min_offset_ms = std::chrono::duration_cast<milliseconds>(min_offset).count();
        std::optional<std::int64_t> best;
        auto consider = [&](std::int64_t t) {
            if (t > after_ms && (!best || t < *best)) {
                best = t;
            }
        };
        for (std::optional<int> minute = NextMinute(FirstMinuteAfter(day, after_ms, min_offset_ms));
             minute; minute = NextMinute(*minute + 1)) {
            date::local_seconds local = day + minutes{*minute};
            date::local_info li = zone_.get_info(local);
            date::sys_seconds as_utc{local.time_since_epoch()};
            std::int64_t first_run = 0;
            switch (li.result) {
                case date::local_info::unique:
                    first_run = ToMs(as_utc - li.first.offset);
                    consider(first_run);
                    break;
                case date::local_info::nonexistent:
                    // cronie runs a fixed-time job skipped by the gap right after it; a wildcard
                    // job just follows the clock, which never shows this time.
                    if (wildcard_) {
                        continue;
                    }
                    first_run = ToMs(li.first.end);
                    consider(first_run);
                    break;
                case date::local_info::ambiguous:
                    first_run = ToMs(as_utc - li.first.offset);
                    consider(first_run);
                    if (wildcard_) {
                        consider(ToMs(as_utc - li.second.offset));
                    }
                    break;
            }
            // First runs only grow with local time, and a second run comes after its first, so
            // nothing later in the day can beat what has been found.
            if (first_run > after_ms) {
                break;
            }
        }
        return best;
    }

    const CronSchedule& s_;
    const date::time_zone& zone_;
    const bool wildcard_;  // minute or hour led by '*': follows real time across DST
};

std::string TwoDigits(int v) {
    std::string out = std::to_string(v);
    return out.size() == 1 ? "0" + out : out;
}

std::string JoinEnglish(const std::vector<std::string>& items) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) {
            out += i + 1 == items.size() ? " and " : ", ";
        }
        out += items[i];
    }
    return out;
}

// "Monday", "Monday through Friday", "Saturday and Sunday": the week read from Monday.
std::string WeekdaysText(std::uint64_t values) {
    std::vector<int> days;
    for (int d : {1, 2, 3, 4, 5, 6, 0}) {
        if (Has(values, d)) {
            days.push_back(d);
        }
    }
    auto position = [](int d) { return d == 0 ? 7 : d; };
    bool contiguous =
        position(days.back()) - position(days.front()) + 1 == static_cast<int>(days.size());
    if (days.size() >= 3 && contiguous) {
        return std::string(kDayTitles[days.front()]) + " through " +
               std::string(kDayTitles[days.back()]);
    }
    std::vector<std::string> names;
    for (int d : days) {
        names.emplace_back(kDayTitles[d]);
    }
    return JoinEnglish(names);
}

}  // namespace

Result<CronSchedule> ParseSchedule(std::string_view expression, std::string_view timezone) {
    std::string_view expr = Trim(expression);
    if (expr.empty()) {
        return BadRequest("schedule is empty");
    }
    if (expr.size() > kMaxExpressionLength) {
        return BadRequest("schedule is longer than " + std::to_string(kMaxExpressionLength) +
                          " characters");
    }
    std::string_view zone_name = Trim(timezone);
    if (zone_name.empty()) {
        return BadRequest(
            "time zone is empty (expected an IANA name such as 'Europe/Paris' or "
            "'UTC')");
    }
    std::string fields;
    if (expr.front() == '@') {
        ASSIGN_OR_RETURN(fields, ExpandShorthand(expr));
    } else if (LooksLikeWords(expr)) {
        ASSIGN_OR_RETURN(fields, ExpandWords(expr));
    } else {
        fields = std::string(expr);
    }
    ASSIGN_OR_RETURN(CronSchedule s, ParseFields(fields));
    if (FindZone(zone_name) == nullptr) {
        return BadRequest("unknown time zone '" + std::string(zone_name) +
                          "' (expected an IANA name such as 'Europe/Paris' or 'UTC')");
    }
    s.time_zone = std::string(zone_name);
    return s;
}

std::optional<std::int64_t> NextFireTime(const CronSchedule& s, std::int64_t after_unix_ms) {
    std::vector<std::int64_t> one = NextFireTimes(s, after_unix_ms, 1);
    if (one.empty()) {
        return std::nullopt;
    }
    return one.front();
}

std::vector<std::int64_t> NextFireTimes(const CronSchedule& s,
                                        std::int64_t after_unix_ms,
                                        int count) {
    std::vector<std::int64_t> out;
    const date::time_zone* zone = FindZone(s.time_zone);
    // A default-constructed schedule matches nothing; it must not search for five years.
    if (zone == nullptr || count <= 0 || s.minute.values == 0 || s.hour.values == 0 ||
        s.day_of_month.values == 0 || s.month.values == 0 || s.day_of_week.values == 0) {
        return out;
    }
    out.reserve(static_cast<std::size_t>(std::min(count, 1024)));
    FireTimeSearch search(s, *zone);
    std::int64_t after = after_unix_ms;
    try {
        for (int i = 0; i < count; ++i) {
            std::optional<std::int64_t> next = search.After(after);
            if (!next) {
                break;
            }
            out.push_back(*next);
            after = *next;
        }
    } catch (const std::exception&) {
        // The zone's file is read lazily on first use; if that fails there is nothing to return.
    }
    return out;
}

std::string DescribeSchedule(const CronSchedule& s) {
    const std::string fallback = "cron '" + CronExpression(s) + "' (" + s.time_zone + ")";
    const bool all_hours = s.hour.values == FullSet(0, 23);
    const bool all_doms = s.day_of_month.values == FullSet(1, 31);
    const bool all_months = s.month.values == FullSet(1, 12);
    const bool all_dows = s.day_of_week.values == FullSet(0, 6);

    // The time of day: fixed times ("09:00 and 17:00") or a pattern within every hour.
    std::string times;     // for fixed times
    std::string periodic;  // otherwise
    if (CountValues(s.minute.values) == 1 && CountValues(s.hour.values) <= 4) {
        int minute = NextValue(s.minute.values, 0);
        std::vector<std::string> items;
        for (int h : Values(s.hour.values)) {
            items.push_back(TwoDigits(h) + ":" + TwoDigits(minute));
        }
        times = JoinEnglish(items) + " " + s.time_zone;
    } else if (all_hours && s.minute.star &&
               s.minute.values == Progression(0, 59, s.minute.star_step)) {
        int step = s.minute.star_step;
        if (step == 1) {
            periodic = "every minute";
        } else if (60 % step == 0) {
            periodic = "every " + std::to_string(step) + " minutes";
        } else {
            periodic = "every " + std::to_string(step) + " minutes, restarting at minute 0 of " +
                       "each hour";
        }
    } else if (all_hours && CountValues(s.minute.values) == 1) {
        periodic = "at minute " + std::to_string(NextValue(s.minute.values, 0)) + " of every hour";
    } else {
        return fallback;
    }

    // The days, in the one shape each that reads clearly; both day fields restricted (OR) and
    // most month restrictions are left to the cron text.
    enum class Days { kEvery, kWeekdays, kDaysOfMonth, kDateInYear };
    Days days;
    bool dom_free = all_doms;
    bool dow_free = all_dows;
    if (!s.day_of_month.star && !s.day_of_week.star && (all_doms || all_dows)) {
        dom_free = dow_free = true;  // OR with a field that matches every day
    }
    if (!dom_free && !dow_free) {
        return fallback;
    }
    if (dom_free && dow_free) {
        days = Days::kEvery;
    } else if (dom_free) {
        days = Days::kWeekdays;
    } else {
        days = Days::kDaysOfMonth;
    }
    if (!all_months) {
        if (days != Days::kDaysOfMonth || CountValues(s.day_of_month.values) != 1 ||
            CountValues(s.month.values) != 1) {
            return fallback;
        }
        days = Days::kDateInYear;
    }
    if (days == Days::kDaysOfMonth && CountValues(s.day_of_month.values) > 6) {
        return fallback;
    }

    std::string day_text;
    switch (days) {
        case Days::kEvery:
            break;
        case Days::kWeekdays:
            day_text = "on " + WeekdaysText(s.day_of_week.values);
            break;
        case Days::kDaysOfMonth: {
            std::vector<std::string> items;
            for (int d : Values(s.day_of_month.values)) {
                items.push_back(std::to_string(d));
            }
            day_text = (items.size() == 1 ? "on day " : "on days ") + JoinEnglish(items) +
                       " of every month";
            break;
        }
        case Days::kDateInYear:
            day_text = "on " + std::string(kMonthTitles[NextValue(s.month.values, 0) - 1]) + " " +
                       std::to_string(NextValue(s.day_of_month.values, 0));
            break;
    }

    if (!times.empty()) {
        if (days == Days::kEvery) {
            return "every day at " + times;
        }
        if (days == Days::kWeekdays && CountValues(s.day_of_week.values) == 1) {
            return "every " + std::string(kDayTitles[NextValue(s.day_of_week.values, 0)]) + " at " +
                   times;
        }
        return "at " + times + " " + day_text;
    }
    if (days == Days::kEvery) {
        return periodic;
    }
    return periodic + " " + day_text + " (" + s.time_zone + ")";
}

std::string CronExpression(const CronSchedule& s) {
    return FieldText(s.minute, kMinuteSpec) + " " + FieldText(s.hour, kHourSpec) + " " +
           FieldText(s.day_of_month, kDayOfMonthSpec) + " " + FieldText(s.month, kMonthSpec) + " " +
           FieldText(s.day_of_week, kDayOfWeekSpec);
}

std::string TimeZone(const CronSchedule& s) {
    return s.time_zone;
}

}  // namespace lathe::jobs
