// Chart data shaping: the metrics series API's per-minute (or per-hour) points into uPlot's
// aligned columns, with a gap (null) for every step without predictions so lines break there.
import type { MetricPoint, MetricSeries } from "../api/types";

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
