// End-to-end tests of the UI's admin resource profiles and a model build's governance panel
// (example requests, their replay against another build, lineage.yaml problems), in Chromium
// against a real `lathe server` (see harness.mjs).
//
// Run: node --test tests/ui/governance.test.mjs   (LATHE_BIN and LATHE_UI_DIR override paths)
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";

import { UiHarness, waitUntil } from "./harness.mjs";

const h = new UiHarness();

// Replaces the text of the CodeMirror editor labelled `label` inside `scope`.
async function fillEditor(scope, label, text) {
  const editor = scope.getByRole("textbox", { name: label });
  await editor.click();
  await h.page.keyboard.press("Control+A");
  // insertText: no key events, so the editor does not auto-close brackets and quotes.
  await h.page.keyboard.insertText(text);
}

describe("governance and admin UI", { timeout: 600_000 }, () => {
  before(async () => {
    await h.start();
    await h.signIn();
  });
  after(async () => {
    await h.stop();
  });
  afterEach(async (t) => {
    await h.shotOnFailure(t);
  });

  it("says where runtimes come from, and creates, edits and deletes a resource profile", async () => {
    const page = h.page;
    await page.goto(`${h.baseUrl}/admin/runtimes`);
    const runtimes = page.getByRole("region", { name: "Runtimes" });
    await runtimes.getByRole("cell", { name: "python3", exact: true }).waitFor();
    assert.match(await page.getByTestId("runtimes-source").innerText(), /kernels.*LATHE_KERNELS.*restart the server/s);
    const profiles = page.getByRole("region", { name: "Resource profiles" });
    await profiles.getByRole("cell", { name: "small", exact: true }).waitFor();

    // Inline validation before anything is sent.
    await profiles.getByRole("button", { name: "New profile" }).click();
    const form = page.getByRole("form", { name: "New resource profile" });
    await form.getByLabel("Profile name").fill("small");
    await form.getByLabel("vCPU").fill("100000");
    await form.getByLabel("Memory (GiB)").fill("0");
    await form.getByRole("button", { name: "Create profile" }).click();
    await form.getByText("A profile named small exists already").waitFor();
    await form.getByText(/At most .* vCPU/).waitFor();
    await form.getByText("Memory must be a number of GiB above 0").waitFor();
    assert.equal(await form.getByLabel("vCPU").getAttribute("aria-invalid"), "true");
    await h.checkA11y("resource profile form");
    await h.shot("gov-01-profile-validation");

    await form.getByLabel("Profile name").fill("training-xl");
    await form.getByLabel("vCPU").fill("3");
    await form.getByLabel("Memory (GiB)").fill("6");
    await form.getByRole("button", { name: "Create profile" }).click();
    await profiles.getByRole("status").getByText("Created the profile training-xl.").waitFor();
    const row = profiles.getByRole("row", { name: /training-xl/ });
    await row.getByRole("cell", { name: "6", exact: true }).waitFor();

    // Edit: the name stays, the size changes.
    await row.getByRole("button", { name: "Edit the profile training-xl" }).click();
    const edit = page.getByRole("form", { name: "Edit the profile training-xl" });
    assert.equal(await edit.getByLabel("Profile name").getAttribute("readonly"), "");
    await edit.getByLabel("Memory (GiB)").fill("12");
    await edit.getByRole("button", { name: "Save profile" }).click();
    await row.getByRole("cell", { name: "12", exact: true }).waitFor();
    const saved = await h.apiAsUser("GET", "/api/v2/resource-profiles");
    assert.deepEqual(
      saved.json.resource_profiles.find((p) => p.name === "training-xl"),
      { name: "training-xl", cpu: 3, memory: 12, nvidia_gpu: 0 },
    );
    await h.shot("gov-02-profiles");
    await h.shotOf(profiles, "gov-02-profiles-panel");

    // Delete asks first; "Keep it" keeps it.
    await row.getByRole("button", { name: "Delete the profile training-xl" }).click();
    await row.getByRole("button", { name: "Keep it" }).click();
    await row.getByRole("button", { name: "Delete the profile training-xl" }).click();
    await row.getByRole("button", { name: "Yes, delete the profile training-xl" }).click();
    await profiles.getByText("Deleted the profile training-xl.").waitFor();
    assert.equal(await profiles.getByRole("row", { name: /training-xl/ }).count(), 0);

    // A profile someone else deleted meanwhile: the error says so, and the list is reloaded.
    const large = profiles.getByRole("row", { name: /large/ });
    await large.getByRole("button", { name: "Delete the profile large" }).click();
    assert.equal((await h.apiAsUser("DELETE", "/api/v2/resource-profiles/large")).status, 204);
    await large.getByRole("button", { name: "Yes, delete the profile large" }).click();
    await profiles.getByRole("alert").getByText(/no longer exists: someone may have deleted it/).waitFor();
    await profiles.getByRole("row", { name: /large/ }).waitFor({ state: "detached" });

    // With no profiles left, the page says what to do first.
    for (const name of ["small", "medium"]) {
      assert.equal((await h.apiAsUser("DELETE", `/api/v2/resource-profiles/${name}`)).status, 204);
    }
    await page.reload();
    await profiles.getByText("No resource profiles yet.").waitFor();
    await h.checkA11y("runtimes and profiles");
    await h.shot("gov-03-profiles-empty");
  });

  it("keeps a build's examples, replays them against a new build, and shows lineage.yaml problems", async () => {
    const page = h.page;
    // Setup through the API: a project, a model, build 1 deployed.
    const project = await h.apiAsUser("POST", "/api/v2/projects", { name: "governed" });
    assert.equal(project.status, 201, project.text);
    const p = `/api/v2/projects/${project.json.id}`;
    const predict = (body) => `def predict(args):\n    x = float(args.get("x", 0))\n    return ${body}\n`;
    const put = await h.apiAsUser("PUT", `${p}/files/predict.py`, predict('{"double": x * 2}'));
    assert.equal(put.status, 201, put.text + h.serverLines.slice(-20).join("\n"));
    const model = await h.apiAsUser("POST", `${p}/models`, { name: "doubler", auth_enabled: false });
    assert.equal(model.status, 201, model.text);
    const m = `${p}/models/${model.json.id}`;
    let lastDeployment = "";
    const buildAndDeploy = async () => {
      const b = await h.apiAsUser("POST", `${m}/builds`, { file_path: "predict.py", function_name: "predict" });
      assert.equal(b.status, 201, b.text);
      await waitUntil(
        async () => {
          const s = (await h.apiAsUser("GET", `${m}/builds/${b.json.id}`)).json.state;
          assert.notEqual(s, "failed", `build ${b.json.id} failed`);
          return s === "built";
        },
        { what: `build ${b.json.id}` },
      );
      const d = await h.apiAsUser("POST", `${m}/builds/${b.json.id}/deployments`, { replicas: 1, cpu: 0.5, memory: 0.5 });
      assert.equal(d.status, 201, d.text);
      await waitUntil(async () => (await h.apiAsUser("GET", `${m}/builds/${b.json.id}/deployments/${d.json.id}`)).json.state === "deployed", {
        what: `deployment ${d.json.id}`,
      });
      lastDeployment = `${m}/builds/${b.json.id}/deployments/${d.json.id}`;
      return b.json.id;
    };
    const first = await buildAndDeploy();
    const ui = `${h.baseUrl}/projects/${project.json.id}/models/${model.json.id}/builds`;

    await page.goto(`${ui}/${first}`);
    const details = page.getByRole("region", { name: "Build details" });
    const examples = details.getByRole("region", { name: "Examples" });
    await examples.getByText("No examples for this build yet.").waitFor();
    // Build 1 was made before the project had a lineage.yaml: the page says how to add one.
    await details.getByText("The project had no lineage.yaml when this build ran").waitFor();
    const env = details.getByRole("table", { name: "Build environment" });
    await env.getByRole("row", { name: /Python/ }).getByText(/^3\.\d+/).waitFor();
    await env.getByRole("row", { name: /Interpreter/ }).getByText("/usr/bin/python3").waitFor();

    // An example recorded from the serving build itself.
    await examples.getByRole("button", { name: "Add an example" }).click();
    const add = examples.getByRole("form", { name: "New example" });
    await add.getByLabel(`Ask build #${first} for it`, { exact: false }).check();
    await fillEditor(add, "Contents of request.json", '{"x": 2');
    await add.getByRole("button", { name: "Record the example" }).click();
    await add.getByRole("alert").getByText(/The request is not valid JSON/).waitFor();
    await fillEditor(add, "Contents of request.json", '{"x": 2}');
    await add.getByRole("button", { name: "Record the example" }).click();
    const list = examples.getByRole("table", { name: `Examples of build #${first}` });
    await list.getByText('"double": 4').waitFor();
    // And one with the answer given.
    await examples.getByRole("button", { name: "Add an example" }).click();
    await add.getByLabel("Give the answer it should return").check();
    await fillEditor(add, "Contents of request.json", '{"x": 5}');
    await fillEditor(add, "Contents of answer.json", '{"double": 10}');
    await add.getByRole("button", { name: "Save the example" }).click();
    await list.getByText('"double": 10').waitFor();
    assert.equal(await list.getByRole("row").count(), 3);
    await h.checkA11y("build examples");
    await h.shot("gov-04-examples");

    // Build 2 answers differently from x = 4 on, and reads a lineage.yaml with two problems.
    await h.apiAsUser("PUT", `${p}/files/predict.py`, predict('{"double": x * 2 if x < 4 else x * 3}'));
    await h.apiAsUser("PUT", `${p}/files/lineage.yaml`, 'doubler:\n  datasets: ["data.csv"]\n  hive_table_qualified_names: {db: 1}\n  bogus: 1\n');
    const second = await buildAndDeploy();
    // The model answers from build 2 before the replay starts.
    await waitUntil(
      async () => {
        const r = await fetch(`${h.baseUrl}/model`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ accessKey: model.json.access_key, request: { x: 5 } }),
        });
        return r.ok && (await r.json()).response?.double === 15;
      },
      { what: "build 2 to serve the model" },
    );

    await page.reload();
    await examples.getByRole("table", { name: `Examples of build #${first}` }).waitFor();
    const replay = examples.getByRole("region", { name: "Replay" });
    assert.match(await replay.getByLabel("Replay against").inputValue(), new RegExp(`^${second}$`));
    await replay.getByRole("button", { name: "Replay 2 examples" }).click();
    const summary = replay.getByTestId("replay-summary");
    await summary.waitFor({ timeout: 120_000 });
    assert.match(await summary.innerText(), /1 same, 1 changed of 2/);
    const results = replay.getByRole("table", { name: "Replay results" });
    const changed = results.getByRole("row").filter({ hasText: "changed" });
    assert.equal(await changed.count(), 1);
    assert.match(await changed.innerText(), /"double": 10[\s\S]*"double": 15/);
    assert.equal(await results.getByRole("row").filter({ hasText: "same" }).count(), 1);
    await h.checkA11y("replay");
    await h.shot("gov-05-replay");
    await h.shotOf(examples, "gov-05-replay-panel");

    // With nothing serving, the replay's error says what to do, and the page notices.
    assert.equal((await h.apiAsUser("POST", `${lastDeployment}:stop`)).status, 200);
    await waitUntil(async () => (await h.apiAsUser("GET", lastDeployment)).json.state === "stopped", { what: "the stop" });
    await replay.getByRole("button", { name: "Replay 2 examples" }).click();
    await replay.getByRole("alert").getByText(`deploy build ${second} first`, { exact: false }).waitFor();
    await replay.getByText("The model has no running deployment now.", { exact: false }).waitFor();

    // Build 2's page: its lineage.yaml problems with their lines, the file annotated.
    await details.getByLabel("Details of").selectOption(String(second));
    await page.waitForURL(new RegExp(`/builds/${second}$`));
    const lineage = details.getByRole("region", { name: "lineage.yaml" });
    await lineage.getByText("2 problems").waitFor();
    const problems = lineage.getByRole("list", { name: "lineage.yaml problems" });
    assert.match(await problems.innerText(), /Line 3, column \d+:.*hive_table_qualified_names/);
    assert.match(await problems.innerText(), /Line 4, column 3: unknown key "bogus"/);
    const file = lineage.getByRole("table", { name: "lineage.yaml with line numbers" });
    assert.match(await file.getByRole("row", { name: /^4/ }).innerText(), /bogus: 1[\s\S]*\^ unknown key/);
    await details.getByRole("region", { name: "Examples" }).getByText("No examples for this build yet.").waitFor();
    await h.checkA11y("build lineage problems");
    await h.shot("gov-06-lineage-problems");
    await h.shotOf(lineage, "gov-06-lineage-problems-panel");
  });
});
