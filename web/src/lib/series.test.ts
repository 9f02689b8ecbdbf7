import { describe, expect, it } from "vitest";

import type { MetricPoint, MetricRecord, MetricSeries, ServingHistory, ServingPoint } from "../api/types";
import {
  aggregateNames,
  alignAggregates,
  alignSeries,
  alignServingCounts,
  alignServingLatency,
  metricNames,
  resolutionFor,
  servingTotals,
  stepsOf,
} from "./series";

const point = (t: number, mean: number, count = 1): MetricPoint => ({
  timeStampMs: t,
  count,
  mean,
  min: mean,
  max: mean,
  p50: mean,
  p95: mean,
  p99: mean,
});

const T = 1_800_000_000_000;

describe("alignSeries", () => {
  it("aligns two metrics on the union of their minutes", () => {
    const s: MetricSeries = {
      resolution: "minute",
      startTimeStampMs: T,
      endTimeStampMs: T + 180_000,
      metrics: { a: [point(T, 1), point(T + 60_000, 2)], b: [point(T + 60_000, 5)] },
    };
    const aligned = alignSeries(s, ["a", "b"], "mean");
    expect(aligned.xs).toEqual([T / 1000, T / 1000 + 60]);
    expect(aligned.range).toEqual([T / 1000, T / 1000 + 180]);
    expect(aligned.columns).toEqual([
      { label: "a (mean)", values: [1, 2] },
      { label: "b (mean)", values: [null, 5] },
    ]);
  });
  it("breaks the line where minutes are missing", () => {
    const s: MetricSeries = {
      resolution: "minute",
      startTimeStampMs: T,
      endTimeStampMs: T + 600_000,
      metrics: { a: [point(T, 1), point(T + 300_000, 3)] },
    };
    const aligned = alignSeries(s, ["a"], "mean");
    expect(aligned.xs).toEqual([T / 1000, T / 1000 + 60, T / 1000 + 300]);
    expect(aligned.columns[0].values).toEqual([1, null, 3]);
  });
  it("counts predictions per step", () => {
    const s: MetricSeries = {
      resolution: "hour",
      startTimeStampMs: T,
      endTimeStampMs: T + 7_200_000,
      metrics: { a: [point(T, 1, 40), point(T + 3_600_000, 1, 60)] },
    };
    const aligned = alignSeries(s, ["a"], "count");
    expect(aligned.columns[0]).toEqual({ label: "a (predictions)", values: [40, 60] });
  });
  it("is empty without data", () => {
    const s: MetricSeries = { resolution: "minute", startTimeStampMs: T, endTimeStampMs: T, metrics: {} };
    expect(alignSeries(s, ["a"], "mean")).toEqual({ xs: [], columns: [{ label: "a (mean)", values: [] }], range: [T / 1000, T / 1000] });
    expect(metricNames(null)).toEqual([]);
    expect(metricNames({ ...s, metrics: { z: [], b: [] } })).toEqual(["b", "z"]);
  });
});

const sp = (t: number, requests: number, errors = 0, p99 = 10): ServingPoint => ({
  t,
  requests,
  errors,
  rejected: 0,
  p50_ms: p99 / 4,
  p95_ms: p99 / 2,
  p99_ms: p99,
});

describe("serving history", () => {
  it("counts every minute of the window, zero where there were no calls", () => {
    // The window starts inside a minute: that minute is the first step.
    const h: ServingHistory = { resolution: "minute", from: T + 30_000, to: T + 240_000, points: [sp(T, 5, 1), sp(T + 180_000, 2)] };
    const a = alignServingCounts(h);
    expect(a.xs).toEqual([0, 60, 120, 180, 240].map((s) => T / 1000 + s));
    expect(a.columns[0]).toEqual({ label: "requests per minute", values: [5, 0, 0, 2, 0] });
    expect(a.columns[1].values).toEqual([1, 0, 0, 0, 0]);
    expect(a.columns[2].label).toBe("rejected per minute");
    expect(a.range).toEqual([(T + 30_000) / 1000, (T + 240_000) / 1000]);
  });
  it("breaks the latency lines where there were no calls", () => {
    const h: ServingHistory = { resolution: "minute", from: T, to: T + 120_000, points: [sp(T, 5, 0, 12.345), sp(T + 120_000, 1, 0, 8)] };
    const a = alignServingLatency(h);
    expect(a.columns.map((c) => c.label)).toEqual(["p50 ms", "p95 ms", "p99 ms"]);
    expect(a.columns[2].values).toEqual([12.35, null, 8]);
  });
  it("steps by hours at hour resolution", () => {
    const h: ServingHistory = { resolution: "hour", from: T, to: T + 3 * 3_600_000 - 1, points: [sp(T + 3_600_000, 100, 3)] };
    expect(stepsOf(h.from, h.to, "hour")).toEqual([T, T + 3_600_000, T + 7_200_000]);
    const a = alignServingCounts(h);
    expect(a.columns[0]).toEqual({ label: "requests per hour", values: [0, 100, 0] });
    expect(resolutionFor(3_600_000)).toBe("minute");
    expect(resolutionFor(48 * 3_600_000)).toBe("minute");
    expect(resolutionFor(7 * 24 * 3_600_000)).toBe("hour");
  });
  it("totals a window", () => {
    const h: ServingHistory = { resolution: "minute", from: T, to: T + 120_000, points: [sp(T, 5, 1, 20), sp(T + 60_000, 2, 0, 30)] };
    expect(servingTotals(h)).toEqual({ requests: 7, errors: 1, rejected: 0, worstP99: 30 });
    expect(servingTotals(null)).toEqual({ requests: 0, errors: 0, rejected: 0, worstP99: null });
  });
});

const agg = (start: number, end: number, metrics: Record<string, unknown>): MetricRecord => ({
  modelDeploymentCrn: "crn:d",
  predictionUuid: null,
  aggregate: true,
  startTimeStampMs: start,
  endTimeStampMs: end,
  metrics,
});

describe("aggregates", () => {
  it("charts numeric aggregates at the end of their windows", () => {
    const records = [
      agg(T + 3_600_000, T + 7_200_000, { roc_auc: 0.7, note: "phase 2" }),
      agg(T, T + 3_600_000, { roc_auc: 0.8, accuracy: 0.75, ok: true }),
    ];
    const names = aggregateNames(records);
    expect(names).toEqual(["accuracy", "roc_auc"]);
    const a = alignAggregates(records, names, T, T + 7_200_000);
    expect(a.xs).toEqual([(T + 3_600_000) / 1000, (T + 7_200_000) / 1000]);
    expect(a.columns).toEqual([
      { label: "accuracy", values: [0.75, null] },
      { label: "roc_auc", values: [0.8, 0.7] },
    ]);
    expect(a.range).toEqual([T / 1000, (T + 7_200_000) / 1000]);
  });
  it("merges aggregates of the same window", () => {
    const records = [agg(T, T + 60_000, { roc_auc: 0.5 }), agg(T, T + 60_000, { roc_auc: 0.6, recall: 0.4 })];
    const a = alignAggregates(records, aggregateNames(records), T, T + 60_000);
    expect(a.xs).toEqual([(T + 60_000) / 1000]);
    expect(a.columns).toEqual([
      { label: "recall", values: [0.4] },
      { label: "roc_auc", values: [0.6] },
    ]);
    expect(aggregateNames([])).toEqual([]);
  });
});
