// The job schedule builder's logic: a choice (manual, recurring, after another job) to and from
// the API's job fields, and the recurring presets to cron expressions.

export type Frequency = "minutes" | "hourly" | "daily" | "weekly" | "custom";

export interface RecurringChoice {
  frequency: Frequency;
  everyMinutes: number; // for "minutes": 1..59
  minute: number; // for "hourly", "daily", "weekly": 0..59
  hour: number; // for "daily", "weekly": 0..23
  weekday: number; // for "weekly": 0 (Sunday)..6
  custom: string; // for "custom": a cron expression or a CML phrase ("daily at 02:30")
  timezone: string;
}

export type ScheduleChoice =
  | { kind: "manual" }
  | { kind: "recurring"; recurring: RecurringChoice }
  | { kind: "dependent"; parentJobId: number | null };

export interface ScheduleFields {
  schedule: string;
  timezone?: string;
  parent_job_id: number | null;
}

export const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

export function defaultRecurring(timezone = "UTC"): RecurringChoice {
  return { frequency: "daily", everyMinutes: 15, minute: 0, hour: 2, weekday: 1, custom: "", timezone };
}

function inRange(n: number, lo: number, hi: number): boolean {
  return Number.isInteger(n) && n >= lo && n <= hi;
}

// The cron expression of a recurring choice, or an error saying which field to fix.
export function cronOf(r: RecurringChoice): { cron: string } | { error: string } {
  switch (r.frequency) {
    case "minutes":
      if (!inRange(r.everyMinutes, 1, 59)) {
        return { error: "Run every 1 to 59 minutes." };
      }
      return { cron: r.everyMinutes === 1 ? "* * * * *" : `*/${r.everyMinutes} * * * *` };
    case "hourly":
      if (!inRange(r.minute, 0, 59)) {
        return { error: "The minute must be 0 to 59." };
      }
      return { cron: `${r.minute} * * * *` };
    case "daily":
    case "weekly": {
      if (!inRange(r.hour, 0, 23) || !inRange(r.minute, 0, 59)) {
        return { error: "The time must be between 00:00 and 23:59." };
      }
      if (r.frequency === "daily") {
        return { cron: `${r.minute} ${r.hour} * * *` };
      }
      if (!inRange(r.weekday, 0, 6)) {
        return { error: "Choose a day of the week." };
      }
      return { cron: `${r.minute} ${r.hour} * * ${r.weekday}` };
    }
    case "custom": {
      const text = r.custom.trim();
      if (!text) {
        return { error: "Enter a cron expression such as '30 2 * * 1-5', or a phrase such as 'daily at 02:30'." };
      }
      return { cron: text };
    }
  }
}

// The job fields for a choice; the server checks the cron expression and describes it.
export function fieldsOf(choice: ScheduleChoice): { fields: ScheduleFields } | { error: string } {
  switch (choice.kind) {
    case "manual":
      return { fields: { schedule: "", parent_job_id: null } };
    case "dependent":
      if (!choice.parentJobId) {
        return { error: "Choose the job this one runs after." };
      }
      return { fields: { schedule: "", parent_job_id: choice.parentJobId } };
    case "recurring": {
      const c = cronOf(choice.recurring);
      if ("error" in c) {
        return c;
      }
      return { fields: { schedule: c.cron, timezone: choice.recurring.timezone || "UTC", parent_job_id: null } };
    }
  }
}

// Reads a job's fields back into the builder: the simple presets when the expression is one,
// else a custom expression.
export function choiceOf(job: { schedule: string; timezone: string; parent_job_id: number | null }): ScheduleChoice {
  if (job.parent_job_id) {
    return { kind: "dependent", parentJobId: job.parent_job_id };
  }
  if (!job.schedule) {
    return { kind: "manual" };
  }
  const r = { ...defaultRecurring(job.timezone || "UTC"), frequency: "custom" as Frequency, custom: job.schedule };
  const f = job.schedule.trim().split(/\s+/);
  const num = (s: string) => (/^\d+$/.test(s) ? Number(s) : NaN);
  if (f.length === 5) {
    const [mi, h, dom, mon, dow] = f;
    const rest = dom === "*" && mon === "*";
    if (rest && h === "*" && dow === "*") {
      if (mi === "*") {
        return { kind: "recurring", recurring: { ...r, frequency: "minutes", everyMinutes: 1, custom: "" } };
      }
      const every = /^\*\/(\d+)$/.exec(mi);
      if (every && inRange(Number(every[1]), 1, 59)) {
        return { kind: "recurring", recurring: { ...r, frequency: "minutes", everyMinutes: Number(every[1]), custom: "" } };
      }
      if (inRange(num(mi), 0, 59)) {
        return { kind: "recurring", recurring: { ...r, frequency: "hourly", minute: num(mi), custom: "" } };
      }
    }
    if (rest && inRange(num(mi), 0, 59) && inRange(num(h), 0, 23)) {
      if (dow === "*") {
        return { kind: "recurring", recurring: { ...r, frequency: "daily", minute: num(mi), hour: num(h), custom: "" } };
      }
      if (inRange(num(dow), 0, 6)) {
        return {
          kind: "recurring",
          recurring: { ...r, frequency: "weekly", minute: num(mi), hour: num(h), weekday: num(dow), custom: "" },
        };
      }
    }
  }
  return { kind: "recurring", recurring: r };
}

// "HH:MM" for the time input.
export function timeText(hour: number, minute: number): string {
  return `${String(hour).padStart(2, "0")}:${String(minute).padStart(2, "0")}`;
}

export function parseTimeText(text: string): { hour: number; minute: number } | null {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (!m) {
    return null;
  }
  const hour = Number(m[1]);
  const minute = Number(m[2]);
  return inRange(hour, 0, 23) && inRange(minute, 0, 59) ? { hour, minute } : null;
}

// Run states: which are over, and how each reads.
const TERMINAL = new Set(["succeeded", "failed", "timedout", "stopped"]);

export function isTerminal(status: string): boolean {
  return TERMINAL.has(status);
}

export function statusTone(status: string): "ok" | "bad" | "busy" | "idle" {
  if (status === "succeeded" || status === "deployed" || status === "built" || status === "ready" || status === "stable" || status === "ok" || status === "resolved" || status === "running") {
    return status === "running" ? "busy" : "ok";
  }
  if (status === "failed" || status === "timedout" || status === "drifted" || status === "breached" || status === "open") {
    return "bad";
  }
  if (status === "stopped") {
    return "idle";
  }
  return "busy";
}
