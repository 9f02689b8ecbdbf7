// A model's aliases (champion, challenger) and how a rebuild compares with the build it repeats.
import { useCallback, useEffect, useState, type FormEvent } from "react";

import { api } from "../api/client";
import type { ModelBuild } from "../api/types";
import { ErrorBanner, Loading } from "../components/common";

interface Alias {
  alias: string;
  build_id: number;
  version: number;
  set_by: string;
}

export function Aliases({
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
