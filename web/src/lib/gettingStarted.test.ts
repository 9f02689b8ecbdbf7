import { describe, expect, it } from "vitest";

import { followedModel, gettingStarted, type ProjectFacts } from "./gettingStarted";

const empty: ProjectFacts = {
  hasPythonFile: false,
  model: null,
  hasBuild: false,
  buildRunning: false,
  buildFailed: false,
  deployed: false,
  requests: 0,
};

describe("gettingStarted", () => {
  it("starts an empty project with its code", () => {
    const g = gettingStarted("/projects/3", empty);
    expect(g.current).toBe("code");
    expect(g.steps.map((s) => s.key)).toEqual(["code", "model", "build", "deploy", "call", "watch"]);
    expect(g.steps[0].to).toBe("/projects/3/files");
    // Without a model, the model steps point at the models list.
    expect(g.steps[2].to).toBe("/projects/3/models/builds");
  });

  it("moves on as the project grows, with links to the followed model", () => {
    const withCode = { ...empty, hasPythonFile: true };
    expect(gettingStarted("/projects/3", withCode).current).toBe("model");
    const withModel = { ...withCode, model: { id: 7, name: "churn" } };
    const g = gettingStarted("/projects/3", withModel);
    expect(g.current).toBe("build");
    expect(g.steps.find((s) => s.key === "build")?.to).toBe("/projects/3/models/7/builds");
    expect(g.steps.find((s) => s.key === "watch")?.to).toBe("/projects/3/models/7/monitoring");
    expect(gettingStarted("/projects/3", { ...withModel, hasBuild: true }).current).toBe("deploy");
    expect(gettingStarted("/projects/3", { ...withModel, hasBuild: true, deployed: true }).current).toBe("call");
  });

  it("says what a running or failed build means", () => {
    const withModel = { ...empty, hasPythonFile: true, model: { id: 7, name: "churn" } };
    const running = gettingStarted("", { ...withModel, buildRunning: true }).steps[2].hint;
    expect(running).toMatch(/running/);
    const failed = gettingStarted("", { ...withModel, buildFailed: true }).steps[2].hint;
    expect(failed).toMatch(/failed.*reason/);
  });

  it("ends once the deployed model has answered a request", () => {
    const done = { hasPythonFile: true, model: { id: 1, name: "m" }, hasBuild: true, buildRunning: false, buildFailed: false, deployed: true, requests: 3 };
    expect(gettingStarted("", done).current).toBeNull();
    // A stopped deployment's old requests don't count.
    expect(gettingStarted("", { ...done, deployed: false }).current).toBe("deploy");
  });

  it("takes a model made outside the guide's order", () => {
    // A model created before any Python file: the code step is still the one to do.
    expect(gettingStarted("", { ...empty, model: { id: 1, name: "m" } }).current).toBe("code");
    // Code in a sub-folder (not seen at the root) that a build used is code added.
    const built = gettingStarted("", { ...empty, model: { id: 1, name: "m" }, hasBuild: true });
    expect(built.steps[0].done).toBe(true);
    expect(built.current).toBe("deploy");
  });
});

describe("followedModel", () => {
  const m = (id: number, created_at: string, deployment_id: number | null = null) => ({ id, created_at, deployment_id });
  it("follows the serving model, else the newest", () => {
    expect(followedModel([])).toBeNull();
    expect(followedModel([m(1, "2026-01-01T00:00:00Z"), m(2, "2026-01-02T00:00:00Z")])?.id).toBe(2);
    expect(followedModel([m(1, "2026-01-01T00:00:00Z", 4), m(2, "2026-01-02T00:00:00Z")])?.id).toBe(1);
    expect(followedModel([m(1, "2026-01-01T00:00:00Z"), m(2, "2026-01-01T00:00:00Z")])?.id).toBe(2);
  });
});
