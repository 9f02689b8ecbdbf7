import { describe, expect, it } from "vitest";

import type { MetricPoint, MetricSeries } from "../api/types";
import { alignSeries, metricNames } from "./series";

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
