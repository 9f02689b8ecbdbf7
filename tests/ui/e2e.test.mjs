// End-to-end tests of the web UI: a real `lathe server` (port 0, temp data dir) serving the built
// UI, driven by Debian's Chromium through playwright-core. Screenshots of each main page go to
// $LATHE_UI_ARTIFACTS (default: build/ui-artifacts); axe-core checks them for critical problems.
//
// Run: node --test tests/ui/   (after `make build`; LATHE_BIN and LATHE_UI_DIR override paths)
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";

import { ARTIFACTS, UiHarness } from "./harness.mjs";

// This suite runs first and starts the artifacts folder afresh.
const ui = new UiHarness({ cleanArtifacts: true });
const ADMIN_PASSWORD = ui.adminPassword;
let baseUrl;
let page;

const shot = (name) => ui.shot(name);
const checkA11y = (name) => ui.checkA11y(name);
// An API call as the signed-in browser user: {status, text}.
const apiAsUser = async (method, path, body) => {
  const r = await ui.apiAsUser(method, path, body);
  return { status: r.status, text: r.text };
};

describe("web UI", { timeout: 300_000 }, () => {
  before(async () => {
    await ui.start();
    baseUrl = ui.baseUrl;
    page = ui.page;
  });

  after(async () => {
    // The server's own output, for whoever reads a failure (a crash shows here).
    writeFileSync(
      join(ARTIFACTS, "server.log"),
      ui.serverLines.join("\n") + `\nexit: ${ui.server?.exitCode} ${ui.server?.signalCode ?? ""}\n`,
    );
    await ui.stop();
  });

  // A failed test leaves its page (and the server's output) behind.
  afterEach(async (t) => ui.shotOnFailure(t));

  it("serves the UI with the right cache headers and leaves the API's paths alone", async () => {
    const index = await fetch(`${baseUrl}/projects/1/jobs`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get("content-type"), /text\/html/);
    assert.equal(index.headers.get("cache-control"), "no-cache");
    const html = await index.text();
    const asset = /\/assets\/[^"]+\.js/.exec(html)[0];
    const js = await fetch(baseUrl + asset);
    assert.equal(js.status, 200);
    assert.match(js.headers.get("cache-control"), /max-age=31536000, immutable/);
    assert.match(js.headers.get("content-type"), /javascript/);
    const missing = await fetch(`${baseUrl}/assets/nope-123.js`);
    assert.equal(missing.status, 404);
    const api = await fetch(`${baseUrl}/api/v2/nope`);
    assert.equal(api.status, 404);
    assert.equal((await api.json()).error.code, "not_found");
    const wrongMethod = await fetch(`${baseUrl}/model`);
    assert.equal(wrongMethod.status, 405);
    const escape = await fetch(`${baseUrl}/%2e%2e/%2e%2e/etc/passwd`);
    assert.ok(!(await escape.text()).includes("root:"), "a path out of the UI's folder was served");
  });

  it("signs in, and says what is wrong with a bad password", async () => {
    await page.goto(`${baseUrl}/`);
    await page.getByRole("heading", { name: "Sign in to Lathe" }).waitFor();
    await checkA11y("sign-in");
    await shot("01-sign-in");
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill("wrong-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").waitFor();
    assert.match(await page.getByRole("alert").innerText(), /password|username/i);
    await page.getByLabel("Password").fill(ADMIN_PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Projects" }).waitFor();
    await page.getByText("You have no projects yet.").waitFor();
    await checkA11y("projects (empty)");
  });

  it("creates a project", async () => {
    await page.getByRole("button", { name: "New project" }).click();
    await page.getByLabel("Name").fill("demo");
    await page.getByLabel("Description").fill("A first project");
    await page.getByRole("button", { name: "Create project" }).click();
    await page.getByRole("heading", { name: "demo" }).waitFor();
    await page.getByText("This project has no files yet.").waitFor();
    await page.getByRole("link", { name: "Projects" }).first().click();
    await page.getByRole("link", { name: "demo" }).waitFor();
    await page.getByLabel("Search projects").fill("nomatch");
    await page.getByText("No project's name contains").waitFor();
    await page.getByLabel("Search projects").fill("dem");
    await page.getByRole("link", { name: "demo" }).waitFor();
    await shot("02-projects");
    await page.getByRole("link", { name: "demo" }).click();
  });

  it("uploads files, edits one in the editor, and downloads it", async () => {
    await page.getByTestId("upload").setInputFiles([
      { name: "hello.py", mimeType: "text/x-python", buffer: Buffer.from('import time\nprint("hello from the job", flush=True)\ntime.sleep(2)\nprint("done")\n') },
      {
        name: "predict.py",
        mimeType: "text/x-python",
        buffer: Buffer.from(
          'import cdsw\n\n@cdsw.model_metrics\ndef predict(args):\n    x = float(args.get("x", 0))\n    cdsw.track_metric("score", x * 2)\n    return {"double": x * 2}\n',
        ),
      },
    ]);
    await page.getByText("uploaded").first().waitFor();
    await page.getByRole("link", { name: "hello.py", exact: true }).waitFor();
    await page.getByRole("link", { name: "predict.py", exact: true }).waitFor();
    await checkA11y("files");
    await shot("03-files");
    // Edit hello.py in CodeMirror and save it.
    await page.getByRole("link", { name: "hello.py", exact: true }).click();
    const editor = page.locator(".cm-content");
    await editor.waitFor();
    await editor.click();
    await page.keyboard.press("Control+End");
    await page.keyboard.type('print("edited in the browser")');
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByRole("button", { name: "Saved" }).waitFor();
    await shot("04-editor");
    const saved = await apiAsUser("GET", "/api/v2/projects/1/files/hello.py:download");
    assert.match(saved.text, /edited in the browser/);
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download" }).click()]);
    assert.equal(download.suggestedFilename(), "hello.py");
  });

  it("creates a job with a schedule, runs it and follows its live log", async () => {
    await page.goto(`${baseUrl}/projects/1/jobs`);
    await page.getByText("No jobs yet.").waitFor();
    await page.getByRole("link", { name: "New job" }).click();
    await page.getByLabel("Name").fill("hello");
    await page.getByLabel("Script").fill("hello.py");
    await page.getByLabel("Recurring").check();
    await page.getByLabel("Repeat").selectOption("daily");
    await page.getByLabel("At", { exact: true }).fill("02:30");
    await checkA11y("new job");
    await page.getByRole("button", { name: "Create job" }).click();
    // The server's words for the schedule, and its next run times.
    await page.getByTestId("schedule-description").getByText("every day at 02:30 UTC").waitFor();
    await page.getByText("Next runs").waitFor();
    await page.getByRole("button", { name: "Run now" }).click();
    await page.getByRole("heading", { name: /Run #1/ }).waitFor();
    const log = page.getByTestId("log");
    await log.getByText("hello from the job").waitFor();
    await shot("05-job-run-live");
    await page.getByRole("heading", { name: /Run #1/ }).getByText("succeeded").waitFor({ timeout: 60_000 });
    await log.getByText("edited in the browser").waitFor();
    await page.getByRole("link", { name: "Run history" }).click();
    await page.getByRole("link", { name: "#1" }).waitFor();
    await page.getByLabel("Project").getByRole("link", { name: "Jobs" }).click();
    await page.getByRole("row", { name: /hello/ }).getByText("succeeded").waitFor();
    await checkA11y("jobs");
    await shot("06-jobs");
    // Edit it: every field of the form is saved, the schedule back to manual.
    await page.getByRole("link", { name: "hello", exact: true }).click();
    await page.getByRole("button", { name: "Edit job" }).click();
    await page.getByLabel("Arguments").fill("--greeting hi");
    await page.getByLabel("Manual (run it yourself)").check();
    await page.getByRole("button", { name: "Save job" }).click();
    await page.getByTestId("schedule-description").getByText("manual").waitFor();
    await page.getByText("--greeting hi").waitFor();
  });

  it("stops a running job", async () => {
    await apiAsUser("PUT", "/api/v2/projects/1/files/sleep.py", "import time\nprint('sleeping', flush=True)\ntime.sleep(120)\n");
    const created = await apiAsUser("POST", "/api/v2/projects/1/jobs", { name: "sleeper", script: "sleep.py" });
    assert.equal(created.status, 201, created.text);
    await page.goto(`${baseUrl}/projects/1/jobs`);
    await page.getByRole("button", { name: "Run now sleeper" }).click();
    await page.getByTestId("log").getByText("sleeping").waitFor({ timeout: 60_000 });
    await page.getByRole("button", { name: "Stop" }).click();
    await page.getByRole("heading", { name: /Run #/ }).getByText("stopped").waitFor({ timeout: 60_000 });
  });

  it("builds, deploys and calls a model from the test panel, and charts its metric", async () => {
    await page.goto(`${baseUrl}/projects/1/models`);
    await page.getByText("No models yet.").waitFor();
    await page.getByRole("button", { name: "New model" }).click();
    await page.getByLabel("Name").fill("doubler");
    await page.getByLabel("Callers must send an API key").uncheck();
    await page.getByRole("button", { name: "Create model" }).click();
    await page.getByRole("button", { name: "Build", exact: true }).click();
    await page.getByTestId("log").getByText("build succeeded").waitFor({ timeout: 90_000 });
    await page.getByRole("row", { name: /Build #1/ }).getByText("built").waitFor();
    await shot("07-model-build");
    await page.getByRole("link", { name: "Deploy…" }).click();
    await page.getByLabel("Replicas").fill("1");
    await page.getByLabel("vCPU per replica").fill("0.5");
    await page.getByLabel("Memory per replica (GiB)").fill("0.5");
    await page.getByRole("button", { name: "Deploy", exact: true }).click();
    await page.getByRole("article", { name: "Deployment 1" }).getByText("deployed", { exact: true }).waitFor({ timeout: 90_000 });
    await page.getByText("1 of 1 replicas ready").waitFor();
    await page.getByRole("button", { name: /^Log of d1-r/ }).click();
    await page.getByTestId("log").getByText("model ready", { exact: false }).waitFor();
    await checkA11y("deployments");
    await shot("08-model-deployments");
    await page.getByRole("link", { name: "Test" }).click();
    await page.getByLabel("Request (JSON").fill('{"x": 21}');
    await page.getByRole("button", { name: "Send request" }).click();
    const response = page.getByTestId("model-response");
    await response.getByText('"double": 42').waitFor();
    assert.match(await page.getByRole("heading", { name: /Response: HTTP 200/ }).innerText(), /200/);
    assert.match(await page.locator("pre", { hasText: "curl -s" }).innerText(), /"accessKey": "m/);
    await checkA11y("model test panel");
    await shot("09-model-test");
    for (const x of [1, 2, 3]) {
      await page.getByLabel("Request (JSON").fill(`{"x": ${x}}`);
      await page.getByRole("button", { name: "Send request" }).click();
      await response.getByText(`"double": ${x * 2}`).waitFor();
    }
    // Accuracy over time: two aggregates (ROC AUC over two windows), as an accuracy job records them.
    const dep = await apiAsUser("GET", "/api/v2/projects/1/models/1/builds/1/deployments/1");
    assert.equal(dep.status, 200, dep.text);
    const crn = JSON.parse(dep.text).crn;
    const now = Date.now();
    for (const [start, end, auc] of [
      [now - 20 * 60_000, now - 10 * 60_000, 0.83],
      [now - 10 * 60_000, now - 60_000, 0.71],
    ]) {
      const posted = await apiAsUser("POST", "/api/v2/metrics/aggregates", {
        modelDeploymentCrn: crn,
        startTimeStampMs: start,
        endTimeStampMs: end,
        metrics: { roc_auc: auc },
      });
      assert.equal(posted.status, 201, posted.text);
    }
    await page.getByRole("link", { name: "Monitoring" }).click();
    await page.getByTestId("stat-requests").getByText("4").waitFor();
    // The serving history counts the four calls at once (the current minute is read from memory).
    await page.locator('[data-testid="serving-totals"][data-requests="4"]').waitFor();
    assert.match(await page.getByTestId("serving-totals").innerText(), /4 requests, 0 errors/);
    await page.getByRole("img", { name: "Requests, errors and rejections per minute" }).waitFor();
    await page.getByRole("img", { name: "Latency percentiles (ms) per minute" }).waitFor();
    await page.locator(".u-legend").getByText("requests per minute").waitFor();
    // The accuracy chart: both aggregates, the latest value in words.
    await page.locator('[data-testid="accuracy-summary"][data-aggregates="2"]').waitFor();
    assert.match(await page.getByTestId("accuracy-summary").innerText(), /roc_auc 0\.710/);
    await page.getByRole("img", { name: "roc_auc over time" }).waitFor();
    // Rollups lag predictions by up to metrics_rollup_seconds (10 s); the tab polls every 10 s.
    await page.getByRole("img", { name: "score over time" }).waitFor({ timeout: 60_000 });
    await page.locator(".u-legend").getByText("score (mean)").waitFor();
    // Drift against a training file in the project: far from the calls' scores (2 to 42).
    const csv = "score\n" + Array.from({ length: 50 }, (_, i) => String(1000 + i)).join("\n") + "\n";
    assert.equal((await apiAsUser("PUT", "/api/v2/projects/1/files/train.csv", csv)).status, 201);
    await page.getByLabel("Compare it with a data file").check();
    await page.getByLabel("Reference file").fill("train.csv");
    await page.getByRole("button", { name: "Compute drift" }).click();
    await page.getByRole("table", { name: "Drift per feature" }).getByText("drifted", { exact: true }).waitFor();
    // A monitor on the score's mean (21 on average) over 10 opens an alert when evaluated.
    await page.getByLabel("Monitor name").fill("score high");
    await page.getByLabel("Metric", { exact: true }).fill("score");
    await page.getByLabel("Threshold").fill("10");
    await page.getByRole("button", { name: "Create monitor" }).click();
    await page.getByRole("button", { name: "Evaluate now score high" }).click();
    await page.getByRole("table", { name: "Monitors" }).getByText("breached").waitFor();
    await page.getByRole("table", { name: "Alerts" }).getByText("monitor 'score high'", { exact: false }).waitFor();
    // A drift monitor of the same feature against the training file breaches as well.
    await page.getByLabel("Monitor name").fill("score drift");
    await page.getByLabel("Watch").selectOption("drift");
    await page.getByLabel("Feature", { exact: true }).fill("score");
    await page.getByLabel(/^Compared with/).fill("train.csv");
    await page.getByLabel("Threshold").fill("0.2");
    await page.getByRole("button", { name: "Create monitor" }).click();
    await page.getByRole("button", { name: "Evaluate now score drift" }).click();
    await page.getByRole("table", { name: "Alerts" }).getByText("monitor 'score drift'", { exact: false }).waitFor();
    await checkA11y("monitoring");
    await shot("10-model-monitoring");
  });

  it("rebuilds a build, shows that it reproduces, and names the champion", async () => {
    await page.goto(`${baseUrl}/projects/1/models/1/builds`);
    await page.getByRole("button", { name: "Rebuild and verify build #1" }).click();
    const verification = page.getByRole("region", { name: "Verification" });
    await verification.getByText("reproduced", { exact: true }).waitFor({ timeout: 90_000 });
    await verification.getByText("Stored files: intact").waitFor();
    assert.equal(await page.getByText(/is running; its comparison follows/).count(), 0);
    const aliases = page.getByRole("region", { name: "Aliases" });
    await aliases.getByRole("textbox", { name: "Alias" }).fill("champion");
    await aliases.getByRole("combobox", { name: "Build" }).selectOption({ label: "v1 (build #1)" });
    await aliases.getByRole("button", { name: "Set alias" }).click();
    await aliases.getByText(/→ v1 \(build #1\)/).waitFor();
    await checkA11y("rebuild and aliases");
    await shot("11-model-rebuild");
  });

  it("creates and revokes a model API key", async () => {
    await page.goto(`${baseUrl}/projects/1/models/1/test`);
    const keys = page.getByRole("region", { name: "Model API keys" });
    await keys.getByRole("textbox", { name: "Key name" }).fill("partner team");
    await keys.getByRole("button", { name: "Create key" }).click();
    const key = await keys.getByTestId("new-model-key").innerText();
    assert.match(key, /^lathe_/);
    const table = keys.getByRole("table", { name: "Your keys for this model" });
    await table.getByRole("cell", { name: "partner team", exact: true }).waitFor();
    // The key calls the model, and nothing else.
    assert.equal((await fetch(`${baseUrl}/api/v2/projects`, { headers: { Authorization: `Bearer ${key}` } })).status, 403);
    await checkA11y("model keys");
    page.once("dialog", (d) => void d.accept());
    await table.getByRole("button", { name: "Revoke partner team" }).click();
    await keys.getByText("You have no keys for this model.").waitFor();
  });

  it("finds the model in the catalog and walks its lineage graph", async () => {
    await page.goto(`${baseUrl}/catalog`);
    const row = page.getByRole("row", { name: /doubler/ });
    await row.getByText("v2 (2 in all)").waitFor();
    await row.getByText("→ v1").waitFor();
    await row.getByText("deployed", { exact: true }).waitFor();
    await checkA11y("catalog");
    await shot("11-catalog");
    await row.getByRole("link", { name: "Lineage of doubler" }).click();
    const graph = page.getByTestId("lineage-graph");
    await graph.waitFor();
    // Upstream of the deployment, three levels: the deploy, the build and the build's process.
    await page.waitForFunction(() => Number(document.querySelector("[data-testid=lineage-graph]")?.dataset.nodes) >= 4);
    await page.getByText(/The graph as a list/).click();
    const list = page.locator("details table");
    await list.getByRole("cell", { name: "Deployment", exact: true }).waitFor();
    assert.equal(await list.getByRole("cell", { name: "doubler", exact: true }).count(), 0);
    // Expanding the build's process brings in the model it was built from.
    await list.getByRole("row", { name: /Build model build 1/ }).getByRole("button", { name: /Expand/ }).click();
    await list.getByRole("cell", { name: "doubler", exact: true }).waitFor();
    assert.ok(Number(await graph.getAttribute("data-nodes")) >= 6);
    await shot("12-lineage-graph");
    // Hiding a kind takes its nodes out of the graph and the list.
    await page.getByLabel(/^File snapshot/).uncheck();
    assert.equal(await list.getByRole("cell", { name: "File snapshot", exact: true }).count(), 0);
    // Search, then center on what was found.
    await page.getByLabel("Name").fill("doubler");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("list", { name: "Entities found" }).getByRole("button", { name: "doubler" }).click();
    await page.getByRole("complementary", { name: "Node details" }).getByRole("heading", { name: "doubler" }).waitFor();
    await checkA11y("lineage");
    await shot("13-lineage-search");
  });

  it("creates and revokes an API key", async () => {
    await page.getByRole("link", { name: "API keys" }).click();
    await page.getByText("You have no API keys.").waitFor();
    await page.getByLabel("Name").fill("laptop");
    await page.getByRole("button", { name: "Create key" }).click();
    const key = await page.getByTestId("new-key").innerText();
    assert.match(key, /^lathe_/);
    const check = await fetch(`${baseUrl}/api/v2/auth/session`, { headers: { Authorization: `Bearer ${key}` } });
    assert.equal(check.status, 200);
    await checkA11y("api keys");
    await shot("11-api-keys");
    page.once("dialog", (d) => d.accept());
    await page.getByRole("button", { name: "Revoke laptop" }).click();
    await page.getByText("You have no API keys.").waitFor();
  });

  it("lets the admin add a user, set a quota and read the audit log", async () => {
    await page.getByRole("link", { name: "Admin", exact: true }).click();
    await page.getByRole("button", { name: "New user" }).click();
    await page.getByLabel("Username").fill("bob");
    await page.getByLabel("Password").fill("bob-password-1234");
    await page.getByRole("button", { name: "Create user" }).click();
    await page.getByRole("cell", { name: "bob", exact: true }).waitFor();
    // A password reset gives bob a new password, shown once, that signs him in.
    page.once("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: "Reset password of bob" }).click();
    const fresh = await page.getByTestId("reset-password").innerText();
    const login = await fetch(`${baseUrl}/api/v2/auth/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: "bob", password: fresh }),
    });
    assert.equal(login.status, 200, await login.text());
    await checkA11y("admin users");
    await shot("12-admin-users");
    await page.getByRole("link", { name: "Quotas" }).click();
    await page.getByText("vCPU in use").waitFor();
    await page.getByLabel("Username").fill("bob");
    await page.getByLabel("vCPU").fill("3");
    await page.getByLabel("Memory (GiB)").fill("6");
    await page.getByRole("button", { name: "Save quota" }).click();
    await page.getByRole("row", { name: /user bob/ }).getByRole("cell", { name: "3", exact: true }).waitFor();
    const quotas = JSON.parse((await apiAsUser("GET", "/api/v2/quotas")).text);
    assert.deepEqual(
      quotas.quotas.filter((q) => q.subject === "bob").map((q) => [q.cpu, q.memory]),
      [[3, 6]],
    );
    await checkA11y("admin quotas");
    await shot("13-admin-quotas");
    await page.getByRole("link", { name: "Audit log" }).click();
    await page.getByRole("cell", { name: "PUT /api/v2/quotas/{subject_type}/{subject}" }).waitFor();
    await shot("14-admin-audit");
    await page.getByRole("link", { name: "Runtimes and profiles" }).click();
    await page.getByRole("cell", { name: "python3", exact: true }).waitFor();
    await checkA11y("admin runtimes");
  });

  it("shares the project with a collaborator and keeps a hidden variable hidden", async () => {
    await page.goto(`${baseUrl}/projects/1/settings`);
    await page.getByRole("form", { name: "Add a collaborator" }).getByLabel("Username").fill("bob");
    await page.getByRole("form", { name: "Add a collaborator" }).getByLabel("Role").selectOption("Viewer");
    await page.getByRole("button", { name: "Add", exact: true }).click();
    await page.getByLabel("Role of bob").waitFor();
    await page.getByLabel("Name", { exact: true }).fill("DB_PASSWORD");
    await page.getByLabel("Value").fill("s3cret-value");
    await page.getByLabel("Hidden").check();
    await page.getByRole("button", { name: "Set variable" }).click();
    await page.getByText("(hidden)").waitFor();
    assert.ok(!(await page.content()).includes("s3cret-value"), "a hidden value is shown");
    await checkA11y("project settings");
    await shot("15-project-settings");
  });

  it("creates a team and adds a member", async () => {
    await page.getByRole("link", { name: "Teams" }).click();
    await page.getByText("No teams yet.").waitFor();
    await page.getByLabel("Team name").fill("data");
    await page.getByRole("button", { name: "Create team" }).click();
    await page.getByRole("form", { name: "Add a member to data" }).getByLabel("Username").fill("bob");
    await page.getByRole("button", { name: "Add member" }).click();
    await page.getByLabel("Role of bob in data").waitFor();
    await checkA11y("teams");
    await shot("16-teams");
    // A team made by mistake goes again.
    await page.getByLabel("Team name").fill("oops");
    await page.getByRole("button", { name: "Create team" }).click();
    await page.getByRole("article", { name: "Team oops" }).waitFor();
    page.once("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: "Delete the team oops" }).click();
    await page.getByRole("article", { name: "Team oops" }).waitFor({ state: "detached" });
    await page.getByRole("article", { name: "Team data" }).waitFor();
  });

  it("changes my display name", async () => {
    await page.getByRole("link", { name: /My settings/ }).click();
    await page.getByLabel("Display name").fill("Ada Admin");
    await page.getByRole("button", { name: "Save profile" }).click();
    await page.getByRole("link", { name: /Ada Admin/ }).waitFor();
    await checkA11y("my settings");
  });

  it("renames a project, changes its visibility and deletes it", async () => {
    const made = await apiAsUser("POST", "/api/v2/projects", { name: "scratch" });
    assert.equal(made.status, 201, made.text);
    const id = JSON.parse(made.text).id;
    await page.goto(`${baseUrl}/projects/${id}/settings`);
    const about = page.getByRole("region", { name: "About this project" });
    await about.getByRole("textbox", { name: "Project name" }).fill("scratch-renamed");
    await about.getByRole("combobox", { name: "Visibility" }).selectOption("public");
    await about.getByRole("button", { name: "Save" }).click();
    await about.getByText("Saved.", { exact: false }).waitFor();
    const after = JSON.parse((await apiAsUser("GET", `/api/v2/projects/${id}`)).text);
    assert.equal(after.name, "scratch-renamed");
    assert.equal(after.visibility, "public");
    await checkA11y("project settings");
    // The project's name typed at the prompt confirms the deletion.
    await page.reload();
    page.once("dialog", (d) => void d.accept("scratch-renamed"));
    await page.getByRole("button", { name: "Delete this project…" }).click();
    await page.waitForURL(`${baseUrl}/projects`);
    assert.equal((await apiAsUser("GET", `/api/v2/projects/${id}`)).status, 404);
  });

  it("works in a narrow window", async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(`${baseUrl}/projects`);
    await page.getByRole("link", { name: "demo" }).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the page is ${overflow}px wider than a 390px window`);
    await shot("17-narrow");
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it("signs out", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in to Lathe" }).waitFor();
    const s = await page.evaluate(async () => (await fetch("/api/v2/auth/session")).status);
    assert.equal(s, 401);
    // A page of the UI asked for while signed out comes back after signing in.
    await page.goto(`${baseUrl}/projects/1/jobs`);
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill(ADMIN_PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Jobs" }).waitFor();
    assert.match(page.url(), /\/projects\/1\/jobs$/);
  });
});
