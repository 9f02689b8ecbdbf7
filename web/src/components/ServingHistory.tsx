// A deployment's requests, errors, rejections and latency percentiles over the chosen range, from
// the serving history (GET .../deployments/{id}/stats/history), with the window's totals.
import { lazy, Suspense, useCallback, useEffect, useMemo, useState } from "react";

import { servingHistory } from "../api/client";
import type { Deployment, ServingHistory } from "../api/types";
import { alignServingCounts, alignServingLatency, resolutionFor, servingTotals } from "../lib/series";
import { Empty, ErrorBanner, Loading, usePoll } from "./common";

// The chart library loads with the monitoring tab.
const TimeChart = lazy(() => import("./Chart").then((m) => ({ default: m.TimeChart })));

export function ServingHistoryPanel({
  projectId,
  modelId,
  deployment,
  rangeMs,
}: {
  projectId: number;
  modelId: number;
  deployment: Deployment | null;
  rangeMs: number;
}) {
  const [history, setHistory] = useState<ServingHistory | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loaded, setLoaded] = useState(false);

  const load = useCallback(() => {
    if (!deployment) {
      setHistory(null);
      setLoaded(true);
      return;
    }
    const to = Date.now();
    servingHistory(projectId, modelId, deployment.build_id, deployment.id, to - rangeMs, to, resolutionFor(rangeMs))
      .then((h) => {
        setHistory(h);
        setError(null);
      })
      .catch(setError)
      .finally(() => setLoaded(true));
  }, [projectId, modelId, deployment?.id, deployment?.build_id, rangeMs]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(load, [load]);
  usePoll(load, 10000, deployment !== null);

  const totals = servingTotals(history);
  const counts = useMemo(() => (history ? alignServingCounts(history) : null), [history]);
  const latency = useMemo(() => (history ? alignServingLatency(history) : null), [history]);
  const per = history?.resolution ?? resolutionFor(rangeMs);

  return (
    <section className="card" aria-label="Requests over time">
      <h3>Requests, errors and latency over time</h3>
      <ErrorBanner error={error} />
      {!deployment ? (
        <Empty title="The model is not deployed.">
          <p>Deploy a build from the Builds tab; its calls are counted here minute by minute.</p>
        </Empty>
      ) : !loaded ? (
        <Loading what="Loading the request history" />
      ) : !history || history.points.length === 0 ? (
        <Empty title="No calls in this range yet.">
          <p>
            Call the model from the Test tab (or with its <code>curl</code> command there): requests, errors and latency show
            here within a few seconds.
          </p>
        </Empty>
      ) : (
        <>
          <p data-testid="serving-totals" data-requests={totals.requests} data-errors={totals.errors}>
            In this range: <strong>{totals.requests}</strong> {totals.requests === 1 ? "request" : "requests"},{" "}
            <strong>{totals.errors}</strong> {totals.errors === 1 ? "error" : "errors"}, <strong>{totals.rejected}</strong>{" "}
            rejected (overload)
            {totals.worstP99 !== null && <>; the slowest {per}'s p99 latency was {totals.worstP99.toFixed(1)} ms</>}.
          </p>
          <Suspense fallback={<Loading what="Loading the chart" />}>
            {counts && <TimeChart data={counts} title={`Requests, errors and rejections per ${per}`} height={200} />}
            {latency && <TimeChart data={latency} title={`Latency percentiles (ms) per ${per}`} height={200} />}
          </Suspense>
          <p className="muted small-text">
            Errors are answers other than 200 (the function raised, the replica was lost or timed out, or the call was
            rejected); an hour's percentiles are those of all its calls.
          </p>
        </>
      )}
    </section>
  );
}
