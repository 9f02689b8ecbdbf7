// Chart data shaping: the metrics series API's per-minute (or per-hour) points into uPlot's
// aligned columns, with a gap (null) for every step without predictions so lines break there.
import type { MetricPoint, MetricRecord, MetricSeries, ServingHistory } from "../api/types";

export type Stat = "mean" | "p50" | "p95" | "p99" | "count" | "min" | "max";

export interface Aligned {
  // Seconds since the epoch (uPlot's x unit), one per step of the window that has data or
  // borders a gap.
  xs: number[];
  // One column per requested metric and statistic, null where that step had no data.
  columns: { label: string; values: (number | null)[] }[];
  // The requested window in seconds, so one point is drawn in its place, not on a scale of years.
  range: [number, number];
}

export function stepMs(resolution: "minute" | "hour"): number {
  return resolution === "hour" ? 3_600_000 : 60_000;
}

export function alignSeries(series: MetricSeries, metrics: string[], stat: Stat): Aligned {
  const step = stepMs(series.resolution);
  const times = new Set<number>();
  const byMetric = new Map<string, Map<number, MetricPoint>>();
  for (const name of metrics) {
    const points = new Map<number, MetricPoint>();
    for (const p of series.metrics[name] ?? []) {
      points.set(p.timeStampMs, p);
      times.add(p.timeStampMs);
    }
    byMetric.set(name, points);
  }
  const sorted = [...times].sort((a, b) => a - b);
  // A missing step between two points gets an explicit null so the line is not drawn across it.
  const withGaps: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0 && sorted[i] - sorted[i - 1] > step) {
      withGaps.push(sorted[i - 1] + step);
    }
    withGaps.push(sorted[i]);
  }
  return {
    range: [series.startTimeStampMs / 1000, series.endTimeStampMs / 1000],
    xs: withGaps.map((t) => t / 1000),
    columns: metrics.map((name) => {
      const points = byMetric.get(name)!;
      return {
        label: stat === "count" ? `${name} (predictions)` : `${name} (${stat})`,
        values: withGaps.map((t) => {
          const p = points.get(t);
          return p ? p[stat] : null;
        }),
      };
    }),
  };
}

// The names a series holds, sorted, for the metric picker.
export function metricNames(series: MetricSeries | null): string[] {
  return series ? Object.keys(series.metrics).sort() : [];
}

// The window of a range choice ending now.
export const RANGES: { label: string; ms: number }[] = [
  { label: "Last hour", ms: 3_600_000 },
  { label: "Last 6 hours", ms: 6 * 3_600_000 },
  { label: "Last 24 hours", ms: 24 * 3_600_000 },
  { label: "Last 7 days", ms: 7 * 24 * 3_600_000 },
];

// The resolution the metrics series API picks for a window: minutes up to 48 hours, else hours.
export function resolutionFor(rangeMs: number): "minute" | "hour" {
  return rangeMs <= 48 * 3_600_000 ? "minute" : "hour";
}

function floorTo(t: number, step: number): number {
  return Math.floor(t / step) * step;
}

// Every step (minute or hour start, ms) of a window, oldest first.
export function stepsOf(fromMs: number, toMs: number, resolution: "minute" | "hour"): number[] {
  const step = stepMs(resolution);
  const out: number[] = [];
  for (let t = floorTo(fromMs, step); t <= toMs; t += step) {
    out.push(t);
  }
  return out;
}

// Requests, errors and rejections per step: a step without a point had no calls, so it is 0
// (the line stays on the floor rather than breaking).
export function alignServingCounts(h: ServingHistory): Aligned {
  const steps = stepsOf(h.from, h.to, h.resolution);
  const byT = new Map(h.points.map((p) => [p.t, p]));
  const per = h.resolution === "hour" ? "hour" : "minute";
  const col = (label: string, pick: (p: ServingHistory["points"][number]) => number) => ({
    label: `${label} per ${per}`,
    values: steps.map((t) => {
      const p = byT.get(t);
      return p ? pick(p) : 0;
    }),
  });
  return {
    range: [h.from / 1000, h.to / 1000],
    xs: steps.map((t) => t / 1000),
    columns: [col("requests", (p) => p.requests), col("errors", (p) => p.errors), col("rejected", (p) => p.rejected)],
  };
}

// Latency percentiles per step; a step without calls has no latency, so the lines break there.
export function alignServingLatency(h: ServingHistory): Aligned {
  const steps = stepsOf(h.from, h.to, h.resolution);
  const byT = new Map(h.points.map((p) => [p.t, p]));
  const col = (label: string, pick: (p: ServingHistory["points"][number]) => number) => ({
    label,
    values: steps.map((t) => {
      const p = byT.get(t);
      return p ? round(pick(p), 2) : null;
    }),
  });
  return {
    range: [h.from / 1000, h.to / 1000],
    xs: steps.map((t) => t / 1000),
    columns: [col("p50 ms", (p) => p.p50_ms), col("p95 ms", (p) => p.p95_ms), col("p99 ms", (p) => p.p99_ms)],
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export interface ServingTotals {
  requests: number;
  errors: number;
  rejected: number;
  // The highest per-step p99 of the window (ms), null without calls.
  worstP99: number | null;
}

export function servingTotals(h: ServingHistory | null): ServingTotals {
  const t: ServingTotals = { requests: 0, errors: 0, rejected: 0, worstP99: null };
  for (const p of h?.points ?? []) {
    t.requests += p.requests;
    t.errors += p.errors;
    t.rejected += p.rejected;
    t.worstP99 = Math.max(t.worstP99 ?? 0, p.p99_ms);
  }
  return t;
}

// The numeric metrics of aggregate records (accuracy over windows), sorted by name.
export function aggregateNames(records: MetricRecord[]): string[] {
  const names = new Set<string>();
  for (const r of records) {
    for (const [k, v] of Object.entries(r.metrics ?? {})) {
      if (typeof v === "number" && Number.isFinite(v)) {
        names.add(k);
      }
    }
  }
  return [...names].sort();
}

// Aggregates as chart columns, each drawn at the end of its window (the time it speaks for);
// aggregates ending at the same time are merged (a later one wins for a name both have).
export function alignAggregates(records: MetricRecord[], names: string[], fromMs: number, toMs: number): Aligned {
  const byEnd = new Map<number, Record<string, unknown>>();
  for (const r of records) {
    byEnd.set(r.endTimeStampMs, { ...(byEnd.get(r.endTimeStampMs) ?? {}), ...r.metrics });
  }
  const ends = [...byEnd.keys()].sort((a, b) => a - b);
  return {
    range: [Math.min(fromMs, ends[0] ?? fromMs) / 1000, Math.max(toMs, ends[ends.length - 1] ?? toMs) / 1000],
    xs: ends.map((t) => t / 1000),
    columns: names.map((name) => ({
      label: name,
      values: ends.map((t) => {
        const v = byEnd.get(t)![name];
        return typeof v === "number" && Number.isFinite(v) ? v : null;
      }),
    })),
  };
}
