// A build's example requests: list them, add one (with the answer given, or recorded from the
// build while it serves), and replay them against another build, answer beside answer.
import { useCallback, useEffect, useState, type FormEvent } from "react";

import {
  addExample,
  listExamples,
  replayExamples,
  type BuildExample,
  type ReplayResult,
} from "../api/governance";
import type { Deployment, ModelBuild } from "../api/types";
import { parseJsonInput, replayRows, showJson } from "../lib/governance";
import { CodeEditor } from "./CodeEditor";
import { Empty, ErrorBanner, Loading } from "./common";

export function BuildExamples({
  buildPath,
  build,
  builds,
  serving,
  editable,
  onServingStale,
}: {
  buildPath: string;
  build: ModelBuild;
  builds: ModelBuild[];
  serving: Deployment | null;
  editable: boolean;
  // Called when an answer suggests `serving` is out of date.
  onServingStale: () => void;
}) {
  const [examples, setExamples] = useState<BuildExample[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [adding, setAdding] = useState(false);

  const load = useCallback(() => {
    listExamples(buildPath)
      .then((e) => {
        setExamples(e);
        setError(null);
      })
      .catch(setError);
  }, [buildPath]);
  useEffect(load, [load]);

  const servesThis = serving?.build_id === build.id;
  return (
    <section className="card" aria-label="Examples">
      <div className="title-row">
        <h3>Example requests of build #{build.id}</h3>
        {editable && build.state === "built" && !adding && (
          <button type="button" onClick={() => setAdding(true)}>
            Add an example
          </button>
        )}
      </div>
      <p className="muted small-text">
        Requests kept with the answers this build gave. Replay them against a new build before promoting it: any answer
        that changed is shown beside the one this build gave.
      </p>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {adding && (
        <AddExample
          buildPath={buildPath}
          build={build}
          servesThis={servesThis}
          onCancel={() => setAdding(false)}
          onFailed={onServingStale}
          onAdded={() => {
            setAdding(false);
            load();
          }}
        />
      )}
      {examples === null ? (
        !error && <Loading what="Loading examples" />
      ) : examples.length === 0 ? (
        <Empty title="No examples for this build yet.">
          <p>
            {build.state !== "built"
              ? "Once the build is built, add requests with the answers it should give."
              : editable
                ? servesThis
                  ? "Add a request with Add an example: this build serves the model now, so it can answer it itself and its answer is recorded."
                  : "Add a request with the answer you expect with Add an example, or deploy this build and record its own answers."
                : "A Contributor of the project can add requests with the answers this build gives."}
          </p>
        </Empty>
      ) : (
        <>
          <table className="list compact" aria-label={`Examples of build #${build.id}`}>
            <thead>
              <tr>
                <th scope="col">Example</th>
                <th scope="col">Request</th>
                <th scope="col">Answer of build #{build.id}</th>
              </tr>
            </thead>
            <tbody>
              {examples.map((e) => (
                <tr key={e.id}>
                  <td>#{e.id}</td>
                  <td>
                    <pre className="response">{showJson(e.request)}</pre>
                  </td>
                  <td>
                    <pre className="response">{showJson(e.response)}</pre>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {editable && (
            <Replay
              buildPath={buildPath}
              build={build}
              builds={builds}
              serving={serving}
              examples={examples}
              onServingStale={onServingStale}
            />
          )}
        </>
      )}
    </section>
  );
}

function AddExample({
  buildPath,
  build,
  servesThis,
  onCancel,
  onAdded,
  onFailed,
}: {
  buildPath: string;
  build: ModelBuild;
  servesThis: boolean;
  onCancel: () => void;
  onAdded: () => void;
  onFailed: () => void;
}) {
  // Recording asks the build itself, which works only while it is the one serving: the default
  // when it does, until the user chooses.
  const [choice, setRecord] = useState<boolean | null>(null);
  const record = choice ?? servesThis;
  const [request, setRequest] = useState('{"x": 1}');
  const [response, setResponse] = useState("{}");
  const [problem, setProblem] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const req = parseJsonInput(request, "request");
    const resp = record ? { value: undefined } : parseJsonInput(response, "answer");
    const wrong = req.error ?? resp.error ?? "";
    setProblem(wrong);
    if (wrong) {
      return;
    }
    setSaving(true);
    try {
      await addExample(buildPath, req.value, record ? undefined : resp.value);
      onAdded();
    } catch (err) {
      setError(err);
      setSaving(false);
      onFailed();
    }
  };

  return (
    <form className="card" onSubmit={submit} aria-label="New example">
      <fieldset>
        <legend>The answer</legend>
        <label className="inline">
          <input type="radio" name="example-answer" checked={record} onChange={() => setRecord(true)} />
          Ask build #{build.id} for it (it must be the build the model serves)
        </label>
        <label className="inline">
          <input
            type="radio"
            name="example-answer"
            checked={!record}
            onChange={() => {
              // The answer's editor starts afresh each time it is shown.
              setResponse("{}");
              setRecord(false);
            }}
          />
          Give the answer it should return
        </label>
      </fieldset>
      {record && !servesThis && (
        <p className="notice">
          Build #{build.id} does not serve the model now: deploy it first, or give the answer yourself.
        </p>
      )}
      <div className="row">
        <div style={{ flex: "1 1 16rem" }}>
          <p>Request (JSON, what the model is called with)</p>
          <CodeEditor path="request.json" initial={'{"x": 1}'} onChange={setRequest} />
        </div>
        {!record && (
          <div style={{ flex: "1 1 16rem" }}>
            <p>Answer (JSON, what the function returns)</p>
            <CodeEditor path="answer.json" initial="{}" onChange={setResponse} />
          </div>
        )}
      </div>
      {problem && (
        <p className="error" role="alert">
          {problem}
        </p>
      )}
      <ErrorBanner error={error} />
      <div className="buttons">
        <button type="submit" className="primary" disabled={saving}>
          {saving ? (record ? "Asking the build…" : "Saving…") : record ? "Record the example" : "Save the example"}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function Replay({
  buildPath,
  build,
  builds,
  serving,
  examples,
  onServingStale,
}: {
  buildPath: string;
  build: ModelBuild;
  builds: ModelBuild[];
  serving: Deployment | null;
  examples: BuildExample[];
  onServingStale: () => void;
}) {
  const candidates = builds.filter((b) => b.state === "built" && b.id !== build.id);
  // The serving build first (replaying calls it), until the user picks another.
  const preferred = serving && serving.build_id !== build.id ? serving.build_id : candidates[0]?.id;
  const [picked, setPicked] = useState("");
  const against = picked || (preferred ? String(preferred) : "");
  const [running, setRunning] = useState(false);
  const [elapsed, setElapsed] = useState(0);
  const [result, setResult] = useState<ReplayResult | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (!running) {
      return;
    }
    const started = Date.now();
    const id = window.setInterval(() => setElapsed(Math.round((Date.now() - started) / 1000)), 500);
    return () => window.clearInterval(id);
  }, [running]);

  if (candidates.length === 0) {
    return (
      <p className="muted">
        To replay these examples, build the model again (a new version), deploy that build, and replay them against it
        here.
      </p>
    );
  }

  const replay = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setResult(null);
    setElapsed(0);
    setRunning(true);
    try {
      setResult(await replayExamples(buildPath, Number(against)));
    } catch (err) {
      setError(err);
      // The model may serve another build than this page knew: look again.
      onServingStale();
    } finally {
      setRunning(false);
    }
  };

  const target = Number(against);
  const rows = result ? replayRows(examples, result.changed, result.examples) : [];
  return (
    <section aria-label="Replay">
      <form className="row" onSubmit={replay} aria-label="Replay the examples">
        <label>
          Replay against
          <select value={against} onChange={(e) => setPicked(e.target.value)} disabled={running}>
            {candidates.map((b) => (
              <option key={b.id} value={b.id}>
                v{b.version} (build #{b.id}){serving?.build_id === b.id ? " — serving" : ""}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary" disabled={running || !against}>
          Replay {examples.length} example{examples.length === 1 ? "" : "s"}
        </button>
      </form>
      {serving?.build_id !== target && (
        <p className="muted small-text">
          {serving
            ? `The model serves build #${serving.build_id} now.`
            : "The model has no running deployment now."}{" "}
          Replaying calls the build it replays against, so deploy build #{target} first.
        </p>
      )}
      {running && (
        <p role="status">
          <progress aria-label="Replay in progress" /> Replaying {examples.length} example
          {examples.length === 1 ? "" : "s"} against build #{target}… {elapsed > 0 ? `${elapsed} s` : ""}
        </p>
      )}
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {result && (
        <>
          <p role="status" data-testid="replay-summary">
            Against build #{result.against_build_id}: <strong>{result.same} same</strong>,{" "}
            <strong>{result.changed.length} changed</strong> of {result.examples}.
          </p>
          <table className="list compact" aria-label="Replay results">
            <thead>
              <tr>
                <th scope="col">Example</th>
                <th scope="col">Build #{result.build_id} answered</th>
                <th scope="col">Build #{result.against_build_id} answers</th>
                <th scope="col">Request</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.exampleId} data-testid={`replay-${r.exampleId}`}>
                  <td>
                    #{r.exampleId}{" "}
                    {r.changed ? <span className="badge badge-bad">changed</span> : <span className="badge badge-ok">same</span>}
                  </td>
                  <td>
                    <pre className="response">{showJson(r.expected)}</pre>
                  </td>
                  <td>
                    <pre className="response">{r.changed ? showJson(r.actual) : "the same"}</pre>
                  </td>
                  <td>
                    <pre className="response">{showJson(r.request)}</pre>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
