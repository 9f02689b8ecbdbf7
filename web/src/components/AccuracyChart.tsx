// Accuracy over time: the aggregate metrics recorded for a model's deployments (ROC AUC and the
// like, computed over windows by a job that joins ground truth), charted at the end of each window.
import { lazy, Suspense, useCallback, useEffect, useMemo, useState } from "react";

import { readAggregates } from "../api/client";
import type { MetricRecord } from "../api/types";
import { aggregateNames, alignAggregates } from "../lib/series";
import { Empty, ErrorBanner, Loading, usePoll } from "./common";

const TimeChart = lazy(() => import("./Chart").then((m) => ({ default: m.TimeChart })));

export function AccuracyChart({ modelCrn, rangeMs }: { modelCrn: string; rangeMs: number }) {
  const [records, setRecords] = useState<MetricRecord[]>([]);
  const [span, setSpan] = useState<[number, number]>([Date.now() - rangeMs, Date.now()]);
  const [hidden, setHidden] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [loaded, setLoaded] = useState(false);

  const load = useCallback(() => {
    const to = Date.now();
    readAggregates(modelCrn, to - rangeMs, to)
      .then((r) => {
        setRecords(r);
        setSpan([to - rangeMs, to]);
        setError(null);
      })
      .catch(setError)
      .finally(() => setLoaded(true));
  }, [modelCrn, rangeMs]);
  useEffect(load, [load]);
  usePoll(load, 30000, true);

  const names = useMemo(() => aggregateNames(records), [records]);
  const shown = names.filter((n) => !hidden.includes(n));
  const aligned = useMemo(
    () => alignAggregates(records, shown, span[0], span[1]),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [records, shown.join(","), span],
  );

  return (
    <section className="card" aria-label="Accuracy over time">
      <h3>Accuracy over time</h3>
      <ErrorBanner error={error} />
      {!loaded ? (
        <Loading what="Loading accuracy" />
      ) : names.length === 0 ? (
        <Empty title="No accuracy recorded in this range yet.">
          <p>
            Attach ground truth to predictions with <code>cdsw.track_delayed_metrics(&#123;"label": 1&#125;, uuid)</code>, then
            have a recurring job record accuracy over each interval with{" "}
            <code>lathe.track_accuracy("label", "prediction", start_ms, end_ms, model_deployment_crn=crn)</code> (or any
            number with <code>cdsw.track_aggregate_metrics</code>); each one shows here at the end of its window.
          </p>
        </Empty>
      ) : (
        <>
          <fieldset className="metrics-pick">
            <legend>Aggregates</legend>
            {names.map((n) => (
              <label key={n} className="inline">
                <input
                  type="checkbox"
                  checked={!hidden.includes(n)}
                  onChange={(e) => setHidden((h) => (e.target.checked ? h.filter((x) => x !== n) : [...h, n]))}
                />
                {n}
              </label>
            ))}
          </fieldset>
          <p className="muted small-text" data-testid="accuracy-summary" data-aggregates={records.length}>
            {records.length} {records.length === 1 ? "aggregate" : "aggregates"} in this range; the latest:{" "}
            {latestValues(records, names)}.
          </p>
          {shown.length > 0 && (
            <Suspense fallback={<Loading what="Loading the chart" />}>
              <TimeChart data={aligned} title={`${shown.join(", ")} over time`} height={200} />
            </Suspense>
          )}
        </>
      )}
    </section>
  );
}

// "roc_auc 0.83, accuracy 0.77": each name's value in the aggregate with the latest window end.
function latestValues(records: MetricRecord[], names: string[]): string {
  const parts: string[] = [];
  for (const n of names) {
    let best: MetricRecord | null = null;
    for (const r of records) {
      if (typeof r.metrics[n] === "number" && (!best || r.endTimeStampMs >= best.endTimeStampMs)) {
        best = r;
      }
    }
    if (best) {
      parts.push(`${n} ${Number(best.metrics[n]).toPrecision(3)}`);
    }
  }
  return parts.join(", ");
}
