// Jobs: the list with each job's last run, creating one with its schedule, running it, its run
// history, and a run's live log.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { Link, Route, Routes, useNavigate, useParams } from "react-router-dom";

import { api, listPage } from "../api/client";
import type { FileEntry, Job, JobRun, Project } from "../api/types";
import { Empty, ErrorBanner, Loading, Pager, StatusBadge, usePagedList, usePoll } from "../components/common";
import { LogView } from "../components/LogView";
import { ProfilePicker } from "../components/ProfilePicker";
import { ScheduleBuilder } from "../components/ScheduleBuilder";
import { formatDuration, formatTime } from "../lib/format";
import { choiceOf, fieldsOf, isTerminal, type ScheduleChoice } from "../lib/schedule";

const canRun = (p: Project) => p.my_role !== "Viewer";
const canEdit = (p: Project) => p.my_role === "Contributor" || p.my_role === "Admin";

function jobsApi(projectId: number) {
  return `/api/v2/projects/${projectId}/jobs`;
}

async function lastRun(projectId: number, jobId: number): Promise<JobRun | null> {
  const page = await listPage<JobRun>(`${jobsApi(projectId)}/${jobId}/runs`, "runs", { pageSize: 1 });
  return page.items[0] ?? null;
}

export function JobsPage({ project }: { project: Project }) {
  const list = usePagedList<Job>((p) => listPage<Job>(jobsApi(project.id), "jobs", { ...p, sort: "name" }), [project.id]);
  const [runs, setRuns] = useState<Record<number, JobRun | null>>({});
  const [error, setError] = useState<unknown>(null);
  const navigate = useNavigate();

  const loadRuns = useCallback(() => {
    Promise.all(list.items.map(async (j) => [j.id, await lastRun(project.id, j.id)] as const))
      .then((pairs) => setRuns(Object.fromEntries(pairs)))
      .catch(setError);
  }, [list.items, project.id]);
  useEffect(loadRuns, [loadRuns]);
  usePoll(loadRuns, 3000, Object.values(runs).some((r) => r && !isTerminal(r.status)));

  const runNow = async (job: Job) => {
    setError(null);
    try {
      const run = await api<JobRun>("POST", `${jobsApi(project.id)}/${job.id}/runs`, { body: {} });
      navigate(`/projects/${project.id}/jobs/${job.id}/runs/${run.id}`);
    } catch (e) {
      setError(e);
    }
  };

  return (
    <>
      <div className="title-row">
        <h2>Jobs</h2>
        {canEdit(project) && (
          <Link className="button-like primary" to={`/projects/${project.id}/jobs/new`}>
            New job
          </Link>
        )}
      </div>
      <ErrorBanner error={error || list.error} />
      {list.loading && !list.items.length ? (
        <Loading what="Loading jobs" />
      ) : list.items.length === 0 ? (
        <Empty title="No jobs yet.">
          <p>A job runs a script from this project's files: by hand, on a schedule, or after another job. Upload a script in Files, then create a job for it.</p>
        </Empty>
      ) : (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Script</th>
              <th scope="col">Schedule</th>
              <th scope="col">Last run</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((j) => {
              const r = runs[j.id];
              return (
                <tr key={j.id}>
                  <td>
                    <Link to={`/projects/${project.id}/jobs/${j.id}`}>{j.name}</Link>
                  </td>
                  <td>
                    <code>{j.script}</code>
                  </td>
                  <td>{j.schedule_description}</td>
                  <td>
                    {r === undefined ? (
                      "…"
                    ) : r === null ? (
                      <span className="muted">never run</span>
                    ) : (
                      <Link to={`/projects/${project.id}/jobs/${j.id}/runs/${r.id}`}>
                        <StatusBadge status={r.status} /> {formatTime(r.created_at)}
                      </Link>
                    )}
                  </td>
                  <td className="actions">
                    {canRun(project) && (
                      <button type="button" onClick={() => void runNow(j)}>
                        Run now<span className="visually-hidden"> {j.name}</span>
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <Pager list={list} label="Jobs" />
    </>
  );
}

interface Runtime {
  name: string;
}

export function NewJobPage({ project }: { project: Project }) {
  return <JobForm project={project} />;
}

// Creates a job, or changes `job` when given (PATCH with every field of the form).
function JobForm({ project, job, onSaved }: { project: Project; job?: Job; onSaved?: (j: Job) => void }) {
  const [name, setName] = useState(job?.name ?? "");
  const [script, setScript] = useState(job?.script ?? "");
  const [kernel, setKernel] = useState(job?.kernel ?? "python3");
  const [args, setArgs] = useState(job?.arguments ?? "");
  const [cpu, setCpu] = useState(job?.cpu ?? 1);
  const [memory, setMemory] = useState(job?.memory ?? 2);
  const [timeout, setTimeoutSeconds] = useState(job?.timeout ?? 0);
  const [schedule, setSchedule] = useState<ScheduleChoice>(() => (job ? choiceOf(job) : { kind: "manual" }));
  const [scripts, setScripts] = useState<string[]>([]);
  const [runtimes, setRuntimes] = useState<Runtime[]>([{ name: "python3" }]);
  const [jobs, setJobs] = useState<Job[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const navigate = useNavigate();

  useEffect(() => {
    listPage<FileEntry>(`/api/v2/projects/${project.id}/files`, "files", { pageSize: 1000 })
      .then((p) => setScripts(p.items.filter((f) => f.type === "file" && /\.(py|r|R|sh)$/.test(f.name)).map((f) => f.path)))
      .catch(() => undefined);
    listPage<Runtime>("/api/v2/runtimes", "runtimes", { pageSize: 100 })
      .then((p) => p.items.length && setRuntimes(p.items))
      .catch(() => undefined);
    listPage<Job>(jobsApi(project.id), "jobs", { pageSize: 1000, sort: "name" })
      .then((p) => setJobs(p.items.filter((j) => j.id !== job?.id)))
      .catch(() => undefined);
  }, [project.id, job?.id]);

  // The kernel follows the script's extension until the user picks one.
  const [kernelTouched, setKernelTouched] = useState(!!job);
  useEffect(() => {
    if (!kernelTouched) {
      setKernel(/\.r$/i.test(script) ? "r" : script.endsWith(".sh") ? "bash" : "python3");
    }
  }, [script, kernelTouched]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const s = fieldsOf(schedule);
    if ("error" in s) {
      setError(new Error(s.error));
      return;
    }
    setBusy(true);
    try {
      const body = { name: name.trim(), script: script.trim(), kernel, arguments: args, cpu, memory, timeout, ...s.fields };
      if (job) {
        onSaved?.(await api<Job>("PATCH", `${jobsApi(project.id)}/${job.id}`, { body }));
        setBusy(false);
        return;
      }
      const created = await api<Job>("POST", jobsApi(project.id), { body });
      navigate(`/projects/${project.id}/jobs/${created.id}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <form className="card" onSubmit={submit} aria-label={job ? "Change the job" : "New job"}>
      <h2>{job ? `Change ${job.name}` : "New job"}</h2>
      <div className="row">
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required autoFocus />
        </label>
        <label>
          Script
          <input value={script} onChange={(e) => setScript(e.target.value)} required list="scripts" placeholder="train.py" />
          <datalist id="scripts">
            {scripts.map((s) => (
              <option key={s} value={s} />
            ))}
          </datalist>
        </label>
        <label>
          Kernel
          <select
            value={kernel}
            onChange={(e) => {
              setKernel(e.target.value);
              setKernelTouched(true);
            }}
          >
            {runtimes.map((r) => (
              <option key={r.name} value={r.name}>
                {r.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <label>
        Arguments <span className="muted">(optional)</span>
        <input value={args} onChange={(e) => setArgs(e.target.value)} placeholder="--epochs 3" />
      </label>
      <div className="row">
        <ProfilePicker
          onPick={(p) => {
            setCpu(p.cpu);
            setMemory(p.memory);
          }}
        />
        <label>
          vCPU
          <input type="number" min={0.1} step="any" value={cpu} onChange={(e) => setCpu(Number(e.target.value))} />
        </label>
        <label>
          Memory (GiB)
          <input type="number" min={0.1} step="any" value={memory} onChange={(e) => setMemory(Number(e.target.value))} />
        </label>
        <label>
          Timeout (seconds, 0: none)
          <input type="number" min={0} step={1} value={timeout} onChange={(e) => setTimeoutSeconds(Number(e.target.value))} />
        </label>
      </div>
      <ScheduleBuilder value={schedule} onChange={setSchedule} jobs={jobs} />
      <ErrorBanner error={error} />
      <div className="buttons">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Saving…" : job ? "Save job" : "Create job"}
        </button>
        {!job && <Link to={`/projects/${project.id}/jobs`}>Cancel</Link>}
      </div>
    </form>
  );
}

export function JobPage({ project }: { project: Project }) {
  const { jobId = "" } = useParams();
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState(false);
  const navigate = useNavigate();
  const base = `${jobsApi(project.id)}/${jobId}`;

  const load = useCallback(() => {
    api<Job>("GET", base).then(setJob).catch(setError);
  }, [base]);
  useEffect(load, [load]);

  const runNow = async () => {
    setError(null);
    try {
      const run = await api<JobRun>("POST", `${base}/runs`, { body: {} });
      navigate(`/projects/${project.id}/jobs/${jobId}/runs/${run.id}`);
    } catch (e) {
      setError(e);
    }
  };

  if (!job) {
    return error ? <ErrorBanner error={error} /> : <Loading what="Loading the job" />;
  }
  return (
    <>
      <p className="crumbs">
        <Link to={`/projects/${project.id}/jobs`}>Jobs</Link> / <span>{job.name}</span>
      </p>
      <div className="title-row">
        <h2>{job.name}</h2>
        <div className="buttons">
          {canRun(project) && (
            <button type="button" className="primary" onClick={() => void runNow()}>
              Run now
            </button>
          )}
          {canEdit(project) && (
            <button type="button" onClick={() => setEditing((e) => !e)} aria-expanded={editing}>
              Edit job
            </button>
          )}
        </div>
      </div>
      <ErrorBanner error={error} />
      <dl className="facts">
        <dt>Script</dt>
        <dd>
          <code>{job.script}</code> {job.arguments && <code>{job.arguments}</code>} ({job.kernel})
        </dd>
        <dt>Size</dt>
        <dd>
          {job.cpu} vCPU, {job.memory} GiB{job.nvidia_gpu ? `, ${job.nvidia_gpu} GPU` : ""}
          {job.timeout ? `, timeout ${formatDuration(job.timeout)}` : ""}
        </dd>
        <dt>Schedule</dt>
        <dd data-testid="schedule-description">
          {job.schedule_description}
          {job.schedule && (
            <span className="muted">
              {" "}
              (<code>{job.schedule}</code>)
            </span>
          )}
        </dd>
        {job.next_runs.length > 0 && (
          <>
            <dt>Next runs</dt>
            <dd>
              <ul className="plain">
                {job.next_runs.map((t) => (
                  <li key={t}>{formatTime(t)}</li>
                ))}
              </ul>
            </dd>
          </>
        )}
      </dl>
      {editing && (
        <JobForm
          project={project}
          job={job}
          onSaved={(j) => {
            setJob(j);
            setEditing(false);
          }}
        />
      )}
      <Routes>
        <Route index element={<Runs project={project} job={job} />} />
        <Route path="runs/:runId" element={<RunPage project={project} job={job} />} />
      </Routes>
    </>
  );
}

function Runs({ project, job }: { project: Project; job: Job }) {
  const list = usePagedList<JobRun>((p) => listPage<JobRun>(`${jobsApi(project.id)}/${job.id}/runs`, "runs", p), [project.id, job.id]);
  usePoll(list.reload, 3000, list.items.some((r) => !isTerminal(r.status)));
  return (
    <>
      <h3>Run history</h3>
      <ErrorBanner error={list.error} />
      {list.loading && !list.items.length ? (
        <Loading what="Loading runs" />
      ) : list.items.length === 0 ? (
        <Empty title="This job has not run yet.">
          <p>Start it with Run now{job.schedule ? ", or wait for its schedule" : ""}.</p>
        </Empty>
      ) : (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Status</th>
              <th scope="col">Trigger</th>
              <th scope="col">Started</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((r) => (
              <tr key={r.id}>
                <td>
                  <Link to={`/projects/${project.id}/jobs/${job.id}/runs/${r.id}`}>#{r.id}</Link>
                </td>
                <td>
                  <StatusBadge status={r.status} />
                  {r.reason && <div className="muted small-text">{r.reason}</div>}
                </td>
                <td>
                  {r.trigger} by {r.owner}
                </td>
                <td>{formatTime(r.started_at ?? r.created_at)}</td>
                <td>{formatDuration(r.duration_seconds)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager list={list} label="Runs" />
    </>
  );
}

// A run waiting for its turn has no log to follow yet: follow again once it runs, and read it
// whole once it ended.
function logPhase(status: string): string {
  return isTerminal(status) ? "ended" : status === "running" ? "running" : "waiting";
}

function RunPage({ project, job }: { project: Project; job: Job }) {
  const { runId = "" } = useParams();
  const [run, setRun] = useState<JobRun | null>(null);
  const [error, setError] = useState<unknown>(null);
  const base = `${jobsApi(project.id)}/${job.id}/runs/${runId}`;
  const load = useCallback(() => {
    api<JobRun>("GET", base).then(setRun).catch(setError);
  }, [base]);
  useEffect(load, [load]);
  const ended = run ? isTerminal(run.status) : false;
  usePoll(load, 2000, !!run && !ended);

  const stop = async () => {
    setError(null);
    try {
      setRun(await api<JobRun>("POST", `${base}:stop`));
    } catch (e) {
      setError(e);
    }
  };

  if (!run) {
    return error ? <ErrorBanner error={error} /> : <Loading what="Loading the run" />;
  }
  return (
    <section aria-label={`Run ${run.id}`}>
      <p className="crumbs">
        <Link to={`/projects/${project.id}/jobs/${job.id}`}>Run history</Link> / <span>Run #{run.id}</span>
      </p>
      <div className="title-row">
        <h3>
          Run #{run.id} <StatusBadge status={run.status} />
        </h3>
        {!ended && canRun(project) && (
          <button type="button" className="danger" onClick={() => void stop()}>
            Stop
          </button>
        )}
      </div>
      {run.reason && <p className="muted">{run.reason}</p>}
      <ErrorBanner error={error} />
      <dl className="facts">
        <dt>Started</dt>
        <dd>{formatTime(run.started_at)}</dd>
        <dt>Finished</dt>
        <dd>{formatTime(run.finished_at)}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(run.duration_seconds)}</dd>
        <dt>Exit code</dt>
        <dd>{run.exit_code ?? "—"}</dd>
      </dl>
      {/* The server sends what is there, then new output, and closes once the run is over. */}
      <LogView key={logPhase(run.status)} logsPath={`${base}/logs`} live label={`Log of run #${run.id}`} />
    </section>
  );
}
