"""CML-compatible helpers for code running in a Lathe workload: experiment metrics and files.

Inside a job run, `track_metric` records a run metric (a number or a string) and `track_file`
keeps a copy of a project file with the run, so runs can be compared later. Standard library only.
"""

import json
import os
import urllib.error
import urllib.request

__all__ = ["track_metric", "track_file"]


class LatheError(RuntimeError):
    """The server refused a call; the message is the server's."""


def _run_path():
    try:
        return "/api/v2/projects/{}/jobs/{}/runs/{}".format(
            os.environ["LATHE_PROJECT_ID"], os.environ["LATHE_JOB_ID"], os.environ["LATHE_WORKLOAD_ID"]
        )
    except KeyError as missing:
        raise LatheError(
            "track_metric and track_file work inside a Lathe job run ({} is not set)".format(missing)
        ) from None


def _post(path, body):
    url = os.environ.get("LATHE_API_URL", "").rstrip("/") + path
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": "Bearer " + os.environ.get("LATHE_API_KEY", ""),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read())["error"]["message"]
        except Exception:  # the body was not ours: report the status
            message = "HTTP {}".format(error.code)
        raise LatheError(message) from None


def track_metric(key, value):
    """Records a run metric: a number (int or float) or a string."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError("track_metric value must be a number or a string")
    return _post(_run_path() + "/metrics", {"key": str(key), "value": value})


def track_file(path):
    """Keeps a copy of a project file (a path relative to /home/cdsw) with this run."""
    path = os.fspath(path)
    if os.path.isabs(path):
        path = os.path.relpath(path, "/home/cdsw")
    return _post(_run_path() + "/artifacts", {"path": path})
