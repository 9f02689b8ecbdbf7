// Job schedules as CML has them: 5-field cron in an IANA time zone, plus @shorthands and words.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace lathe::jobs {

// One cron field: the values that match, and whether it was written starting with '*'.
struct CronField {
    std::uint64_t values = 0;  // bit v set when value v matches (day-of-week: 0 = Sunday)
    // Vixie cron keys two behaviours off a leading '*' rather than off the values: whether
    // day-of-month and day-of-week combine with AND or OR, and whether a job repeats in a
    // fall-back hour. Kept so that the normalized expression means exactly what was parsed.
    bool star = false;
    int star_step = 1;  // the N of a leading "*/N"

    bool operator==(const CronField&) const = default;
};

// A parsed schedule. Treat it as opaque: build it with ParseSchedule, read it with the functions
// below; the fields are public only so that it stays a plain, comparable value.
struct CronSchedule {
    CronField minute;
    CronField hour;
    CronField day_of_month;
    CronField month;
    CronField day_of_week;
    std::string time_zone;  // an IANA name known to the system's tz database

    bool operator==(const CronSchedule&) const = default;
};

// Parses a schedule in `timezone` (an IANA name such as "Europe/Paris" or "UTC"). Accepts:
// - 5 cron fields "minute hour day-of-month month day-of-week" with lists, ranges, steps ("*/15",
//   "1-10/3", and "5/20" meaning 5-59/20), month names JAN-DEC and day names SUN-SAT (3-letter or
//   full, any case), and 7 as Sunday;
// - @hourly @daily @midnight @weekly @monthly @yearly @annually;
// - CML's words: "every minute", "every N minutes" (1-59, as */N), "every hour", "every N hours"
//   (1-23, as 0 */N), "hourly", "daily", "weekly" (Sunday), "monthly" (day 1), optionally with
//   "on <day name>" (weekly), "on day D" (monthly) and "at HH:MM" (daily/weekly/monthly).
// Errors are kBadRequest and name the field and the reason ("hour 24 is out of range 0-23").
Result<CronSchedule> ParseSchedule(std::string_view expression, std::string_view timezone);

// The first fire time strictly after `after_unix_ms`, in Unix milliseconds (UTC); nullopt when
// nothing fires within about 5 years (e.g. "0 0 31 2 *"). Semantics are Vixie cron's / cronie's:
// - when day-of-month and day-of-week are both restricted (neither starts with '*'), a day
//   matching either fires;
// - a local time skipped by a spring-forward gap fires once, at the first instant after the gap;
//   a local time that occurs twice in a fall-back fires once, at its first occurrence;
// - except for "wildcard" jobs, whose minute or hour field starts with '*' (every N minutes,
//   hourly): they follow real time, so they fire in both passes of a repeated hour and skip the
//   local times that do not exist.
// Offsets after the last transition in the system's zone files (2037) stay as they were then.
std::optional<std::int64_t> NextFireTime(const CronSchedule& s, std::int64_t after_unix_ms);

// The next `count` fire times after `after_unix_ms`, ascending; shorter if the schedule ends.
std::vector<std::int64_t> NextFireTimes(const CronSchedule& s,
                                        std::int64_t after_unix_ms,
                                        int count);

// English for people: "every day at 02:00 Europe/Paris", "every 15 minutes", "every Monday at
// 09:30 UTC", "at minute 5 of every hour", "at 02:00 UTC on day 1 of every month", "at 00:00 UTC
// on Monday through Friday"; "cron '<expr>' (<zone>)" for what it does not phrase.
std::string DescribeSchedule(const CronSchedule& s);

// The normalized 5-field expression ("*/15 2-4 * * 1-5"), which parses back to the same schedule.
std::string CronExpression(const CronSchedule& s);
std::string TimeZone(const CronSchedule& s);

}  // namespace lathe::jobs
