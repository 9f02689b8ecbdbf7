import { describe, expect, it } from "vitest";

import { choiceOf, cronOf, defaultRecurring, fieldsOf, parseTimeText, timeText } from "./schedule";

describe("cronOf", () => {
  const base = defaultRecurring();
  it("turns each preset into cron", () => {
    expect(cronOf({ ...base, frequency: "minutes", everyMinutes: 15 })).toEqual({ cron: "*/15 * * * *" });
    expect(cronOf({ ...base, frequency: "minutes", everyMinutes: 1 })).toEqual({ cron: "* * * * *" });
    expect(cronOf({ ...base, frequency: "hourly", minute: 5 })).toEqual({ cron: "5 * * * *" });
    expect(cronOf({ ...base, frequency: "daily", hour: 2, minute: 30 })).toEqual({ cron: "30 2 * * *" });
    expect(cronOf({ ...base, frequency: "weekly", hour: 9, minute: 0, weekday: 1 })).toEqual({ cron: "0 9 * * 1" });
    expect(cronOf({ ...base, frequency: "custom", custom: " daily at 02:30 " })).toEqual({ cron: "daily at 02:30" });
  });
  it("says which field is wrong", () => {
    expect(cronOf({ ...base, frequency: "minutes", everyMinutes: 0 })).toHaveProperty("error");
    expect(cronOf({ ...base, frequency: "minutes", everyMinutes: 1.5 })).toHaveProperty("error");
    expect(cronOf({ ...base, frequency: "daily", hour: 24, minute: 0 })).toHaveProperty("error");
    expect(cronOf({ ...base, frequency: "custom", custom: "  " })).toHaveProperty("error");
  });
});

describe("fieldsOf", () => {
  it("clears the schedule and parent for manual jobs", () => {
    expect(fieldsOf({ kind: "manual" })).toEqual({ fields: { schedule: "", parent_job_id: null } });
  });
  it("needs a parent for dependent jobs", () => {
    expect(fieldsOf({ kind: "dependent", parentJobId: null })).toHaveProperty("error");
    expect(fieldsOf({ kind: "dependent", parentJobId: 4 })).toEqual({ fields: { schedule: "", parent_job_id: 4 } });
  });
  it("sends the cron expression with its time zone", () => {
    const recurring = { ...defaultRecurring("Europe/Paris"), frequency: "hourly" as const, minute: 7 };
    expect(fieldsOf({ kind: "recurring", recurring })).toEqual({
      fields: { schedule: "7 * * * *", timezone: "Europe/Paris", parent_job_id: null },
    });
  });
});

describe("choiceOf", () => {
  const job = (schedule: string, parent: number | null = null) => ({ schedule, timezone: "UTC", parent_job_id: parent });
  it("reads presets back", () => {
    expect(choiceOf(job(""))).toEqual({ kind: "manual" });
    expect(choiceOf(job("", 3))).toEqual({ kind: "dependent", parentJobId: 3 });
    const every = choiceOf(job("*/10 * * * *"));
    expect(every.kind === "recurring" && every.recurring.frequency).toBe("minutes");
    const weekly = choiceOf(job("15 8 * * 5"));
    expect(weekly.kind === "recurring" && [weekly.recurring.frequency, weekly.recurring.hour, weekly.recurring.minute, weekly.recurring.weekday]).toEqual(["weekly", 8, 15, 5]);
  });
  it("keeps anything else as a custom expression", () => {
    const c = choiceOf(job("30 2 1 * *"));
    expect(c.kind === "recurring" && [c.recurring.frequency, c.recurring.custom]).toEqual(["custom", "30 2 1 * *"]);
  });
  it("round-trips every preset", () => {
    for (const cron of ["* * * * *", "*/5 * * * *", "0 * * * *", "30 2 * * *", "0 9 * * 1"]) {
      const c = choiceOf(job(cron));
      expect(fieldsOf(c)).toEqual({ fields: { schedule: cron, timezone: "UTC", parent_job_id: null } });
    }
  });
});

describe("time text", () => {
  it("formats and parses HH:MM", () => {
    expect(timeText(2, 5)).toBe("02:05");
    expect(parseTimeText("23:59")).toEqual({ hour: 23, minute: 59 });
    expect(parseTimeText("24:00")).toBeNull();
    expect(parseTimeText("nope")).toBeNull();
  });
});
