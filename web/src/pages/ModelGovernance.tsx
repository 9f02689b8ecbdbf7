// A model's aliases (champion, challenger), how a rebuild compares with the build it repeats, and
// a build's governance: what it was built with, its lineage.yaml problems, its example requests.
import { useCallback, useEffect, useState, type FormEvent, type ReactNode } from "react";
import { useNavigate, useParams } from "react-router-dom";

import { api } from "../api/client";
import { getBuild, servingDeployment, type BuildRecord } from "../api/governance";
import type { Deployment, ModelBuild } from "../api/types";
import { BuildExamples } from "../components/BuildExamples";
import { ErrorBanner, Loading } from "../components/common";
import { annotateLines, parseLineageProblem } from "../lib/governance";

interface Alias {
  alias: string;
  build_id: number;
  version: number;
  set_by: string;
}

// The builds tab shows these below its list and the build's log: the model's aliases, then the
// details of the build it shows (BuildGovernance).
export function AliasesCard({
  modelPath,
  builds,
  editable,
}: {
  modelPath: string;
  builds: ModelBuild[];
  editable: boolean;
}) {
  const [aliases, setAliases] = useState<Alias[] | null>(null);
  const [name, setName] = useState("champion");
  const built = builds.filter((b) => b.state === "built");
  const [buildId, setBuildId] = useState<string>("");
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(() => {
    api<{ aliases: Alias[] }>("GET", `${modelPath}/aliases`)
      .then((r) => setAliases(r.aliases))
      .catch(setError);
  }, [modelPath]);
  useEffect(load, [load]);

  const set = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const target = buildId || String(built[0]?.id ?? "");
      await api("PUT", `${modelPath}/aliases/${encodeURIComponent(name.trim())}`, {
        body: { build_id: Number(target) },
      });
      load();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (a: Alias) => {
    setError(null);
    try {
      await api("DELETE", `${modelPath}/aliases/${encodeURIComponent(a.alias)}`);
      load();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section className="card" aria-label="Aliases">
      <h3>Aliases</h3>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {aliases === null ? (
        <Loading what="Loading aliases" />
      ) : aliases.length === 0 ? (
        <p className="muted">No aliases. Name the build in production “champion” and the one being tried “challenger”.</p>
      ) : (
        <ul className="plain">
          {aliases.map((a) => (
            <li key={a.alias}>
              <strong>{a.alias}</strong> → v{a.version} (build #{a.build_id}){" "}
              <span className="muted">set by {a.set_by}</span>{" "}
              {editable && (
                <button type="button" className="link danger" onClick={() => void remove(a)}>
                  Remove<span className="visually-hidden"> the alias {a.alias}</span>
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {editable && built.length > 0 && (
        <form className="row" onSubmit={set} aria-label="Set an alias">
          <label>
            Alias
            <input value={name} onChange={(e) => setName(e.target.value)} required pattern="[A-Za-z][A-Za-z0-9_\-]{0,63}" />
          </label>
          <label>
            Build
            <select value={buildId} onChange={(e) => setBuildId(e.target.value)}>
              {built.map((b) => (
                <option key={b.id} value={b.id}>
                  v{b.version} (build #{b.id})
                </option>
              ))}
            </select>
          </label>
          <button type="submit">Set alias</button>
        </form>
      )}
    </section>
  );
}

interface Verification {
  build_id: number;
  rebuild_of: number;
  state: string;
  reproduced: boolean;
  reason?: string;
  differences: { field: string; original: unknown; rebuild: unknown }[];
  snapshot_intact: boolean;
  corrupted_files: string[];
  project_changes: { changed: string[]; added: string[]; removed: string[]; truncated: boolean };
}

const show = (v: unknown) => (v === null || v === undefined ? "—" : typeof v === "string" ? v : JSON.stringify(v));

// The comparison of a rebuild with its original, once the rebuild has ended.
export function VerificationReport({ buildPath, build }: { buildPath: string; build: ModelBuild }) {
  const [report, setReport] = useState<Verification | null>(null);
  const [error, setError] = useState<unknown>(null);
  const ended = build.state === "built" || build.state === "failed";
  useEffect(() => {
    if (!ended) return;
    let live = true;
    api<Verification>("GET", `${buildPath}/verification`)
      .then((r) => live && setReport(r))
      .catch((e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [buildPath, ended]);

  if (!ended) {
    return <p className="muted">The rebuild of build #{build.rebuild_of} is running; its comparison follows once it ends.</p>;
  }
  if (error) {
    return <ErrorBanner error={error} />;
  }
  if (!report) {
    return <Loading what="Comparing with the original build" />;
  }
  const changes = report.project_changes;
  return (
    <section className="card" aria-label="Verification">
      <h3>
        Rebuild of build #{report.rebuild_of}:{" "}
        {report.reproduced ? (
          <span className="badge badge-ok">reproduced</span>
        ) : (
          <span className="badge badge-bad">not reproduced</span>
        )}
      </h3>
      {report.reason && <p>{report.reason}</p>}
      <p>
        Stored files:{" "}
        {report.snapshot_intact ? "intact" : `changed on disk since the build: ${report.corrupted_files.join(", ")}`}
      </p>
      {report.differences.length === 0 ? (
        report.state === "built" && <p>Same Python, packages, build script output, variables and lineage.yaml.</p>
      ) : (
        <table className="list compact" aria-label="Differences">
          <thead>
            <tr>
              <th scope="col">What</th>
              <th scope="col">Original</th>
              <th scope="col">Rebuild</th>
            </tr>
          </thead>
          <tbody>
            {report.differences.map((d) => (
              <tr key={d.field}>
                <td>{d.field}</td>
                <td>{show(d.original)}</td>
                <td>{show(d.rebuild)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p className="muted">
        Since the build, the project{" "}
        {changes.changed.length + changes.added.length + changes.removed.length === 0
          ? "has not changed."
          : [
              changes.changed.length ? `changed ${changes.changed.join(", ")}` : "",
              changes.added.length ? `added ${changes.added.join(", ")}` : "",
              changes.removed.length ? `removed ${changes.removed.join(", ")}` : "",
            ]
              .filter(Boolean)
              .join("; ") + " (the rebuild used the build's own files)."}
      </p>
    </section>
  );
}

// One build's record for governance: pick the build, then read what it was built with, what is
// wrong with its lineage.yaml, and work with its example requests.
export function BuildGovernance({
  modelPath,
  builds,
  editable,
  buildId,
}: {
  modelPath: string;
  builds: ModelBuild[];
  editable: boolean;
  // The build to show; without it, the one in the URL, else the newest.
  buildId?: number;
}) {
  const params = useParams();
  const navigate = useNavigate();
  const wanted = buildId ?? Number((params["*"] ?? "").split("/")[0]);
  const build = builds.find((b) => b.id === wanted) ?? builds[0];
  const [record, setRecord] = useState<BuildRecord | null>(null);
  const [serving, setServing] = useState<Deployment | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [servingVersion, setServingVersion] = useState(0);
  const buildPath = build ? `${modelPath}/builds/${build.id}` : "";
  const state = build?.state;

  useEffect(() => {
    let live = true;
    servingDeployment(modelPath)
      .then((d) => live && setServing(d))
      .catch(() => live && setServing(null));
    return () => {
      live = false;
    };
  }, [modelPath, state, servingVersion]);

  useEffect(() => {
    if (!buildPath) {
      return;
    }
    let live = true;
    setError(null);
    getBuild(buildPath)
      .then((r) => live && setRecord(r))
      .catch((e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [buildPath, state]);

  if (!build) {
    return null;
  }
  const uiBase = modelPath.replace(/^\/api\/v2/, "");
  return (
    <section className="card" aria-label="Build details">
      <div className="title-row">
        <h3>Build details</h3>
        <label className="inline">
          Details of
          <select value={build.id} onChange={(e) => navigate(`${uiBase}/builds/${e.target.value}`)}>
            {builds.map((b) => (
              <option key={b.id} value={b.id}>
                v{b.version} (build #{b.id}, {b.state})
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorBanner error={error} />
      {!record || record.id !== build.id ? (
        !error && <Loading what={`Loading build #${build.id}`} />
      ) : (
        <>
          <LineageProblems record={record} />
          <ReproducibilityDetails record={record} />
        </>
      )}
      <BuildExamples
        key={build.id}
        buildPath={buildPath}
        build={build}
        builds={builds}
        serving={serving}
        editable={editable}
        onServingStale={() => setServingVersion((v) => v + 1)}
      />
    </section>
  );
}

function LineageProblems({ record }: { record: BuildRecord }) {
  const r = record.reproducibility;
  const ended = record.state === "built" || record.state === "failed";
  if (!r.lineage_yaml_sha256) {
    return (
      <div aria-label="lineage.yaml" role="region">
        <h4>lineage.yaml</h4>
        <p className="muted">
          {ended
            ? "The project had no lineage.yaml when this build ran, so its training data is not recorded. "
            : "Read when the build runs. "}
          To record which data trained the model, add a <code>lineage.yaml</code> at the project's root naming this
          model with its <code>datasets</code> and <code>hive_table_qualified_names</code>; the next build reads it.
        </p>
      </div>
    );
  }
  const problems = (r.lineage_problems ?? []).map(parseLineageProblem);
  const lines = r.lineage_yaml ? annotateLines(r.lineage_yaml, problems) : [];
  const declared = r.lineage as { datasets?: string[]; hive_table_qualified_names?: string[] } | null;
  return (
    <div aria-label="lineage.yaml" role="region">
      <h4>
        lineage.yaml{" "}
        {problems.length === 0 ? (
          <span className="badge badge-ok">no problems</span>
        ) : (
          <span className="badge badge-bad">
            {problems.length} problem{problems.length === 1 ? "" : "s"}
          </span>
        )}
      </h4>
      {problems.length > 0 && (
        <>
          <p>
            The build went on without what these parts say: fix them in the project's <code>lineage.yaml</code> and
            build again.
          </p>
          <ul aria-label="lineage.yaml problems">
            {problems.map((p, i) => (
              <li key={i}>
                {p.line !== null ? (
                  <strong>
                    Line {p.line}, column {p.column}:
                  </strong>
                ) : (
                  <strong>The file:</strong>
                )}{" "}
                {p.message}
              </li>
            ))}
          </ul>
        </>
      )}
      {declared ? (
        <p>
          Trained on:{" "}
          {[...(declared.hive_table_qualified_names ?? []), ...(declared.datasets ?? [])].map((d, i) => (
            <span key={d}>
              {i > 0 && ", "}
              <code>{d}</code>
            </span>
          ))}
          {!(declared.hive_table_qualified_names?.length || declared.datasets?.length) && " nothing declared"}
        </p>
      ) : (
        problems.length === 0 && <p className="muted">The file does not name this model: no training data recorded.</p>
      )}
      {lines.length > 0 && (
        <details open={problems.length > 0} style={{ marginBottom: "0.75rem" }}>
          <summary>The file as the build saw it</summary>
          <table className="compact" aria-label="lineage.yaml with line numbers" style={{ fontFamily: "monospace", fontSize: "0.85em" }}>
            <tbody>
              {lines.map((l) => (
                <tr key={l.number} style={l.problems.length ? { background: "var(--bad-bg)" } : undefined}>
                  <th scope="row" className="muted" style={{ textAlign: "right", paddingRight: "0.75rem", fontWeight: 400 }}>
                    {l.number}
                  </th>
                  <td style={{ whiteSpace: "pre" }}>
                    {l.text || " "}
                    {l.problems.map((p, i) => (
                      <div key={i} style={{ color: "var(--bad)", whiteSpace: "pre-wrap" }}>
                        {" ".repeat(Math.max(0, (p.column ?? 1) - 1))}^ {p.message}
                      </div>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </div>
  );
}

function ReproducibilityDetails({ record }: { record: BuildRecord }) {
  const r = record.reproducibility;
  const packages = [...(record.packages ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  const env = r.environment_names ?? [];
  const item = (term: string, value: ReactNode) => (
    <tr>
      <th scope="row">{term}</th>
      <td>{value ?? <span className="muted">not recorded</span>}</td>
    </tr>
  );
  const hash = (h: string | null | undefined) => (h ? <code title={h}>{h.slice(0, 16)}…</code> : null);
  return (
    <div aria-label="Reproducibility" role="region">
      <h4>What it was built with</h4>
      {record.state !== "built" && record.state !== "failed" && (
        <p className="muted">The build is {record.state}: these are filled in as it runs.</p>
      )}
      <table className="list compact" aria-label="Build environment">
        <tbody>
        {item(
          "Function",
          <code>
            {r.file}:{r.function}
          </code>,
        )}
        {item("Kernel", r.kernel)}
        {item("Python", r.python)}
        {item("Interpreter", r.interpreter ? <code>{r.interpreter}</code> : null)}
        {item(
          "Files (snapshot)",
          r.snapshot ? (
            <>
              {hash(r.snapshot)}{" "}
              <span className="muted small-text">
                {record.snapshot_files} file{record.snapshot_files === 1 ? "" : "s"}
              </span>
            </>
          ) : null,
        )}
        {item(
          "cdsw-build.sh output (SHA-256)",
          hash(r.build_script_output_sha256) ??
            (record.state === "built" ? <span className="muted">none: the project has no cdsw-build.sh</span> : null),
        )}
        {item(
          "lineage.yaml (SHA-256)",
          hash(r.lineage_yaml_sha256) ??
            (record.state === "built" ? <span className="muted">none: the project had no lineage.yaml</span> : null),
        )}
        {item(
          "Environment variables (names)",
          env.length ? env.join(", ") : r.environment_names ? <span className="muted">none</span> : null,
        )}
        </tbody>
      </table>
      {packages.length === 0 ? (
        <p className="muted">No installed packages recorded{record.state === "built" ? "" : " yet"}.</p>
      ) : (
        <details>
          <summary>
            {packages.length} installed package{packages.length === 1 ? "" : "s"}
          </summary>
          <table className="list compact" aria-label="Installed packages">
            <thead>
              <tr>
                <th scope="col">Package</th>
                <th scope="col">Version</th>
              </tr>
            </thead>
            <tbody>
              {packages.map((p) => (
                <tr key={p.name}>
                  <td>{p.name}</td>
                  <td>{p.version}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </div>
  );
}
