// Models: create one, build it with a live build log, deploy it, call it from a test panel, copy
// the snippets that call it, and watch its numbers.
import { lazy, Suspense, useCallback, useEffect, useMemo, useState, type FormEvent } from "react";
import { Link, NavLink, Route, Routes, useNavigate, useParams } from "react-router-dom";

import { api, ApiError, listPage } from "../api/client";
import type { Deployment, FileEntry, MetricSeries, Model, ModelBuild, Project, Replica } from "../api/types";
import { AccuracyChart } from "../components/AccuracyChart";
import { CopyButton, Empty, ErrorBanner, Loading, Pager, StatusBadge, usePagedList, usePoll } from "../components/common";
import { DriftPanel } from "../components/DriftPanel";
import { LogView } from "../components/LogView";
import { MonitorsPanel } from "../components/MonitorsPanel";
import { ProfilePicker } from "../components/ProfilePicker";
import { ServingHistoryPanel } from "../components/ServingHistory";
import { formatTime } from "../lib/format";
import { alignSeries, metricNames, RANGES, type Stat } from "../lib/series";
import { AliasesCard, BuildGovernance, VerificationReport } from "./ModelGovernance";
import { ModelKeys } from "./ModelKeys";

// The chart library loads with the monitoring tab.
const TimeChart = lazy(() => import("../components/Chart").then((m) => ({ default: m.TimeChart })));

const canEdit = (p: Project) => p.my_role === "Contributor" || p.my_role === "Admin";
const canOperate = (p: Project) => p.my_role !== "Viewer";

function modelsApi(projectId: number) {
  return `/api/v2/projects/${projectId}/models`;
}

export function ModelsPage({ project }: { project: Project }) {
  const list = usePagedList<Model>((p) => listPage<Model>(modelsApi(project.id), "models", { ...p, sort: "name" }), [project.id]);
  const [creating, setCreating] = useState(false);
  return (
    <>
      <div className="title-row">
        <h2>Models</h2>
        {canEdit(project) && (
          <button type="button" className="primary" onClick={() => setCreating((c) => !c)} aria-expanded={creating}>
            New model
          </button>
        )}
      </div>
      {creating && <CreateModel project={project} onCancel={() => setCreating(false)} />}
      <ErrorBanner error={list.error} />
      {list.loading && !list.items.length ? (
        <Loading what="Loading models" />
      ) : list.items.length === 0 ? (
        <Empty title="No models yet.">
          <p>
            A model serves a Python function from this project as a REST endpoint. Put a file such as <code>predict.py</code> with{" "}
            <code>def predict(args): ...</code> in Files, then create a model, build it and deploy it.
          </p>
        </Empty>
      ) : (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col">Description</th>
              <th scope="col">Serving</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((m) => (
              <tr key={m.id}>
                <td>
                  <Link to={`/projects/${project.id}/models/${m.id}`}>{m.name}</Link>
                </td>
                <td>{m.description}</td>
                <td>{m.deployment_id ? <StatusBadge status="deployed" /> : <span className="muted">not deployed</span>}</td>
                <td>{formatTime(m.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager list={list} label="Models" />
    </>
  );
}

function CreateModel({ project, onCancel }: { project: Project; onCancel: () => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [authEnabled, setAuthEnabled] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const navigate = useNavigate();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const m = await api<Model>("POST", modelsApi(project.id), { body: { name: name.trim(), description, auth_enabled: authEnabled } });
      navigate(`/projects/${project.id}/models/${m.id}/builds`);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="card" onSubmit={submit} aria-label="New model">
      <h3>New model</h3>
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} autoFocus />
      </label>
      <label>
        Description <span className="muted">(optional)</span>
        <input value={description} onChange={(e) => setDescription(e.target.value)} />
      </label>
      <label className="inline">
        <input type="checkbox" checked={authEnabled} onChange={(e) => setAuthEnabled(e.target.checked)} />
        Callers must send an API key (recommended)
      </label>
      <ErrorBanner error={error} />
      <div className="buttons">
        <button type="submit" className="primary">
          Create model
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function ModelPage({ project }: { project: Project }) {
  const { modelId = "" } = useParams();
  const [model, setModel] = useState<Model | null>(null);
  const [error, setError] = useState<unknown>(null);
  const base = `${modelsApi(project.id)}/${modelId}`;
  const load = useCallback(() => {
    api<Model>("GET", base).then(setModel).catch(setError);
  }, [base]);
  useEffect(load, [load]);

  if (!model) {
    return error ? <ErrorBanner error={error} /> : <Loading what="Loading the model" />;
  }
  const here = `/projects/${project.id}/models/${model.id}`;
  return (
    <>
      <p className="crumbs">
        <Link to={`/projects/${project.id}/models`}>Models</Link> / <span>{model.name}</span>
      </p>
      <div className="title-row">
        <h2>{model.name}</h2>
        {model.deployment_id ? <StatusBadge status="deployed" /> : <span className="muted">not deployed</span>}
      </div>
      {model.description && <p>{model.description}</p>}
      <nav className="tabs sub" aria-label="Model">
        <NavLink to={`${here}/builds`}>Builds</NavLink>
        <NavLink to={`${here}/deployments`}>Deployments</NavLink>
        <NavLink to={`${here}/test`}>Test</NavLink>
        <NavLink to={`${here}/monitoring`}>Monitoring</NavLink>
        <Link to={`/lineage?entity=${encodeURIComponent(model.crn)}&direction=both`}>Lineage</Link>
      </nav>
      <Routes>
        <Route index element={<Builds project={project} model={model} onChange={load} />} />
        <Route path="builds/*" element={<Builds project={project} model={model} onChange={load} />} />
        <Route path="deployments" element={<Deployments project={project} model={model} onChange={load} />} />
        <Route path="test" element={<TestTab project={project} model={model} />} />
        <Route path="monitoring" element={<Monitoring project={project} model={model} />} />
      </Routes>
    </>
  );
}

function Builds({ project, model, onChange }: { project: Project; model: Model; onChange: () => void }) {
  const base = `${modelsApi(project.id)}/${model.id}/builds`;
  const [rebuildError, setRebuildError] = useState<unknown>(null);
  const list = usePagedList<ModelBuild>((p) => listPage<ModelBuild>(base, "builds", p), [base]);
  // The build shown (its log, its details) is the one in the address, `.../builds/<id>`, so the
  // log and the build's details below always show the same build.
  const params = useParams();
  const navigate = useNavigate();
  const selected = Number((params["*"] ?? "").split("/")[0]) || null;
  const setSelected = (id: number) => navigate(`/projects/${project.id}/models/${model.id}/builds/${id}`);
  const busy = list.items.some((b) => b.state === "queued" || b.state === "building");
  usePoll(list.reload, 2000, busy);
  useEffect(() => {
    if (!busy) {
      onChange();
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [busy]);
  const shown = list.items.find((b) => b.id === selected) ?? list.items[0];
  const rebuild = async (b: ModelBuild) => {
    setRebuildError(null);
    try {
      const r = await api<ModelBuild>("POST", `${base}/${b.id}:rebuild`);
      setSelected(r.id);
      list.reload();
    } catch (err) {
      setRebuildError(err);
    }
  };

  return (
    <>
      {canEdit(project) && <NewBuild project={project} model={model} onStarted={(b) => { setSelected(b.id); list.reload(); }} />}
      <ErrorBanner error={list.error || rebuildError} />
      {list.loading && !list.items.length ? (
        <Loading what="Loading builds" />
      ) : list.items.length === 0 ? (
        <Empty title="No builds yet.">
          <p>Build the model from a Python file and function in the project; once built, deploy it.</p>
        </Empty>
      ) : (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Build</th>
              <th scope="col">State</th>
              <th scope="col">Function</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((b) => (
              <tr key={b.id} aria-selected={shown?.id === b.id}>
                <td>
                  <button type="button" className="link" onClick={() => setSelected(b.id)}>
                    Build #{b.id}
                  </button>{" "}
                  <span className="muted">v{b.version}</span>
                  {b.comment && <div className="muted small-text">{b.comment}</div>}
                </td>
                <td>
                  <StatusBadge status={b.state} />
                  {b.reason && <div className="muted small-text">{b.reason}</div>}
                </td>
                <td>
                  <code>
                    {b.file_path}:{b.function_name}
                  </code>
                </td>
                <td>{formatTime(b.created_at)}</td>
                <td className="actions">
                  {b.state === "built" && canEdit(project) && (
                    <Link to={`/projects/${project.id}/models/${model.id}/deployments?build=${b.id}`}>Deploy…</Link>
                  )}
                  {b.state === "built" && canEdit(project) && (
                    <button type="button" className="link" onClick={() => void rebuild(b)}>
                      Rebuild and verify<span className="visually-hidden"> build #{b.id}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager list={list} label="Builds" />
      {shown?.rebuild_of && (
        <VerificationReport key={`verify-${shown.id}-${shown.state}`} buildPath={`${base}/${shown.id}`} build={shown} />
      )}
      {/* A queued build has no log to follow yet: follow again as its state moves on. */}
      {shown && <LogView key={`${shown.id}-${shown.state}`} logsPath={`${base}/${shown.id}/logs`} live label={`Log of build #${shown.id}`} />}
      {list.items.length > 0 && (
        <>
          <AliasesCard modelPath={`${modelsApi(project.id)}/${model.id}`} builds={list.items} editable={canEdit(project)} />
          <BuildGovernance
            modelPath={`${modelsApi(project.id)}/${model.id}`}
            builds={list.items}
            editable={canEdit(project)}
            buildId={shown?.id}
          />
        </>
      )}
    </>
  );
}

function NewBuild({ project, model, onStarted }: { project: Project; model: Model; onStarted: (b: ModelBuild) => void }) {
  const [file, setFile] = useState("predict.py");
  const [fn, setFn] = useState("predict");
  const [comment, setComment] = useState("");
  const [files, setFiles] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    listPage<FileEntry>(`/api/v2/projects/${project.id}/files`, "files", { pageSize: 1000 })
      .then((p) => setFiles(p.items.filter((f) => f.type === "file" && f.name.endsWith(".py")).map((f) => f.path)))
      .catch(() => undefined);
  }, [project.id]);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const b = await api<ModelBuild>("POST", `${modelsApi(project.id)}/${model.id}/builds`, {
        body: { file_path: file.trim(), function_name: fn.trim(), comment },
      });
      onStarted(b);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card" onSubmit={submit} aria-label="New build">
      <div className="row">
        <label>
          Python file
          <input value={file} onChange={(e) => setFile(e.target.value)} list="model-files" required />
          <datalist id="model-files">
            {files.map((f) => (
              <option key={f} value={f} />
            ))}
          </datalist>
        </label>
        <label>
          Function
          <input value={fn} onChange={(e) => setFn(e.target.value)} required />
        </label>
        <label>
          Comment <span className="muted">(optional)</span>
          <input value={comment} onChange={(e) => setComment(e.target.value)} />
        </label>
      </div>
      <ErrorBanner error={error} />
      <button type="submit" className="primary" disabled={busy}>
        {busy ? "Starting…" : "Build"}
      </button>
    </form>
  );
}

function Deployments({ project, model, onChange }: { project: Project; model: Model; onChange: () => void }) {
  const base = `${modelsApi(project.id)}/${model.id}`;
  const list = usePagedList<Deployment>((p) => listPage<Deployment>(`${base}/deployments`, "deployments", p), [base]);
  const [builds, setBuilds] = useState<ModelBuild[]>([]);
  const [error, setError] = useState<unknown>(null);
  const busy = list.items.some((d) => d.state === "pending" || d.state === "deploying");
  usePoll(list.reload, 2000, busy);
  usePoll(list.reload, 5000, !busy && list.items.some((d) => d.state === "deployed"));
  useEffect(() => {
    if (!busy) {
      onChange();
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [busy]);
  useEffect(() => {
    listPage<ModelBuild>(`${base}/builds`, "builds", { pageSize: 100, filter: { state: "built" } })
      .then((p) => setBuilds(p.items))
      .catch(setError);
  }, [base]);

  const act = async (d: Deployment, verb: "stop" | "restart") => {
    setError(null);
    try {
      await api("POST", `${base}/builds/${d.build_id}/deployments/${d.id}:${verb}`);
      list.reload();
      onChange();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <>
      {canEdit(project) &&
        (builds.length ? (
          <Deploy project={project} model={model} builds={builds} onDeployed={() => list.reload()} />
        ) : (
          <p className="muted">Build the model first: a deployment serves a finished build.</p>
        ))}
      <ErrorBanner error={error || list.error} />
      {list.loading && !list.items.length ? (
        <Loading what="Loading deployments" />
      ) : list.items.length === 0 ? (
        <Empty title="Not deployed yet.">
          <p>{builds.length ? "Choose a build above and press Deploy: the model then answers calls." : "Build the model on the Builds tab, then deploy the build here."}</p>
        </Empty>
      ) : (
        list.items.map((d) => (
          <article key={d.id} className="card deployment" aria-label={`Deployment ${d.id}`}>
            <div className="title-row">
              <h3>
                Deployment #{d.id} of build #{d.build_id} <StatusBadge status={d.state} />
                {model.deployment_id === d.id && <span className="badge badge-ok">serving</span>}
              </h3>
              {canOperate(project) && (d.state === "deployed" || d.state === "deploying" || d.state === "pending") && (
                <div className="buttons">
                  <button type="button" onClick={() => void act(d, "restart")}>
                    Restart
                  </button>
                  <button type="button" className="danger" onClick={() => void act(d, "stop")}>
                    Stop
                  </button>
                </div>
              )}
            </div>
            {d.reason && <p className="muted">{d.reason}</p>}
            <p>
              {d.ready_replicas} of {d.replicas} replicas ready · {d.cpu} vCPU, {d.memory} GiB each
              {d.min_replicas && d.max_replicas ? ` · autoscaling ${d.min_replicas} to ${d.max_replicas}` : ""} · created{" "}
              {formatTime(d.created_at)}
            </p>
            {d.stats && d.stats.requests > 0 && (
              <p className="muted">
                {plural(d.stats.requests, "request")}, {plural(d.stats.errors, "error")}, latency p50 {d.stats.latency_ms.p50.toFixed(1)} ms, p95{" "}
                {d.stats.latency_ms.p95.toFixed(1)} ms, p99 {d.stats.latency_ms.p99.toFixed(1)} ms
              </p>
            )}
            {(d.state === "deployed" || d.state === "deploying") && <Replicas path={`${base}/builds/${d.build_id}/deployments/${d.id}`} />}
          </article>
        ))
      )}
      <Pager list={list} label="Deployments" />
    </>
  );
}

function Deploy({ project, model, builds, onDeployed }: { project: Project; model: Model; builds: ModelBuild[]; onDeployed: () => void }) {
  const params = new URLSearchParams(window.location.search);
  const [buildId, setBuildId] = useState(Number(params.get("build")) || builds[0].id);
  const [replicas, setReplicas] = useState(1);
  const [cpu, setCpu] = useState(0.5);
  const [memory, setMemory] = useState(0.5);
  const [autoscale, setAutoscale] = useState(false);
  const [maxReplicas, setMaxReplicas] = useState(3);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const body: Record<string, number> = { replicas, cpu, memory };
      if (autoscale) {
        body.min_replicas = replicas;
        body.max_replicas = maxReplicas;
      }
      await api("POST", `${modelsApi(project.id)}/${model.id}/builds/${buildId}/deployments`, { body });
      onDeployed();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card" onSubmit={submit} aria-label="Deploy a build">
      <div className="row">
        <label>
          Build
          <select value={buildId} onChange={(e) => setBuildId(Number(e.target.value))}>
            {builds.map((b) => (
              <option key={b.id} value={b.id}>
                #{b.id} {b.file_path}:{b.function_name} {b.comment}
              </option>
            ))}
          </select>
        </label>
        <label>
          {autoscale ? "Min replicas" : "Replicas"}
          <input type="number" min={1} max={100} value={replicas} onChange={(e) => setReplicas(Number(e.target.value))} />
        </label>
        <ProfilePicker
          onPick={(p) => {
            setCpu(p.cpu);
            setMemory(p.memory);
          }}
        />
        <label>
          vCPU per replica
          <input type="number" min={0.01} step="any" value={cpu} onChange={(e) => setCpu(Number(e.target.value))} />
        </label>
        <label>
          Memory per replica (GiB)
          <input type="number" min={0.0625} step="any" value={memory} onChange={(e) => setMemory(Number(e.target.value))} />
        </label>
      </div>
      <label className="inline">
        <input type="checkbox" checked={autoscale} onChange={(e) => setAutoscale(e.target.checked)} />
        Autoscale with the load
      </label>
      {autoscale && (
        <label>
          Max replicas
          <input type="number" min={1} max={100} value={maxReplicas} onChange={(e) => setMaxReplicas(Number(e.target.value))} />
        </label>
      )}
      <ErrorBanner error={error} />
      <button type="submit" className="primary" disabled={busy}>
        {busy ? "Deploying…" : "Deploy"}
      </button>
    </form>
  );
}

function Replicas({ path }: { path: string }) {
  const list = usePagedList<Replica>((p) => listPage<Replica>(`${path}/replicas`, "replicas", p), [path]);
  usePoll(list.reload, 5000, true);
  const [logOf, setLogOf] = useState<Replica | null>(null);
  return (
    <>
      <table className="list compact">
        <caption className="visually-hidden">Replicas</caption>
        <thead>
          <tr>
            <th scope="col">Replica</th>
            <th scope="col">State</th>
            <th scope="col">Requests</th>
            <th scope="col">Errors</th>
            <th scope="col">Started</th>
            <th scope="col">
              <span className="visually-hidden">Log</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {list.items.map((r) => (
            <tr key={r.id}>
              <td>{r.replica_id}</td>
              <td>
                <StatusBadge status={r.ready ? "ready" : r.state} />
                {r.reason && <div className="muted small-text">{r.reason}</div>}
              </td>
              <td>{r.requests}</td>
              <td>{r.errors}</td>
              <td>{formatTime(r.started_at)}</td>
              <td>
                <button type="button" className="link" onClick={() => setLogOf(logOf?.id === r.id ? null : r)}>
                  {logOf?.id === r.id ? "Hide log" : "Log"}
                  <span className="visually-hidden"> of {r.replica_id}</span>
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager list={list} label="Replicas" />
      {logOf && (
        <LogView
          key={logOf.id}
          logsPath={`${path}/replicas/${logOf.id}/logs`}
          live={!["succeeded", "failed", "stopped", "timedout"].includes(logOf.state)}
          label={`Log of replica ${logOf.replica_id}`}
        />
      )}
    </>
  );
}

function snippets(model: Model, body: string) {
  const origin = window.location.origin;
  const request = body.trim() || "{}";
  const payload = `{"accessKey": "${model.access_key}", "request": ${request.replace(/\s*\n\s*/g, " ")}}`;
  const auth = model.auth_enabled;
  const curl = [`curl -s ${origin}/model \\`, auth ? `  -H "Authorization: Bearer $LATHE_API_KEY" \\` : null, `  -d '${payload}'`]
    .filter(Boolean)
    .join("\n");
  const python = [
    "import json, os, urllib.request",
    "",
    `body = json.dumps({"accessKey": "${model.access_key}", "request": ${request.replace(/\s*\n\s*/g, " ")}}).encode()`,
    `req = urllib.request.Request("${origin}/model", data=body, headers={"Content-Type": "application/json"${
      auth ? ', "Authorization": "Bearer " + os.environ["LATHE_API_KEY"]' : ""
    }})`,
    "print(json.load(urllib.request.urlopen(req)))",
  ].join("\n");
  return { curl, python };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

// The Test tab: the test panel, and the model API keys below it; a key made there fills the
// panel's key field, so the next request goes through.
function TestTab({ project, model }: { project: Project; model: Model }) {
  const [apiKey, setApiKey] = useState("");
  return (
    <>
      <TestPanel project={project} model={model} apiKey={apiKey} setApiKey={setApiKey} />
      <ModelKeys modelPath={`${modelsApi(project.id)}/${model.id}`} model={model} onCreated={setApiKey} />
    </>
  );
}

function TestPanel({
  project,
  model,
  apiKey,
  setApiKey,
}: {
  project: Project;
  model: Model;
  apiKey: string;
  setApiKey: (key: string) => void;
}) {
  const [body, setBody] = useState('{"x": 1}');
  const [response, setResponse] = useState<{ status: number; text: string; ms: number } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const s = useMemo(() => snippets(model, body), [model, body]);

  const send = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setResponse(null);
    let request: unknown;
    try {
      request = JSON.parse(body);
    } catch (err) {
      setError(new Error(`The request is not valid JSON: ${(err as Error).message}. Fix it and send again.`));
      return;
    }
    setBusy(true);
    const started = performance.now();
    try {
      const headers: Record<string, string> = { "Content-Type": "application/json" };
      if (model.auth_enabled && apiKey.trim()) {
        headers.Authorization = `Bearer ${apiKey.trim()}`;
      }
      const r = await fetch("/model", { method: "POST", headers, body: JSON.stringify({ accessKey: model.access_key, request }) });
      const text = await r.text();
      let pretty = text;
      try {
        pretty = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        // not JSON: show as it is
      }
      setResponse({ status: r.status, text: pretty, ms: performance.now() - started });
    } catch {
      setError(new ApiError(0, "network", "the server is not answering"));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      {!model.deployment_id && (
        <p className="notice">
          This model is not deployed yet: <Link to={`/projects/${project.id}/models/${model.id}/deployments`}>deploy a build</Link>, then
          test it here.
        </p>
      )}
      <form className="card" onSubmit={send} aria-label="Test the model">
        <label>
          Request (JSON, passed to the function as its argument)
          <textarea className="mono" rows={6} value={body} onChange={(e) => setBody(e.target.value)} spellCheck={false} />
        </label>
        {model.auth_enabled && (
          <label>
            API key{" "}
            <span className="muted">
              (this model needs one: create a model API key below, or use one of your <Link to="/keys">API keys</Link>; it is not stored)
            </span>
            <input type="password" value={apiKey} onChange={(e) => setApiKey(e.target.value)} autoComplete="off" />
          </label>
        )}
        <ErrorBanner error={error} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Sending…" : "Send request"}
        </button>
      </form>
      {response && (
        <section aria-label="Response" className="card">
          <h3>
            Response: HTTP {response.status} <span className="muted">in {response.ms.toFixed(0)} ms</span>
          </h3>
          {response.status >= 400 && <p className="notice">{describeModelError(response.status, response.text)}</p>}
          <pre className="mono response" data-testid="model-response">
            {response.text}
          </pre>
        </section>
      )}
      <section className="card" aria-label="Call it from code">
        <h3>Call it from code</h3>
        <div className="snippet">
          <div className="title-row">
            <h4>curl</h4>
            <CopyButton text={s.curl} label="Copy the curl command" />
          </div>
          <pre className="mono">{s.curl}</pre>
        </div>
        <div className="snippet">
          <div className="title-row">
            <h4>Python</h4>
            <CopyButton text={s.python} label="Copy the Python code" />
          </div>
          <pre className="mono">{s.python}</pre>
        </div>
      </section>
    </>
  );
}

function serverMessage(text: string): string | null {
  try {
    const body = JSON.parse(text);
    const msg = body?.error?.message ?? body?.response?.error ?? body?.error;
    return typeof msg === "string" && msg ? msg : null;
  } catch {
    return null;
  }
}

function describeModelError(status: number, text: string): string {
  if (status === 401 || status === 403) {
    return "The model refused the call: it needs the API key of a user who may read this project.";
  }
  if (status === 503) {
    const said = serverMessage(text);
    return said
      ? `The model could not answer: ${said}`
      : "No replica is ready to answer: check the deployment's state and replica logs.";
  }
  if (status === 429) {
    return "The model is overloaded: its queue is full. Wait a moment, or deploy more replicas.";
  }
  return serverMessage(text) ?? `The call failed with HTTP ${status}.`;
}

function Monitoring({ project, model }: { project: Project; model: Model }) {
  const [range, setRange] = useState(RANGES[0].ms);
  const [stat, setStat] = useState<Stat>("mean");
  const [series, setSeries] = useState<MetricSeries | null>(null);
  const [chosen, setChosen] = useState<string[]>([]);
  const [deployment, setDeployment] = useState<Deployment | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loaded, setLoaded] = useState(false);

  const load = useCallback(() => {
    const end = Date.now();
    api<MetricSeries>("POST", "/api/v2/metrics:series", {
      body: { modelCrn: model.crn, startTimeStampMs: end - range, endTimeStampMs: end },
    })
      .then((s) => {
        setSeries(s);
        setError(null);
      })
      .catch((e) => {
        // Nothing recorded yet is an empty chart, not an error.
        if (e instanceof ApiError && e.status === 404) {
          setSeries(null);
        } else {
          setError(e);
        }
      })
      .finally(() => setLoaded(true));
    if (model.deployment_id) {
      listPage<Deployment>(`${modelsApi(project.id)}/${model.id}/deployments`, "deployments", {
        pageSize: 1,
        filter: { id: model.deployment_id },
      })
        .then((p) => setDeployment(p.items[0] ?? null))
        .catch(() => undefined);
    }
  }, [model, project.id, range]);
  useEffect(load, [load]);
  usePoll(load, 10000, true);

  const names = metricNames(series);
  useEffect(() => {
    if (names.length && !chosen.some((c) => names.includes(c))) {
      setChosen(names.slice(0, 1));
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [names.join(",")]);
  const aligned = useMemo(() => (series ? alignSeries(series, chosen.filter((c) => names.includes(c)), stat) : null), [series, chosen, stat, names]);
  const stats = deployment?.stats;

  return (
    <>
      <section className="card" aria-label="Serving now">
        <h3>Serving now</h3>
        {stats ? (
          <dl className="tiles">
            <div>
              <dt>Requests</dt>
              <dd data-testid="stat-requests">{stats.requests}</dd>
            </div>
            <div>
              <dt>Errors</dt>
              <dd>{stats.errors}</dd>
            </div>
            <div>
              <dt>Rejected (overload)</dt>
              <dd>{stats.rejected}</dd>
            </div>
            <div>
              <dt>Latency p50 / p95 / p99</dt>
              <dd>
                {stats.latency_ms.p50.toFixed(1)} / {stats.latency_ms.p95.toFixed(1)} / {stats.latency_ms.p99.toFixed(1)} ms
              </dd>
            </div>
          </dl>
        ) : (
          <p className="muted">The model is not deployed: live numbers appear once a deployment serves it.</p>
        )}
        <p className="muted small-text">Counts since the deployment started; the charts below show them over time.</p>
        {deployment && (
          <p className="small-text">
            Deployment CRN (what <code>cdsw.read_metrics</code> and ground-truth jobs name it by): <code>{deployment.crn}</code>{" "}
            <CopyButton text={deployment.crn} label="Copy the deployment CRN" />
          </p>
        )}
      </section>
      <div className="title-row">
        <label className="inline">
          Range
          <select value={range} onChange={(e) => setRange(Number(e.target.value))}>
            {RANGES.map((r) => (
              <option key={r.ms} value={r.ms}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ServingHistoryPanel projectId={project.id} modelId={model.id} deployment={deployment} rangeMs={range} />
      <section className="card" aria-label="Metrics over time">
        <div className="title-row">
          <h3>Metrics over time</h3>
          <div className="row">
            <label className="inline">
              Show
              <select value={stat} onChange={(e) => setStat(e.target.value as Stat)}>
                <option value="mean">mean</option>
                <option value="p50">median (p50)</option>
                <option value="p95">p95</option>
                <option value="p99">p99</option>
                <option value="min">min</option>
                <option value="max">max</option>
                <option value="count">predictions per {series?.resolution ?? "minute"}</option>
              </select>
            </label>
          </div>
        </div>
        <ErrorBanner error={error} />
        {!loaded ? (
          <Loading what="Loading metrics" />
        ) : names.length === 0 ? (
          <Empty title="No metrics in this range yet.">
            <p>
              Decorate the model's function with <code>@cdsw.model_metrics</code> and call <code>cdsw.track_metric("name", value)</code>{" "}
              in it; every numeric metric shows here within about ten seconds of the calls.
            </p>
          </Empty>
        ) : (
          <>
            <fieldset className="metrics-pick">
              <legend>Metrics</legend>
              {names.map((n) => (
                <label key={n} className="inline">
                  <input
                    type="checkbox"
                    checked={chosen.includes(n)}
                    onChange={(e) => setChosen((c) => (e.target.checked ? [...c, n] : c.filter((x) => x !== n)))}
                  />
                  {n}
                </label>
              ))}
            </fieldset>
            {aligned && aligned.columns.length > 0 && (
              <Suspense fallback={<Loading what="Loading the chart" />}>
                <TimeChart data={aligned} title={`${chosen.join(", ")} over time`} />
              </Suspense>
            )}
          </>
        )}
      </section>
      <AccuracyChart modelCrn={model.crn} rangeMs={range} />
      {names.length > 0 && <DriftPanel modelCrn={model.crn} rangeMs={range} />}
      <MonitorsPanel projectId={project.id} modelId={model.id} metrics={names} canEdit={canEdit(project)} />
    </>
  );
}
