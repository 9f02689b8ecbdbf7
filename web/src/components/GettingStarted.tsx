// The project's guide from an empty project to a monitored model endpoint: the steps, which are
// done, and what to do next, until the project's model has answered a request (or it is hidden).
import { useCallback, useEffect, useState } from "react";
import { Link, useLocation } from "react-router-dom";

import { listPage } from "../api/client";
import type { Deployment, FileEntry, Model, ModelBuild, Project } from "../api/types";
import { followedModel, gettingStarted, type ProjectFacts } from "../lib/gettingStarted";
import { usePoll } from "./common";

function hiddenKey(projectId: number) {
  return `lathe.gettingStarted.hidden.${projectId}`;
}

async function readFacts(projectId: number): Promise<ProjectFacts> {
  const base = `/api/v2/projects/${projectId}`;
  const [files, models] = await Promise.all([
    listPage<FileEntry>(`${base}/files`, "files", { pageSize: 200 }),
    listPage<Model>(`${base}/models`, "models", { pageSize: 100 }),
  ]);
  const facts: ProjectFacts = {
    hasPythonFile: files.items.some((f) => f.type === "file" && f.name.endsWith(".py")),
    model: null,
    hasBuild: false,
    buildRunning: false,
    buildFailed: false,
    deployed: false,
    requests: 0,
  };
  const m = followedModel(models.items);
  if (!m) {
    return facts;
  }
  facts.model = { id: m.id, name: m.name };
  const [builds, deployments] = await Promise.all([
    listPage<ModelBuild>(`${base}/models/${m.id}/builds`, "builds", { pageSize: 20 }),
    m.deployment_id !== null
      ? listPage<Deployment>(`${base}/models/${m.id}/deployments`, "deployments", { pageSize: 20 })
      : Promise.resolve({ items: [] as Deployment[], nextPageToken: "" }),
  ]);
  facts.hasBuild = builds.items.some((b) => b.state === "built");
  facts.buildRunning = builds.items.some((b) => b.state === "queued" || b.state === "building");
  facts.buildFailed = !facts.hasBuild && builds.items.length > 0 && builds.items.every((b) => b.state === "failed");
  const serving = deployments.items.find((d) => d.id === m.deployment_id);
  facts.deployed = serving?.state === "deployed";
  facts.requests = serving?.stats?.requests ?? 0;
  return facts;
}

export function GettingStarted({ project }: { project: Project }) {
  const canWrite = project.my_role === "Contributor" || project.my_role === "Admin";
  const [hidden, setHidden] = useState(() => {
    try {
      return window.localStorage.getItem(hiddenKey(project.id)) === "1";
    } catch {
      return false;
    }
  });
  const [facts, setFacts] = useState<ProjectFacts | null>(null);
  const location = useLocation();
  const active = canWrite && !hidden;

  const load = useCallback(() => {
    readFacts(project.id)
      .then(setFacts)
      // The guide is a help, not a page: if it cannot be read, it is simply not shown.
      .catch(() => setFacts(null));
  }, [project.id]);
  // Read again as the user moves through the project, and while something runs on the server.
  useEffect(() => {
    if (active) {
      load();
    }
  }, [active, load, location.pathname]);
  const guide = facts ? gettingStarted(`/projects/${project.id}`, facts) : null;
  // Files uploaded, builds finishing, replicas coming up: each moves the guide on without a click.
  usePoll(load, 3000, active && !!guide && guide.current !== null);

  if (!active || !guide) {
    return null;
  }
  const hide = () => {
    try {
      window.localStorage.setItem(hiddenKey(project.id), "1");
    } catch {
      // private mode: hidden for this page only
    }
    setHidden(true);
  };
  const watch = guide.steps.find((s) => s.key === "watch")!;
  if (guide.current === null) {
    // Every step done: say so once, with where to go on, until the user hides it.
    return (
      <section className="getting-started" aria-labelledby="getting-started-title">
        <div className="title-row">
          <h2 id="getting-started-title">Your model endpoint is up</h2>
          <button type="button" className="link small-text" onClick={hide}>
            Hide this guide
          </button>
        </div>
        <p className="step-hint">
          {facts?.model?.name} is serving and has answered {facts?.requests} request{facts?.requests === 1 ? "" : "s"}.{" "}
          <Link to={watch.to}>Watch it</Link>: requests, errors, latency and the metrics it tracks over time; then
          compare its inputs with your training data under Drift, record ground truth for its accuracy, and let
          Monitors alert you.
        </p>
      </section>
    );
  }
  const current = guide.steps.find((s) => s.key === guide.current)!;
  return (
    <section className="getting-started" aria-labelledby="getting-started-title">
      <div className="title-row">
        <h2 id="getting-started-title">From your code to a monitored endpoint</h2>
        <button type="button" className="link small-text" onClick={hide}>
          Hide this guide
        </button>
      </div>
      <ol className="steps">
        {guide.steps.map((s, i) => {
          const isCurrent = s.key === guide.current;
          return (
            <li key={s.key} className={s.done ? "done" : isCurrent ? "current" : undefined} aria-current={isCurrent ? "step" : undefined}>
              <span className="step-mark" aria-hidden="true">
                {s.done ? "✓" : i + 1}
              </span>
              {isCurrent ? <Link to={s.to}>{s.label}</Link> : <span>{s.label}</span>}
              {s.done && <span className="visually-hidden"> (done)</span>}
            </li>
          );
        })}
      </ol>
      <p className="step-hint">
        <strong>Next:</strong> {current.hint}
      </p>
    </section>
  );
}
