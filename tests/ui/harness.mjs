// What every browser test of the UI shares: a real `lathe server` on port 0 with a temporary data
// dir serving the built UI, Debian's Chromium driven by playwright-core, signing in, screenshots
// to $LATHE_UI_ARTIFACTS (default build/ui-artifacts), an axe-core check, and API calls as the
// signed-in user or with an API key.
//
// Paths: LATHE_BIN (default build/lathe), LATHE_UI_DIR (default web/dist), CHROMIUM.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
// The test's npm packages live with the UI's (web/node_modules): one install for both.
const require = createRequire(join(repo, "web", "package.json"));
const { chromium } = require("playwright-core");
const { AxeBuilder } = require("@axe-core/playwright");

export const LATHE_BIN = process.env.LATHE_BIN || join(repo, process.env.BUILD_DIR || "build", "lathe");
export const UI_DIR = process.env.LATHE_UI_DIR || join(repo, "web", "dist");
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const ARTIFACTS = process.env.LATHE_UI_ARTIFACTS || join(repo, process.env.BUILD_DIR || "build", "ui-artifacts");
export const TIMEOUT = 30_000;

// One server and one browser. `start()` in `before`, `stop()` in `after`.
export class UiHarness {
  constructor({ artifactsDir = ARTIFACTS, cleanArtifacts = false } = {}) {
    this.adminUser = "admin";
    this.adminPassword = "admin-" + Math.random().toString(36).slice(2, 14);
    this.artifactsDir = artifactsDir;
    this.cleanArtifacts = cleanArtifacts;
    this.serverLines = [];
    this.baseUrl = "";
    this.server = null;
    this.context = null;
    this.page = null;
  }

  async start() {
    if (this.cleanArtifacts) {
      rmSync(this.artifactsDir, { recursive: true, force: true });
    }
    mkdirSync(this.artifactsDir, { recursive: true });
    await this.startServer();
    this.profileDir = mkdtempSync(join(tmpdir(), "lathe-ui-profile-"));
    this.context = await chromium.launchPersistentContext(this.profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 800 },
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    this.context.setDefaultTimeout(TIMEOUT);
    this.page = this.context.pages()[0] ?? (await this.context.newPage());
  }

  startServer() {
    return new Promise((resolvePromise, reject) => {
      this.dataDir = mkdtempSync(join(tmpdir(), "lathe-ui-test-"));
      const server = spawn(
        LATHE_BIN,
        ["server", "--data-dir", join(this.dataDir, "data"), "--host", "127.0.0.1", "--port", "0", "--access-log", "off", "--ui-dir", UI_DIR],
        {
          env: { ...process.env, LATHE_ADMIN_USER: this.adminUser, LATHE_ADMIN_PASSWORD: this.adminPassword },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      this.server = server;
      const timer = setTimeout(() => reject(new Error(`lathe not ready in 30 s:\n${this.serverLines.join("\n")}`)), 30_000);
      const watch = (chunk) => {
        for (const line of chunk.toString().split("\n")) {
          if (line) {
            this.serverLines.push(line);
          }
          const m = /Lathe is ready at (http:\/\/\S+)/.exec(line);
          if (m && !this.baseUrl) {
            this.baseUrl = m[1].replace(/\/$/, "");
            clearTimeout(timer);
            resolvePromise();
          }
        }
      };
      server.stdout.on("data", watch);
      server.stderr.on("data", watch);
      server.on("exit", (code) => {
        if (!this.baseUrl) {
          clearTimeout(timer);
          reject(new Error(`lathe exited with ${code} before ready:\n${this.serverLines.join("\n")}`));
        }
      });
    });
  }

  async stop() {
    await this.context?.close();
    const server = this.server;
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once("exit", r));
      server.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (server.exitCode === null) {
        server.kill("SIGKILL");
      }
    }
    if (this.profileDir) {
      rmSync(this.profileDir, { recursive: true, force: true });
    }
    if (this.dataDir) {
      rmSync(this.dataDir, { recursive: true, force: true });
    }
  }

  // Signs in through the sign-in page (as the admin unless told otherwise).
  async signIn(username = this.adminUser, password = this.adminPassword) {
    const page = this.page;
    await page.goto(`${this.baseUrl}/`);
    await page.getByRole("heading", { name: "Sign in to Lathe" }).waitFor();
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Projects" }).waitFor();
  }

  async shot(name) {
    await this.page.screenshot({ path: join(this.artifactsDir, `${name}.png`), fullPage: true });
  }

  // A screenshot of one part of the page (a locator), for the docs.
  async shotOf(locator, name) {
    await locator.screenshot({ path: join(this.artifactsDir, `${name}.png`) });
  }

  // Leaves the page of the test behind, and the server's output so far (call from afterEach with
  // the test's context).
  async shotOnFailure(t) {
    if (this.page && t?.name) {
      const name = `last-${t.name.slice(0, 40).replace(/\W+/g, "-")}`;
      await this.page.screenshot({ path: join(this.artifactsDir, `${name}.png`), fullPage: true }).catch(() => {});
      const exited = this.server?.exitCode !== null ? `\n(the server exited: ${this.server?.exitCode} ${this.server?.signalCode})\n` : "";
      writeFileSync(join(this.artifactsDir, `${name}.server.log`), this.serverLines.join("\n") + exited);
    }
  }

  // No critical accessibility problems on the page as it is now.
  async checkA11y(name) {
    const results = await new AxeBuilder({ page: this.page }).analyze();
    const critical = results.violations.filter((v) => v.impact === "critical");
    assert.deepEqual(
      critical.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`),
      [],
      `critical accessibility violations on ${name}`,
    );
  }

  // An API call as the signed-in browser user (session cookie + CSRF token from the session).
  // `body` is sent as it is when a string, else as JSON. Answers {status, text, json}.
  async apiAsUser(method, path, body) {
    const r = await this.page.evaluate(
      async ({ method, path, body }) => {
        const s = await (await fetch("/api/v2/auth/session")).json();
        const r = await fetch(path, {
          method,
          headers: { "Content-Type": "application/json", "X-CSRF-Token": s.csrf_token },
          body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
        });
        return { status: r.status, text: await r.text() };
      },
      { method, path, body },
    );
    return { ...r, json: parseOrNull(r.text) };
  }

  // The same from node, with an API key (`Authorization: Bearer`).
  async apiWithKey(key, method, path, body) {
    const r = await fetch(this.baseUrl + path, {
      method,
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, text, json: parseOrNull(text) };
  }
}

// Polls `check` (an async function answering a truthy value when done) until it does.
export async function waitUntil(check, { timeout = 90_000, every = 1000, what = "the condition" } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    last = await check();
    if (last) {
      return last;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, every));
  }
}

function parseOrNull(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
