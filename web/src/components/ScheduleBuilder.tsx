// The schedule builder: run by hand, on a recurring schedule, or after another job succeeds.
import type { Job } from "../api/types";
import { defaultRecurring, parseTimeText, timeText, WEEKDAYS, type Frequency, type ScheduleChoice } from "../lib/schedule";

export function ScheduleBuilder({
  value,
  onChange,
  jobs,
}: {
  value: ScheduleChoice;
  onChange: (c: ScheduleChoice) => void;
  jobs: Job[];
}) {
  const r = value.kind === "recurring" ? value.recurring : defaultRecurring();
  const setR = (patch: Partial<typeof r>) => onChange({ kind: "recurring", recurring: { ...r, ...patch } });
  return (
    <fieldset className="schedule">
      <legend>Schedule</legend>
      <div className="radios">
        <label className="inline">
          <input type="radio" name="schedule-kind" checked={value.kind === "manual"} onChange={() => onChange({ kind: "manual" })} />
          Manual (run it yourself)
        </label>
        <label className="inline">
          <input
            type="radio"
            name="schedule-kind"
            checked={value.kind === "recurring"}
            onChange={() => onChange({ kind: "recurring", recurring: r })}
          />
          Recurring
        </label>
        <label className="inline">
          <input
            type="radio"
            name="schedule-kind"
            checked={value.kind === "dependent"}
            onChange={() => onChange({ kind: "dependent", parentJobId: jobs[0]?.id ?? null })}
            disabled={jobs.length === 0}
          />
          After another job succeeds{jobs.length === 0 ? " (this project has no other job yet)" : ""}
        </label>
      </div>
      {value.kind === "recurring" && (
        <div className="row">
          <label>
            Repeat
            <select value={r.frequency} onChange={(e) => setR({ frequency: e.target.value as Frequency })}>
              <option value="minutes">every few minutes</option>
              <option value="hourly">every hour</option>
              <option value="daily">every day</option>
              <option value="weekly">every week</option>
              <option value="custom">cron expression</option>
            </select>
          </label>
          {r.frequency === "minutes" && (
            <label>
              Every (minutes)
              <input type="number" min={1} max={59} value={r.everyMinutes} onChange={(e) => setR({ everyMinutes: Number(e.target.value) })} />
            </label>
          )}
          {r.frequency === "hourly" && (
            <label>
              At minute
              <input type="number" min={0} max={59} value={r.minute} onChange={(e) => setR({ minute: Number(e.target.value) })} />
            </label>
          )}
          {r.frequency === "weekly" && (
            <label>
              On
              <select value={r.weekday} onChange={(e) => setR({ weekday: Number(e.target.value) })}>
                {WEEKDAYS.map((d, i) => (
                  <option key={d} value={i}>
                    {d}
                  </option>
                ))}
              </select>
            </label>
          )}
          {(r.frequency === "daily" || r.frequency === "weekly") && (
            <label>
              At
              <input
                type="time"
                value={timeText(r.hour, r.minute)}
                onChange={(e) => {
                  const t = parseTimeText(e.target.value);
                  if (t) {
                    setR(t);
                  }
                }}
              />
            </label>
          )}
          {r.frequency === "custom" && (
            <label>
              Cron expression or phrase
              <input value={r.custom} onChange={(e) => setR({ custom: e.target.value })} placeholder="30 2 * * 1-5  or  daily at 02:30" />
            </label>
          )}
          <label>
            Time zone
            <input value={r.timezone} onChange={(e) => setR({ timezone: e.target.value })} placeholder="UTC" list="timezones" />
            <datalist id="timezones">
              {["UTC", "Europe/London", "Europe/Paris", "America/New_York", "America/Los_Angeles", "Asia/Tokyo", "Asia/Kolkata", "Australia/Sydney"].map((z) => (
                <option key={z} value={z} />
              ))}
            </datalist>
          </label>
        </div>
      )}
      {value.kind === "dependent" && (
        <label>
          Run after
          <select value={value.parentJobId ?? ""} onChange={(e) => onChange({ kind: "dependent", parentJobId: Number(e.target.value) || null })}>
            {jobs.map((j) => (
              <option key={j.id} value={j.id}>
                {j.name}
              </option>
            ))}
          </select>
        </label>
      )}
      <p className="muted small-text">The server checks the schedule and shows it in words, with the next run times, once the job is saved.</p>
    </fieldset>
  );
}
