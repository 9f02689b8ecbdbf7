// A model's monitors (rules on a tracked metric, evaluated on a schedule) and the alerts they
// opened: create one, evaluate it now, see its last value and state.
import { useState, type FormEvent } from "react";

import { api, listPage } from "../api/client";
import { Empty, ErrorBanner, Loading, Pager, StatusBadge, usePagedList } from "./common";
import { formatTime } from "../lib/format";

interface Monitor {
  id: number;
  name: string;
  kind: string;
  metric?: string;
  statistic?: string;
  feature?: string;
  comparison: string;
  threshold: number;
  window_seconds: number;
  state: string;
  enabled: boolean;
  last_value: number | null;
  last_message: string;
  last_evaluated_at: string | null;
}

interface Alert {
  id: number;
  monitor_id: number;
  state: string;
  message: string;
  opened_at: string;
  resolved_at: string | null;
}

export function MonitorsPanel({
  projectId,
  modelId,
  metrics,
  canEdit,
}: {
  projectId: number;
  modelId: number;
  metrics: string[];
  canEdit: boolean;
}) {
  const base = `/api/v2/projects/${projectId}/models/${modelId}`;
  const monitors = usePagedList<Monitor>((p) => listPage<Monitor>(`${base}/monitors`, "monitors", p), [base]);
  const [error, setError] = useState<unknown>(null);
  const [name, setName] = useState("");
  const [metric, setMetric] = useState(metrics[0] ?? "");
  const [statistic, setStatistic] = useState("mean");
  const [comparison, setComparison] = useState(">");
  const [threshold, setThreshold] = useState(0);
  const [windowMinutes, setWindowMinutes] = useState(60);
  const [kind, setKind] = useState<"metric" | "drift">("metric");
  const [source, setSource] = useState("predictions");
  const [driftStatistic, setDriftStatistic] = useState("psi");
  const [referenceFile, setReferenceFile] = useState("");
  const [webhook, setWebhook] = useState("");

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const common = { name: name.trim(), kind, comparison, threshold, window_seconds: windowMinutes * 60 };
      const body: Record<string, unknown> =
        kind === "metric"
          ? { ...common, metric: metric.trim(), statistic, source }
          : {
              ...common,
              feature: metric.trim(),
              drift_statistic: driftStatistic,
              reference: referenceFile.trim() ? { file: referenceFile.trim() } : null,
            };
      if (webhook.trim()) {
        body.webhook_url = webhook.trim();
      }
      await api("POST", `${base}/monitors`, { body });
      setName("");
      monitors.reload();
    } catch (err) {
      setError(err);
    }
  };
  const evaluate = async (m: Monitor) => {
    setError(null);
    try {
      await api("POST", `${base}/monitors/${m.id}:evaluate`);
      monitors.reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section className="card" aria-label="Monitors and alerts">
      <h3>Monitors</h3>
      {canEdit && (
        <form onSubmit={create} aria-label="New monitor">
          <div className="row">
            <label>
              Monitor name
              <input value={name} onChange={(e) => setName(e.target.value)} required />
            </label>
            <label>
              Watch
              <select value={kind} onChange={(e) => setKind(e.target.value as "metric" | "drift")}>
                <option value="metric">A metric</option>
                <option value="drift">Drift of a feature</option>
              </select>
            </label>
            <label>
              {kind === "metric" ? "Metric" : "Feature"}
              <input value={metric} onChange={(e) => setMetric(e.target.value)} list="monitor-metrics" required />
              <datalist id="monitor-metrics">
                {metrics.map((m) => (
                  <option key={m} value={m} />
                ))}
              </datalist>
            </label>
            {kind === "metric" ? (
              <>
                <label>
                  Statistic
                  <select value={statistic} onChange={(e) => setStatistic(e.target.value)}>
                    {["mean", "p50", "p90", "p95", "p99", "min", "max", "sum", "count", "last"].map((s) => (
                      <option key={s}>{s}</option>
                    ))}
                  </select>
                </label>
                <label>
                  Of
                  <select value={source} onChange={(e) => setSource(e.target.value)}>
                    <option value="predictions">predictions</option>
                    <option value="aggregates">aggregates (accuracy, ...)</option>
                  </select>
                </label>
              </>
            ) : (
              <>
                <label>
                  Drift statistic
                  <select value={driftStatistic} onChange={(e) => setDriftStatistic(e.target.value)}>
                    {["psi", "jensen_shannon", "ks_p_value", "ks_statistic", "wasserstein_normed"].map((s) => (
                      <option key={s}>{s}</option>
                    ))}
                  </select>
                </label>
                <label>
                  Compared with (a project file; empty: the window before)
                  <input value={referenceFile} onChange={(e) => setReferenceFile(e.target.value)} placeholder="train.csv" />
                </label>
              </>
            )}
            <label>
              Alert when
              <select value={comparison} onChange={(e) => setComparison(e.target.value)}>
                {[">", ">=", "<", "<="].map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </select>
            </label>
            <label>
              Threshold
              <input type="number" step="any" value={threshold} onChange={(e) => setThreshold(Number(e.target.value))} />
            </label>
            <label>
              Over the last (minutes)
              <input type="number" min={1} value={windowMinutes} onChange={(e) => setWindowMinutes(Number(e.target.value))} />
            </label>
            <label>
              Webhook URL (optional)
              <input type="url" value={webhook} onChange={(e) => setWebhook(e.target.value)} placeholder="https://hooks.example.com/..." />
            </label>
          </div>
          <button type="submit">Create monitor</button>
        </form>
      )}
      <ErrorBanner error={error || monitors.error} />
      {monitors.loading && !monitors.items.length ? (
        <Loading what="Loading monitors" />
      ) : monitors.items.length === 0 ? (
        <Empty title="No monitors.">
          <p>A monitor checks a metric every minute and opens an alert (and calls a webhook, if set) when it passes its threshold.</p>
        </Empty>
      ) : (
        <table className="list compact" aria-label="Monitors">
          <thead>
            <tr>
              <th scope="col">Monitor</th>
              <th scope="col">Rule</th>
              <th scope="col">State</th>
              <th scope="col">Last value</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {monitors.items.map((m) => (
              <tr key={m.id}>
                <td>{m.name}</td>
                <td>
                  <code>
                    {m.kind === "metric" ? `${m.statistic}(${m.metric})` : `drift(${m.feature})`} {m.comparison} {m.threshold}
                  </code>{" "}
                  <span className="muted small-text">over {Math.round(m.window_seconds / 60)} min</span>
                </td>
                <td>
                  <StatusBadge status={m.state} />
                  {m.last_message && <div className="muted small-text">{m.last_message}</div>}
                </td>
                <td>
                  {m.last_value ?? "—"}
                  <div className="muted small-text">{formatTime(m.last_evaluated_at)}</div>
                </td>
                <td className="actions">
                  <button type="button" onClick={() => void evaluate(m)}>
                    Evaluate now<span className="visually-hidden"> {m.name}</span>
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager list={monitors} label="Monitors" />
      <Alerts projectId={projectId} modelId={modelId} version={monitors.items} />
    </section>
  );
}

// The alerts of this model's monitors, newest first (from the project's alert list).
function Alerts({ projectId, modelId, version }: { projectId: number; modelId: number; version: unknown }) {
  const alerts = usePagedList<Alert>(
    (p) => listPage<Alert>(`/api/v2/projects/${projectId}/alerts`, "alerts", { ...p, filter: { model_id: modelId } }),
    [projectId, modelId, version],
  );
  return (
    <>
      <h3>Alerts</h3>
      <ErrorBanner error={alerts.error} />
      {alerts.loading && !alerts.items.length ? (
        <Loading what="Loading alerts" />
      ) : alerts.items.length === 0 ? (
        <p className="muted">No alerts.</p>
      ) : (
        <table className="list compact" aria-label="Alerts">
          <thead>
            <tr>
              <th scope="col">State</th>
              <th scope="col">What</th>
              <th scope="col">Opened</th>
              <th scope="col">Resolved</th>
            </tr>
          </thead>
          <tbody>
            {alerts.items.map((a) => (
              <tr key={a.id}>
                <td>
                  <StatusBadge status={a.state} />
                </td>
                <td>{a.message}</td>
                <td>{formatTime(a.opened_at)}</td>
                <td>{formatTime(a.resolved_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager list={alerts} label="Alerts" />
    </>
  );
}
