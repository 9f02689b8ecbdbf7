// Job schedules: cron parsing and its error messages, next fire times across DST, descriptions.
#include "jobs/schedule.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace lathe::jobs {
namespace {

// Unix ms of a UTC civil time.
std::int64_t Utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0) {
    using namespace std::chrono;
    sys_days date = year{y} / month{mo} / d;
    return duration_cast<milliseconds>((date + hours{h} + minutes{mi}).time_since_epoch()).count();
}

// Readable failures: "2026-03-08T07:00Z" rather than a 13-digit number.
std::string Iso(std::int64_t ms) {
    using namespace std::chrono;
    sys_time<milliseconds> t{milliseconds{ms}};
    sys_days day = floor<days>(t);
    year_month_day ymd{day};
    hh_mm_ss<milliseconds> tod{t - day};
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02dZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()));
    return buf;
}

std::vector<std::string> Isos(const std::vector<std::int64_t>& v) {
    std::vector<std::string> out;
    for (std::int64_t ms : v) {
        out.push_back(Iso(ms));
    }
    return out;
}

CronSchedule Parse(std::string_view expr, std::string_view zone = "UTC") {
    Result<CronSchedule> s = ParseSchedule(expr, zone);
    EXPECT_TRUE(s.has_value()) << expr << ": " << (s ? "" : s.error().message);
    return s.value_or(CronSchedule{});
}

std::vector<std::string> Next(std::string_view expr,
                              std::string_view zone,
                              std::int64_t after,
                              int count) {
    return Isos(NextFireTimes(Parse(expr, zone), after, count));
}

struct NormalizeCase {
    std::string_view input;
    std::string_view normalized;
};

TEST(ScheduleParseTest, ValidExpressionsNormalizeAndParseBackToTheSameSchedule) {
    const NormalizeCase cases[] = {
        {"*/15 2-4 * * 1-5", "*/15 2-4 * * 1-5"},
        {"* * * * *", "* * * * *"},
        {"  0   9  *  *  *  ", "0 9 * * *"},
        {"0 0 * * MON-FRI", "0 0 * * 1-5"},
        {"0 0 * * mon,Wed,FRI", "0 0 * * 1,3,5"},
        {"0 0 * * sunday", "0 0 * * 0"},
        {"0 0 1 jan,Jul *", "0 0 1 1,7 *"},
        {"0 0 1 JAN-MAR *", "0 0 1 1-3 *"},
        {"0 0 * * 7", "0 0 * * 0"},
        {"0 12 * * 5-7", "0 12 * * 0,5,6"},
        {"0,15,30,45 * * * *", "0-45/15 * * * *"},
        {"5/20 * * * *", "5,25,45 * * * *"},
        {"1-59/2 * * * *", "1-59/2 * * * *"},
        {"1-10/3 * * * *", "1-10/3 * * * *"},
        {"0 0 */2 * *", "0 0 */2 * *"},
        {"*/15,7 * * * *", "*/15,7 * * * *"},
        {"0-59 0-23 1-31 1-12 0-6", "0-59 0-23 1-31 1-12 0-6"},
        {"1,2,5-9 * * * *", "1,2,5-9 * * * *"},
    };
    for (const auto& c : cases) {
        Result<CronSchedule> s = ParseSchedule(c.input, "UTC");
        ASSERT_TRUE(s.has_value()) << c.input << ": " << s.error().message;
        EXPECT_EQ(CronExpression(*s), c.normalized) << c.input;
        Result<CronSchedule> again = ParseSchedule(CronExpression(*s), "UTC");
        ASSERT_TRUE(again.has_value()) << CronExpression(*s);
        EXPECT_EQ(*again, *s) << c.input;
    }
}

struct ErrorCase {
    std::string_view input;
    std::string_view message;
};

TEST(ScheduleParseTest, InvalidExpressionsSayWhichFieldIsWrongAndWhy) {
    const ErrorCase cases[] = {
        {"0 24 * * *", "hour 24 is out of range 0-23"},
        {"60 * * * *", "minute 60 is out of range 0-59"},
        {"0 0 0 * *", "day-of-month 0 is out of range 1-31"},
        {"0 0 32 * *", "day-of-month 32 is out of range 1-31"},
        {"0 0 * 13 *", "month 13 is out of range 1-12"},
        {"0 0 * * 8", "day-of-week 8 is out of range 0-7"},
        {"0 99999999999 * * *", "hour 99999999999 is out of range 0-23"},
        {"0 0 * FOO *", "month 'FOO' is not a number or a month name"},
        {"0 0 * * FUN", "day-of-week 'FUN' is not a number or a day name"},
        {"x 0 * * *", "minute 'x' is not a number"},
        {"MON 0 * * *", "minute 'MON' is not a number"},
        {"0 0 ? * *", "day-of-month '?' is not a number"},
        {"*/0 * * * *", "minute step 0 is out of range 1-59"},
        {"*/60 * * * *", "minute step 60 is out of range 1-59"},
        {"0 */x * * *", "hour step 'x' in '*/x' is not a number"},
        {"0 5-2 * * *", "hour range '5-2' is backwards"},
        {"0 0 * * FRI-MON", "day-of-week range 'FRI-MON' is backwards"},
        {"1-2-3 * * * *", "minute '1-2-3' has more than one '-'"},
        {"*/5/2 * * * *", "minute '*/5/2' has more than one '/'"},
        {"1,,2 * * * *", "minute '1,,2' has an empty list item"},
        {"0- * * * *", "minute has an empty value"},
        {"0 0 * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"},
        {"0 0 * * * *", "got 6"},
        {"", "schedule is empty"},
        {"   ", "schedule is empty"},
        {"@fortnightly", "unknown shorthand '@fortnightly'"},
        {"every 0 minutes", "every N minutes: N must be 1-59, got '0'"},
        {"every 60 minutes", "every N minutes: N must be 1-59, got '60'"},
        {"every 24 hours", "every N hours: N must be 1-23, got '24'"},
        {"daily at 24:00", "time '24:00': hour 24 is out of range 0-23"},
        {"daily at 02:60", "time '02:60': minute 60 is out of range 0-59"},
        {"daily at 2pm", "time '2pm' must be HH:MM on a 24-hour clock"},
        {"weekly on funday", "'funday' is not a day name"},
        {"monthly on day 32", "day 32 is out of range 1-31"},
        {"daily at 02:00 sharp", "unexpected 'sharp'"},
        {"sometimes", "unrecognized schedule 'sometimes'"},
    };
    for (const auto& c : cases) {
        Result<CronSchedule> s = ParseSchedule(c.input, "UTC");
        ASSERT_FALSE(s.has_value()) << "'" << c.input << "' parsed as " << CronExpression(*s);
        EXPECT_EQ(s.error().code, ErrorCode::kBadRequest) << c.input;
        EXPECT_NE(s.error().message.find(c.message), std::string::npos)
            << c.input << ": " << s.error().message;
    }
}

TEST(ScheduleParseTest, ShorthandsAndCmlWordsBecomeTheirCronFields) {
    const NormalizeCase cases[] = {
        {"@hourly", "0 * * * *"},
        {"@daily", "0 0 * * *"},
        {"@midnight", "0 0 * * *"},
        {"@weekly", "0 0 * * 0"},
        {"@monthly", "0 0 1 * *"},
        {"@yearly", "0 0 1 1 *"},
        {"@annually", "0 0 1 1 *"},
        {"@DAILY", "0 0 * * *"},
        {"every minute", "* * * * *"},
        {"every 1 minute", "* * * * *"},
        {"every 15 minutes", "*/15 * * * *"},
        {"every 7 minutes", "*/7 * * * *"},
        {"every hour", "0 * * * *"},
        {"every 6 hours", "0 */6 * * *"},
        {"hourly", "0 * * * *"},
        {"daily", "0 0 * * *"},
        {"weekly", "0 0 * * 0"},
        {"monthly", "0 0 1 * *"},
        {"daily at 02:00", "0 2 * * *"},
        {"Daily At 2:05", "5 2 * * *"},
        {"weekly on monday at 09:30", "30 9 * * 1"},
        {"weekly on Fri", "0 0 * * 5"},
        {"monthly on day 15 at 06:00", "0 6 15 * *"},
        {"monthly on day 31", "0 0 31 * *"},
    };
    for (const auto& c : cases) {
        Result<CronSchedule> s = ParseSchedule(c.input, "Europe/Paris");
        ASSERT_TRUE(s.has_value()) << c.input << ": " << s.error().message;
        EXPECT_EQ(CronExpression(*s), c.normalized) << c.input;
    }
}

TEST(ScheduleParseTest, TimeZoneMustBeAnIanaNameTheSystemKnows) {
    Result<CronSchedule> paris = ParseSchedule("0 2 * * *", "Europe/Paris");
    ASSERT_TRUE(paris.has_value());
    EXPECT_EQ(TimeZone(*paris), "Europe/Paris");
    EXPECT_TRUE(ParseSchedule("0 2 * * *", "America/New_York").has_value());
    EXPECT_TRUE(ParseSchedule("0 2 * * *", "UTC").has_value());

    Result<CronSchedule> mars = ParseSchedule("0 2 * * *", "Mars/Olympus_Mons");
    ASSERT_FALSE(mars.has_value());
    EXPECT_EQ(mars.error().code, ErrorCode::kBadRequest);
    EXPECT_NE(mars.error().message.find("unknown time zone 'Mars/Olympus_Mons'"), std::string::npos)
        << mars.error().message;

    for (std::string_view bad : {"", "../../etc/passwd", "Europe/Paris\n0", "CEST"}) {
        Result<CronSchedule> s = ParseSchedule("0 2 * * *", bad);
        ASSERT_FALSE(s.has_value()) << bad;
        EXPECT_EQ(s.error().code, ErrorCode::kBadRequest);
    }
}

TEST(NextFireTimeTest, CommonSchedulesInUtc) {
    // Strictly after: a fire time equal to `after` is not returned again.
    EXPECT_EQ(Next("*/15 * * * *", "UTC", Utc(2026, 1, 1, 0, 7) + 30'000, 1),
              (std::vector<std::string>{"2026-01-01T00:15Z"}));
    EXPECT_EQ(Next("*/15 * * * *", "UTC", Utc(2026, 1, 1, 0, 15), 2),
              (std::vector<std::string>{"2026-01-01T00:30Z", "2026-01-01T00:45Z"}));
    EXPECT_EQ(Next("0 2 * * *", "UTC", Utc(2026, 1, 1, 2, 0), 2),
              (std::vector<std::string>{"2026-01-02T02:00Z", "2026-01-03T02:00Z"}));
    EXPECT_EQ(
        Next("0 0 1 * *", "UTC", Utc(2026, 1, 15), 3),
        (std::vector<std::string>{"2026-02-01T00:00Z", "2026-03-01T00:00Z", "2026-04-01T00:00Z"}));
    // 2026-01-01 is a Thursday.
    EXPECT_EQ(Next("30 9 * * MON", "UTC", Utc(2026, 1, 1), 2),
              (std::vector<std::string>{"2026-01-05T09:30Z", "2026-01-12T09:30Z"}));
    EXPECT_EQ(Next("0 0 * * 1-5", "UTC", Utc(2026, 1, 2, 1), 2),
              (std::vector<std::string>{"2026-01-05T00:00Z", "2026-01-06T00:00Z"}));
    EXPECT_EQ(Next("0 0 29 2 *", "UTC", Utc(2026, 3, 1), 2),
              (std::vector<std::string>{"2028-02-29T00:00Z", "2032-02-29T00:00Z"}));
    EXPECT_EQ(Next("59 23 31 12 *", "UTC", Utc(2026, 12, 31, 23, 59), 1),
              (std::vector<std::string>{"2027-12-31T23:59Z"}));
    EXPECT_EQ(
        Next("0 */6 * * *", "UTC", Utc(2026, 1, 1, 13), 3),
        (std::vector<std::string>{"2026-01-01T18:00Z", "2026-01-02T00:00Z", "2026-01-02T06:00Z"}));
    EXPECT_EQ(Next("@yearly", "UTC", Utc(2026, 6, 1), 1),
              (std::vector<std::string>{"2027-01-01T00:00Z"}));
}

TEST(NextFireTimeTest, NextFireTimesReturnsTheFirstFiveInOrder) {
    CronSchedule s = Parse("*/15 2-4 * * 1-5", "UTC");
    std::vector<std::int64_t> five = NextFireTimes(s, Utc(2026, 1, 2, 4, 20), 5);  // a Friday
    EXPECT_EQ(Isos(five), (std::vector<std::string>{"2026-01-02T04:30Z", "2026-01-02T04:45Z",
                                                    "2026-01-05T02:00Z", "2026-01-05T02:15Z",
                                                    "2026-01-05T02:30Z"}));
    ASSERT_EQ(five.size(), 5u);
    EXPECT_EQ(NextFireTime(s, Utc(2026, 1, 2, 4, 20)), five[0]);
    EXPECT_TRUE(NextFireTimes(s, Utc(2026, 1, 2), 0).empty());
    EXPECT_TRUE(NextFireTimes(s, Utc(2026, 1, 2), -3).empty());
}

TEST(NextFireTimeTest, DayOfMonthAndDayOfWeekBothRestrictedFireOnEither) {
    // The 13th, and every Friday (2026-01-02 is a Friday, the 13th a Tuesday).
    EXPECT_EQ(Next("0 0 13 * 5", "UTC", Utc(2026, 1, 1), 4),
              (std::vector<std::string>{"2026-01-02T00:00Z", "2026-01-09T00:00Z",
                                        "2026-01-13T00:00Z", "2026-01-16T00:00Z"}));
    // A field that matches everything but is not '*' still counts as restricted, as in Vixie
    // cron: OR with 1-31 is every day.
    EXPECT_EQ(Next("0 0 1-31 * 1", "UTC", Utc(2026, 1, 1), 2),
              (std::vector<std::string>{"2026-01-02T00:00Z", "2026-01-03T00:00Z"}));
    // With '*' in either field the other alone restricts, and a '*'-led step counts as '*' (again
    // Vixie): odd days of the month that are Mondays.
    EXPECT_EQ(Next("0 0 * * 1", "UTC", Utc(2026, 1, 1), 1),
              (std::vector<std::string>{"2026-01-05T00:00Z"}));
    EXPECT_EQ(
        Next("0 0 */2 * 1", "UTC", Utc(2026, 1, 1), 3),
        (std::vector<std::string>{"2026-01-05T00:00Z", "2026-01-19T00:00Z", "2026-02-09T00:00Z"}));
}

// The slow, obvious way: every minute in turn, for zones with one fixed offset.
std::optional<std::int64_t> BruteForceNext(std::string_view expr,
                                           std::chrono::minutes offset,
                                           std::int64_t after,
                                           int max_days) {
    using namespace std::chrono;
    CronSchedule s = Parse(expr);
    auto has = [](const CronField& f, unsigned v) { return ((f.values >> v) & 1) != 0; };
    std::int64_t t = (after / 60'000 + 1) * 60'000;
    for (int i = 0; i < max_days * 24 * 60; ++i, t += 60'000) {
        sys_time<milliseconds> local{milliseconds{t} + offset};
        sys_days date = floor<days>(local);
        year_month_day ymd{date};
        hh_mm_ss<milliseconds> tod{local - date};
        bool dom = has(s.day_of_month, static_cast<unsigned>(ymd.day()));
        bool dow = has(s.day_of_week, weekday{date}.c_encoding());
        bool day = (s.day_of_month.star || s.day_of_week.star) ? (dom && dow) : (dom || dow);
        if (day && has(s.month, static_cast<unsigned>(ymd.month())) &&
            has(s.hour, static_cast<unsigned>(tod.hours().count())) &&
            has(s.minute, static_cast<unsigned>(tod.minutes().count()))) {
            return t;
        }
    }
    return std::nullopt;
}

TEST(NextFireTimeTest, AgreesWithMinuteByMinuteSearchWhereOffsetsAreFixed) {
    const std::string_view expressions[] = {
        "* * * * *",       "*/7 * * * *",         "5,55 */5 * * *", "0 0 * * *",
        "30 23 * * 0",     "0 12 1,15 * 1",       "0 0 */3 * 2-4",  "1-4/3 9-17 * * 1-5",
        "59 23 28-31 * *", "0 6 * jan,jun,dec *", "15 4 28-29 2 *", "0 0 13 * 5",
    };
    const std::pair<std::string_view, std::chrono::minutes> zones[] = {
        {"UTC", std::chrono::minutes{0}},
        {"Asia/Kolkata", std::chrono::minutes{330}},
        {"Pacific/Kiritimati", std::chrono::minutes{14 * 60}},
        {"Pacific/Pago_Pago", std::chrono::minutes{-11 * 60}},
    };
    const std::int64_t starts[] = {Utc(2026, 1, 1), Utc(2026, 2, 27, 23, 59) + 59'999,
                                   Utc(2026, 12, 31, 18, 31) + 1, Utc(2027, 6, 30, 12, 0)};
    for (std::string_view expr : expressions) {
        for (const auto& [zone, offset] : zones) {
            CronSchedule s = Parse(expr, zone);
            for (std::int64_t start : starts) {
                std::int64_t after = start;
                for (int i = 0; i < 6; ++i) {
                    std::optional<std::int64_t> want = BruteForceNext(expr, offset, after, 800);
                    std::optional<std::int64_t> got = NextFireTime(s, after);
                    ASSERT_EQ(got.has_value(), want.has_value()) << expr << " " << zone;
                    if (!want) {
                        break;
                    }
                    ASSERT_EQ(Iso(*got), Iso(*want))
                        << expr << " " << zone << " after " << Iso(after);
                    after = *want;
                }
            }
        }
    }
}

TEST(NextFireTimeTest, ImpossibleSchedulesReturnNothingQuickly) {
    auto start = std::chrono::steady_clock::now();
    for (std::string_view expr : {"0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *"}) {
        EXPECT_EQ(NextFireTime(Parse(expr), Utc(2026, 1, 1)), std::nullopt) << expr;
        EXPECT_TRUE(NextFireTimes(Parse(expr, "Europe/Paris"), Utc(2026, 1, 1), 5).empty());
    }
    EXPECT_EQ(NextFireTime(CronSchedule{}, Utc(2026, 1, 1)), std::nullopt);
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, std::chrono::milliseconds(100));
}

TEST(NextFireTimeTest, LocalTimeInAZoneIsConvertedToUtc) {
    // Paris is UTC+1 in winter, UTC+2 in summer.
    EXPECT_EQ(Next("0 2 * * *", "Europe/Paris", Utc(2026, 1, 10), 1),
              (std::vector<std::string>{"2026-01-10T01:00Z"}));
    EXPECT_EQ(Next("0 2 * * *", "Europe/Paris", Utc(2026, 7, 9, 12), 1),
              (std::vector<std::string>{"2026-07-10T00:00Z"}));
    // The local day, not the UTC day, decides the weekday: Monday 00:30 in Paris is Sunday UTC.
    EXPECT_EQ(Next("30 0 * * 1", "Europe/Paris", Utc(2026, 1, 1), 1),
              (std::vector<std::string>{"2026-01-04T23:30Z"}));
}

TEST(NextFireTimeTest, SpringForwardGapFiresOnceRightAfterTheGap) {
    // New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00Z); 02:30 does not exist.
    EXPECT_EQ(
        Next("30 2 * * *", "America/New_York", Utc(2026, 3, 7), 3),
        (std::vector<std::string>{"2026-03-07T07:30Z", "2026-03-08T07:00Z", "2026-03-09T06:30Z"}));
    // Paris, 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z).
    EXPECT_EQ(
        Next("30 2 * * *", "Europe/Paris", Utc(2026, 3, 28), 3),
        (std::vector<std::string>{"2026-03-28T01:30Z", "2026-03-29T01:00Z", "2026-03-30T00:30Z"}));
    // Several times inside the gap still fire once, together with 03:00 itself.
    EXPECT_EQ(
        Next("0,30 2,3 * * *", "Europe/Paris", Utc(2026, 3, 29), 3),
        (std::vector<std::string>{"2026-03-29T01:00Z", "2026-03-29T01:30Z", "2026-03-30T00:00Z"}));
    // Santiago springs forward at midnight (2026-09-06 00:00 -04 -> 01:00 -03): a midnight job
    // runs at 01:00 that day.
    EXPECT_EQ(
        Next("0 0 * * *", "America/Santiago", Utc(2026, 9, 4, 12), 3),
        (std::vector<std::string>{"2026-09-05T04:00Z", "2026-09-06T04:00Z", "2026-09-07T03:00Z"}));
}

TEST(NextFireTimeTest, FallBackRepeatedTimeFiresOnceAtTheFirstOccurrence) {
    // New York, 2026-11-01: 01:00-02:00 happens twice, EDT (05:00Z-06:00Z) then EST.
    EXPECT_EQ(Next("30 1 * * *", "America/New_York", Utc(2026, 10, 31, 12), 2),
              (std::vector<std::string>{"2026-11-01T05:30Z", "2026-11-02T06:30Z"}));
    // Asked from inside the second pass, it does not fire again that day.
    EXPECT_EQ(Next("30 1 * * *", "America/New_York", Utc(2026, 11, 1, 6, 10), 1),
              (std::vector<std::string>{"2026-11-02T06:30Z"}));
    // Paris, 2026-10-25: 02:00-03:00 happens twice, CEST (00:00Z-01:00Z) then CET.
    EXPECT_EQ(Next("30 2 * * *", "Europe/Paris", Utc(2026, 10, 24, 12), 2),
              (std::vector<std::string>{"2026-10-25T00:30Z", "2026-10-26T01:30Z"}));
}

TEST(NextFireTimeTest, FallBackAcrossMidnightRepeatsTheEveningBefore) {
    // São Paulo, 2019-02-17 00:00 -02 (02:00Z) went back to 2019-02-16 23:00 -03: the 23:xx of
    // the 16th happened twice, and midnight of the 17th came at 03:00Z.
    EXPECT_EQ(Next("30 23 * * *", "America/Sao_Paulo", Utc(2019, 2, 16, 12), 2),
              (std::vector<std::string>{"2019-02-17T01:30Z", "2019-02-18T02:30Z"}));
    EXPECT_EQ(Next("0 0 * * *", "America/Sao_Paulo", Utc(2019, 2, 17, 1, 40), 1),
              (std::vector<std::string>{"2019-02-17T03:00Z"}));
    EXPECT_EQ(
        Next("*/30 * * * *", "America/Sao_Paulo", Utc(2019, 2, 17, 1, 40), 3),
        (std::vector<std::string>{"2019-02-17T02:00Z", "2019-02-17T02:30Z", "2019-02-17T03:00Z"}));
}

TEST(NextFireTimeTest, HourlyJobsFireEveryRealHourAcrossDstChanges) {
    EXPECT_EQ(
        Next("0 * * * *", "America/New_York", Utc(2026, 11, 1, 3, 30), 5),
        (std::vector<std::string>{"2026-11-01T04:00Z", "2026-11-01T05:00Z", "2026-11-01T06:00Z",
                                  "2026-11-01T07:00Z", "2026-11-01T08:00Z"}));
    EXPECT_EQ(
        Next("0 * * * *", "America/New_York", Utc(2026, 3, 8, 5, 30), 3),
        (std::vector<std::string>{"2026-03-08T06:00Z", "2026-03-08T07:00Z", "2026-03-08T08:00Z"}));
    EXPECT_EQ(Next("@hourly", "Europe/Paris", Utc(2026, 10, 24, 23, 30), 4),
              (std::vector<std::string>{"2026-10-25T00:00Z", "2026-10-25T01:00Z",
                                        "2026-10-25T02:00Z", "2026-10-25T03:00Z"}));
    EXPECT_EQ(Next("*/30 * * * *", "Europe/Paris", Utc(2026, 3, 29, 0, 15), 4),
              (std::vector<std::string>{"2026-03-29T00:30Z", "2026-03-29T01:00Z",
                                        "2026-03-29T01:30Z", "2026-03-29T02:00Z"}));
    // A '*' minute in a fixed hour also follows real time: both passes of 01:xx.
    EXPECT_EQ(
        Next("*/30 1 * * *", "America/New_York", Utc(2026, 11, 1), 5),
        (std::vector<std::string>{"2026-11-01T05:00Z", "2026-11-01T05:30Z", "2026-11-01T06:00Z",
                                  "2026-11-01T06:30Z", "2026-11-02T06:00Z"}));
}

TEST(NextFireTimeTest, TenThousandFireTimesTakeWellUnderASecond) {
    const std::pair<std::string_view, std::string_view> schedules[] = {
        {"* * * * *", "America/New_York"},
        {"*/5 * * * *", "Europe/Paris"},
        {"30 2 * * *", "America/New_York"},
        {"0 0 13 * 5", "UTC"},
    };
    for (const auto& [expr, zone] : schedules) {
        CronSchedule s = Parse(expr, zone);
        auto start = std::chrono::steady_clock::now();
        std::vector<std::int64_t> times = NextFireTimes(s, Utc(2026, 1, 1), 10'000);
        auto took = std::chrono::steady_clock::now() - start;
        ASSERT_EQ(times.size(), 10'000u) << expr;
        for (std::size_t i = 1; i < times.size(); ++i) {
            ASSERT_LT(times[i - 1], times[i]) << expr << " at " << Iso(times[i]);
        }
        EXPECT_LT(took, std::chrono::milliseconds(500)) << expr;
        std::printf("10,000 fire times of '%s' in %s: %lld us\n", std::string(expr).c_str(),
                    std::string(zone).c_str(),
                    static_cast<long long>(
                        std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
    }
}

TEST(DescribeScheduleTest, CommonSchedulesReadAsEnglish) {
    const std::tuple<std::string_view, std::string_view, std::string_view> cases[] = {
        {"0 2 * * *", "Europe/Paris", "every day at 02:00 Europe/Paris"},
        {"*/15 * * * *", "UTC", "every 15 minutes"},
        {"every 15 minutes", "Europe/Paris", "every 15 minutes"},
        {"* * * * *", "UTC", "every minute"},
        {"*/7 * * * *", "UTC", "every 7 minutes, restarting at minute 0 of each hour"},
        {"30 9 * * 1", "UTC", "every Monday at 09:30 UTC"},
        {"5 * * * *", "UTC", "at minute 5 of every hour"},
        {"@hourly", "UTC", "at minute 0 of every hour"},
        {"0 2 1 * *", "UTC", "at 02:00 UTC on day 1 of every month"},
        {"0 6 1,15 * *", "UTC", "at 06:00 UTC on days 1 and 15 of every month"},
        {"0 0 * * 1-5", "UTC", "at 00:00 UTC on Monday through Friday"},
        {"0 10 * * sat,sun", "UTC", "at 10:00 UTC on Saturday and Sunday"},
        {"0 9,17 * * *", "America/New_York", "every day at 09:00 and 17:00 America/New_York"},
        {"@yearly", "UTC", "at 00:00 UTC on January 1"},
        {"*/15 * * * 1-5", "Europe/Paris",
         "every 15 minutes on Monday through Friday (Europe/Paris)"},
        {"0 0 1-31 * 1", "UTC", "every day at 00:00 UTC"},
        {"*/15 9-17 * * 1-5", "Europe/Paris", "cron '*/15 9-17 * * 1-5' (Europe/Paris)"},
        {"0 0 13 * 5", "UTC", "cron '0 0 13 * 5' (UTC)"},
        {"0 0 1 1,7 *", "UTC", "cron '0 0 1 1,7 *' (UTC)"},
    };
    for (const auto& [expr, zone, text] : cases) {
        EXPECT_EQ(DescribeSchedule(Parse(expr, zone)), text) << expr;
    }
}

}  // namespace
}  // namespace lathe::jobs
