// Drift per feature between a reference (the window before, or a data file in the project) and
// the current window, as POST /api/v2/metrics:drift computes it, with its thresholds.
import { useState, type FormEvent } from "react";

import { api } from "../api/client";
import { ErrorBanner, StatusBadge } from "./common";

interface DriftFeature {
  name: string;
  kind: string;
  method: string;
  // null when it could not be computed (`error` says why, e.g. no values in the reference).
  drifted: boolean | null;
  error?: string;
  driftedBy?: string[];
  referenceCount: number;
  currentCount: number;
  statistics?: Record<string, number>;
}

interface DriftReport {
  features: DriftFeature[];
  driftedFeatures: number;
  featureCount: number;
  referenceRecords: number;
  currentRecords: number;
  thresholds: Record<string, number>;
  truncated: boolean;
}

const STATS: { key: string; label: string; threshold?: string; below?: boolean }[] = [
  { key: "psi", label: "PSI", threshold: "psi" },
  { key: "jensen_shannon", label: "Jensen–Shannon", threshold: "jensen_shannon" },
  { key: "ks_p_value", label: "KS p-value", threshold: "ks_p_value", below: true },
  { key: "wasserstein_normed", label: "Wasserstein (normed)", threshold: "wasserstein" },
];

export function DriftPanel({ modelCrn, rangeMs }: { modelCrn: string; rangeMs: number }) {
  const [reference, setReference] = useState<"window" | "file">("window");
  const [file, setFile] = useState("");
  const [report, setReport] = useState<DriftReport | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const run = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    const end = Date.now();
    const start = end - rangeMs;
    try {
      setReport(
        await api<DriftReport>("POST", "/api/v2/metrics:drift", {
          body: {
            modelCrn,
            reference: reference === "file" ? { file: file.trim() } : { startTimeStampMs: start - rangeMs, endTimeStampMs: start },
            current: { startTimeStampMs: start, endTimeStampMs: end },
          },
        }),
      );
    } catch (err) {
      setReport(null);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-label="Drift">
      <h3>Drift</h3>
      <form onSubmit={run} aria-label="Compute drift">
        <div className="radios">
          <label className="inline">
            <input type="radio" name="drift-reference" checked={reference === "window"} onChange={() => setReference("window")} />
            Compare the chosen range with the same length of time before it
          </label>
          <label className="inline">
            <input type="radio" name="drift-reference" checked={reference === "file"} onChange={() => setReference("file")} />
            Compare it with a data file in the project (CSV with a header row, or JSON lines)
          </label>
        </div>
        {reference === "file" && (
          <label>
            Reference file
            <input value={file} onChange={(e) => setFile(e.target.value)} placeholder="data/train.csv" required />
          </label>
        )}
        <button type="submit" disabled={busy}>
          {busy ? "Computing…" : "Compute drift"}
        </button>
      </form>
      <ErrorBanner error={error} />
      {report && (
        <>
          <p>
            {report.driftedFeatures} of {report.featureCount} features drifted ({report.referenceRecords} reference and{" "}
            {report.currentRecords} current records{report.truncated ? "; capped" : ""}).
          </p>
          <table className="list compact" aria-label="Drift per feature">
            <thead>
              <tr>
                <th scope="col">Feature</th>
                <th scope="col">Verdict</th>
                {STATS.map((s) => (
                  <th key={s.key} scope="col">
                    {s.label}
                    {s.threshold && report.thresholds[s.threshold] !== undefined && (
                      <span className="muted small-text">
                        {" "}
                        ({s.below ? "≤" : "≥"} {report.thresholds[s.threshold]})
                      </span>
                    )}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {report.features.map((f) => (
                <tr key={f.name}>
                  <td>
                    {f.name}{" "}
                    <span className="muted small-text">
                      ({f.kind}
                      {f.method ? `, by ${f.method}` : ""})
                    </span>
                  </td>
                  <td>
                    {f.drifted === null ? (
                      <span className="muted">{f.error ?? "not computed"}</span>
                    ) : (
                      <StatusBadge status={f.drifted ? "drifted" : "stable"} />
                    )}
                  </td>
                  {STATS.map((s) => {
                    const v = f.statistics?.[s.key];
                    return <td key={s.key}>{v === undefined ? "—" : v.toFixed(3)}</td>;
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
