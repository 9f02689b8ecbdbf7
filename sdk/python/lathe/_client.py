"""HTTP to the Lathe server for the SDK: JSON bodies, the API key, answers and errors.

urllib is imported on the first call, never at import time: a model replica imports the SDK at
start-up and usually never calls the server, and urllib.request pulls in http.client, email and ssl.
"""

import json
import os
import time

from .errors import LatheError

TIMEOUT = 30.0

# Waits before retrying a read whose connection failed (refused, reset): long enough to ride over
# a server restart, short enough that a server that is really gone is reported within seconds.
# Writes are never retried: the first attempt may have been applied before the connection broke.
READ_RETRY_DELAYS = (0.5, 1.0, 2.0)

_opener = None  # the urllib opener, built on the first request


def api_url():
    """The server's base URL from LATHE_API_URL, without a trailing slash; "" when unset."""
    return os.environ.get("LATHE_API_URL", "").strip().rstrip("/")


def api_key():
    """The workload's API key: LATHE_API_KEY, else CDSW_API_KEY (CML's name); "" when unset."""
    return os.environ.get("LATHE_API_KEY") or os.environ.get("CDSW_API_KEY") or ""


def run_path(what):
    """The API path of the job run this process belongs to; LatheError naming `what` elsewhere."""
    try:
        return "/api/v2/projects/{}/jobs/{}/runs/{}".format(
            os.environ["LATHE_PROJECT_ID"],
            os.environ["LATHE_JOB_ID"],
            os.environ["LATHE_WORKLOAD_ID"],
        )
    except KeyError as missing:
        raise LatheError(
            "{} work inside a Lathe job run ({} is not set)".format(what, missing)
        ) from None


def dev_mode(dev):
    """True when metrics go to this process's in-memory store instead of the server."""
    return bool(dev) or not api_url()


def to_json(obj):
    """The `default` hook for json.dumps: numpy values and arrays, datetimes and sets become JSON
    (the model worker converts a model's answers the same way)."""
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):
        return tolist()
    item = getattr(obj, "item", None)
    if callable(item):
        return item()
    isoformat = getattr(obj, "isoformat", None)
    if callable(isoformat):
        return isoformat()
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)


def encode(body):
    """The request body as JSON bytes. NaN and Infinity are refused here, with the reason, rather
    than by the server's parser."""
    try:
        return json.dumps(body, default=to_json, allow_nan=False, separators=(",", ":")).encode()
    except (TypeError, ValueError) as error:
        raise type(error)("cannot send this to the Lathe server as JSON: %s" % error) from None


def jsonable(value):
    """A copy of value as the server would store it: through JSON and back (tuples become lists,
    numpy values numbers), so that dev mode answers what a deployment would."""
    return json.loads(json.dumps(value, default=to_json))


def post(path, body, read=False):
    """POSTs body to the server's API and returns the parsed JSON answer. A 4xx/5xx answer raises
    LatheError with the server's message. read=True marks a request without side effects, which
    is retried when the connection fails."""
    status, raw = send(path, body, api_key(), retry=read)
    answer = _parse(raw)
    if status >= 400:
        raise _error(status, answer, path)
    if answer is _NOT_JSON:
        raise LatheError(
            "the Lathe server answered POST %s (HTTP %d) with something that is not JSON"
            % (path, status),
            status=status,
        )
    return answer


def post_answer(path, body, key):
    """POSTs body and returns (status, parsed JSON answer) whatever the status, for answers that
    carry their own success flag (a model call). An answer that is not JSON raises LatheError."""
    status, raw = send(path, body, key, retry=False)
    answer = _parse(raw)
    if answer is _NOT_JSON:
        raise LatheError(
            "POST %s answered HTTP %d with something that is not JSON" % (path, status),
            status=status,
        )
    return status, answer


def send(path, body, key, retry):
    """One POST to LATHE_API_URL + path: returns (status, body bytes) for every HTTP answer, and
    raises LatheError when there is none (no URL, connection refused, timeout)."""
    base = api_url()
    if not base:
        raise LatheError(
            "LATHE_API_URL is not set, so there is no Lathe server to call (this is not a Lathe "
            "workload)"
        )
    import http.client
    import urllib.error
    import urllib.request

    global _opener
    if _opener is None:
        # No proxy: LATHE_API_URL is the address the server gave its own workload, and an
        # http_proxy meant for the internet would not reach it.
        _opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if key:
        headers["Authorization"] = "Bearer " + key
    request = urllib.request.Request(base + path, data=encode(body), headers=headers, method="POST")
    delays = READ_RETRY_DELAYS if retry else ()
    attempt = 0
    while True:
        try:
            with _opener.open(request, timeout=TIMEOUT) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:  # a 4xx/5xx answer: its body says why
            with error:
                return error.code, error.read()
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", error)
            if attempt < len(delays) and isinstance(reason, ConnectionError):
                time.sleep(delays[attempt])
                attempt += 1
                continue
            if isinstance(reason, TimeoutError):
                message = "the Lathe server at %s did not answer POST %s within %d s" % (
                    base,
                    path,
                    TIMEOUT,
                )
            else:
                message = "cannot reach the Lathe server at %s: %s" % (base, reason or error)
            raise LatheError(message) from None


_NOT_JSON = object()


def _parse(raw):
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return _NOT_JSON


def _error(status, answer, path):
    """The LatheError for a 4xx/5xx answer: the server's own message and code when the body is
    the API's error object, else the status."""
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        code = error.get("code")
        return LatheError(
            error["message"], status=status, code=code if isinstance(code, str) else None
        )
    return LatheError(
        "the Lathe server answered POST %s with HTTP %d" % (path, status), status=status
    )
