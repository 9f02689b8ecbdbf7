#!/usr/bin/env python3
"""Telco churn monitoring on Lathe, end to end, in one command:

    python3 examples/churn-monitoring/run.py            # starts a throwaway server (build/lathe)
    python3 examples/churn-monitoring/run.py --url URL --api-key KEY   # or uses yours

It creates a project with predict.py and monitor.py, builds and deploys the churn model, creates
the recurring monitoring job and a monitor that alerts when ROC AUC falls below 0.75, then plays
traffic in phases. In each phase customers are scored through the model (cdsw.call_model), their
true outcome arrives later (cdsw.track_delayed_metrics, by uuid), and a growing share of the
model's answers is made wrong on purpose (the injected error: the customer does the opposite of
what a good model would foresee). After each phase the job runs, joins predictions with ground
truth and records ROC AUC as an aggregate. The table at the end shows accuracy falling as error
is injected; the script exits 1 if it doesn't. Standard library only (plus the SDK in
sdk/python).
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "sdk" / "python"))


def log(message):
    print(message, file=sys.stderr, flush=True)


class Api:
    def __init__(self, url, key):
        self.url = url.rstrip("/")
        self.key = key

    def call(self, method, path, body=None, expect=(200, 201, 204), raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", "Bearer " + self.key)
        if raw is None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        if status not in expect:
            sys.exit(f"{method} {path} answered HTTP {status}: {payload[:500]!r}")
        try:
            return json.loads(payload) if payload else None
        except ValueError:
            return payload.decode(errors="replace")

    def wait(self, path, field, done, timeout=180):
        deadline = time.monotonic() + timeout
        while True:
            got = self.call("GET", path)
            if got[field] in done:
                return got
            if time.monotonic() > deadline:
                sys.exit(f"timed out waiting for {path}: {got}")
            time.sleep(0.2)


def start_server(binary, work):
    """A throwaway server on a free port with a temp data dir; returns (process, url, key)."""
    if not os.access(binary, os.X_OK):
        sys.exit(f"no Lathe server at {binary}: run `make build` first, or pass --url/--api-key")
    password = "churn-" + os.urandom(9).hex()
    env = dict(os.environ, LATHE_ADMIN_USER="admin", LATHE_ADMIN_PASSWORD=password)
    out = open(work / "lathe.log", "w")
    proc = subprocess.Popen(
        [str(binary), "server", "--data-dir", str(work / "data"), "--host", "127.0.0.1",
         "--port", "0", "--access-log", "off"],
        stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    url = None
    while url is None:
        match = re.search(r"Lathe is ready at (\S+)", (work / "lathe.log").read_text())
        if match:
            url = match.group(1)
        elif proc.poll() is not None or time.monotonic() > deadline:
            sys.exit("the server did not start:\n" + (work / "lathe.log").read_text())
        else:
            time.sleep(0.1)
    login = urllib.request.Request(
        url + "/api/v2/auth/login",
        data=json.dumps({"username": "admin", "password": password}).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )
    with urllib.request.urlopen(login, timeout=10) as response:
        cookie = next(c.split(";")[0] for c in response.headers.get_all("Set-Cookie")
                      if c.startswith("lathe_session="))
        csrf = json.loads(response.read())["csrf_token"]
    make_key = urllib.request.Request(
        url + "/api/v2/users/admin/keys", data=json.dumps({"name": "churn example"}).encode(),
        headers={"Content-Type": "application/json", "Cookie": cookie, "X-CSRF-Token": csrf},
        method="POST",
    )
    with urllib.request.urlopen(make_key, timeout=10) as response:
        key = json.loads(response.read())["key"]
    return proc, url, key


def customer(rng):
    contract = rng.choices(["month-to-month", "one-year", "two-year"], [5, 3, 2])[0]
    return {
        "tenure_months": rng.randint(1, 72),
        "monthly_charges": round(rng.uniform(20, 120), 2),
        "support_calls": rng.choice([0, 0, 0, 1, 1, 2, 3, 5]),
        "contract": contract,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("LATHE_URL"))
    parser.add_argument("--api-key", default=os.environ.get("LATHE_API_KEY"))
    parser.add_argument("--lathe", default=str(REPO / "build" / "lathe"))
    parser.add_argument("--calls", type=int, default=300, help="customers scored per phase")
    parser.add_argument("--errors", default="0,0.25,0.5,0.75",
                        help="share of answers made wrong in each phase")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    error_rates = [float(x) for x in args.errors.split(",")]

    work = Path(tempfile.mkdtemp(prefix="lathe-churn-"))
    proc = None
    try:
        if args.url and args.api_key:
            url, key = args.url, args.api_key
        else:
            log("starting a throwaway Lathe server...")
            proc, url, key = start_server(Path(args.lathe), work)
        api = Api(url, key)
        # The SDK reads these, as it does inside a Lathe workload.
        os.environ["LATHE_API_URL"] = url
        os.environ["LATHE_API_KEY"] = key
        import cdsw  # noqa: E402  (after the environment is set)

        project = api.call("POST", "/api/v2/projects",
                           {"name": "churn-monitoring-" + os.urandom(3).hex()})
        pp = f"/api/v2/projects/{project['id']}"
        for name in ("predict.py", "monitor.py"):
            api.call("PUT", f"{pp}/files/{name}", raw=(HERE / name).read_bytes())
        log("building and deploying the churn model...")
        model = api.call("POST", f"{pp}/models", {"name": "Churn Model", "auth_enabled": True,
                                                  "description": "telco churn, monitored"})
        mp = f"{pp}/models/{model['id']}"
        build = api.call("POST", f"{mp}/builds",
                         {"file_path": "predict.py", "function_name": "predict"})
        build = api.wait(f"{mp}/builds/{build['id']}", "state", ("built", "failed"))
        if build["state"] != "built":
            sys.exit("the build failed:\n" + api.call("GET", f"{mp}/builds/{build['id']}/logs"))
        deployment = api.call("POST", f"{mp}/builds/{build['id']}/deployments",
                              {"cpu": 0.5, "memory": 0.5})
        dp = f"{mp}/builds/{build['id']}/deployments/{deployment['id']}"
        deployment = api.wait(dp, "state", ("deployed", "failed"))
        if deployment["state"] != "deployed":
            sys.exit(f"the deployment failed: {deployment}")
        crn = deployment["crn"]
        job = api.call("POST", f"{pp}/jobs", {
            "name": "churn accuracy", "script": "monitor.py", "schedule": "0 * * * *",
            "environment": {"MODEL_DEPLOYMENT_CRN": crn},
        })
        monitor = api.call("POST", f"{mp}/monitors", {
            "name": "ROC AUC", "kind": "metric", "metric": "roc_auc", "source": "aggregates",
            "statistic": "last", "comparison": "<", "threshold": 0.75, "window_seconds": 3600,
            "interval_seconds": 3600,
        })

        rng = random.Random(args.seed)
        rows = []
        for phase, error_rate in enumerate(error_rates, 1):
            log(f"phase {phase}: {args.calls} customers, {error_rate:.0%} of answers made wrong")
            for _ in range(args.calls):
                features = customer(rng)
                answer = cdsw.call_model(model["access_key"], features, api_key=key)
                if not answer.get("success"):
                    sys.exit(f"the model call failed: {answer}")
                probability = answer["response"]["prediction"]["churn_probability"]
                uuid = answer["response"]["uuid"]
                # The customer behaves as the model foresaw, except for the injected error.
                churned = rng.random() < probability
                if rng.random() < error_rate:
                    churned = probability < 0.5
                cdsw.track_delayed_metrics({"final_label": int(churned)}, uuid)
            run = api.call("POST", f"{pp}/jobs/{job['id']}/runs", {})
            run = api.wait(f"{pp}/jobs/{job['id']}/runs/{run['id']}", "status",
                           ("succeeded", "failed", "timedout", "stopped"))
            output = api.call("GET", f"{pp}/jobs/{job['id']}/runs/{run['id']}/logs")
            if run["status"] != "succeeded":
                sys.exit(f"the monitoring job {run['status']}:\n{output}")
            log("  job: " + " | ".join(line for line in output.splitlines() if line.strip()))
            rows.append(error_rate)

        aggregates = [m for m in cdsw.read_metrics(model_deployment_crn=crn)["metrics"]
                      if m.get("aggregate")]
        aggregates.sort(key=lambda m: m["endTimeStampMs"])
        print("| phase | injected error | predictions | ROC AUC | accuracy |")
        print("|---|---|---|---|---|")
        aucs = []
        for phase, (error_rate, a) in enumerate(zip(rows, aggregates), 1):
            m = a["metrics"]
            aucs.append(m["roc_auc"])
            print(f"| {phase} | {error_rate:.0%} | {m['count']} | {m['roc_auc']:.3f} | "
                  f"{m['accuracy']:.3f} |")
        monitor = api.call("POST", f"{mp}/monitors/{monitor['id']}:evaluate")
        alerts = api.call("GET", f"{mp}/monitors/{monitor['id']}/alerts")["alerts"]
        print(f"\nmonitor '{monitor['name']}': {monitor['state']} ({monitor['last_message']})")
        for a in alerts:
            print(f"alert {a['id']} {a['state']}: {a['message']}")
        print(f"\nproject {project['id']}, deployment {crn}")
        if len(aucs) != len(rows) or any(b >= a for a, b in zip(aucs, aucs[1:])):
            log("ROC AUC did not fall phase after phase")
            return 1
        return 0
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
