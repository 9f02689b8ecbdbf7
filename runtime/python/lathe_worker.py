"""Lathe model worker: serves one model function over the replica protocol, or checks a build.

    lathe_worker.py serve   import the model, dial the serving listener, answer CALL/BATCH/PING
    lathe_worker.py build   run cdsw-build.sh, import the model, write .lathe/build.json

The wire protocol is src/serving/PROTOCOL.md. Standard library only; this file is copied into every
replica and build sandbox as it is.
"""

import json
import os
import signal
import socket
import struct
import sys
import threading
import time

USAGE = "usage: lathe_worker.py serve|build"
PROTOCOL_VERSION = 1
PYTHON_VERSION = "%d.%d.%d" % sys.version_info[:3]
DEFAULT_HOME = "/home/cdsw"
MAX_FRAME = 64 << 20
RECV_BUFFER = 1 << 20

HELLO, WELCOME, REFUSED, CALL, BATCH, RESULT, ERROR, PING, PONG = range(1, 10)

HEADER = struct.Struct(">IBI")  # length, type, id
RESULT_HEADER = struct.Struct(">IBIQI")  # ... + fn_ns, meta_len
ERROR_HEADER = struct.Struct(">IBIQ")  # ... + fn_ns
RESULT_FIXED = RESULT_HEADER.size - 4  # what `length` counts besides meta and body
ERROR_FIXED = ERROR_HEADER.size - 4

# Frames of ours that a user's traceback should not show.
_INTERNAL_FILES = {__file__, os.path.abspath(__file__)}


class ModelLoadError(Exception):
    """The model file or function is unusable; the message says why."""


# ------------------------------------------------------------------------------------------------
# JSON


def _to_json(obj):
    """The `default` hook: turns common non-JSON values (numpy, datetime, ...) into JSON ones."""
    tolist = getattr(obj, "tolist", None)
    if tolist is not None and callable(tolist):
        return tolist()
    item = getattr(obj, "item", None)
    if item is not None and callable(item):
        return item()
    isoformat = getattr(obj, "isoformat", None)  # datetime, date, time
    if isoformat is not None and callable(isoformat):
        return isoformat()
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        try:
            return bytes(obj).decode()
        except UnicodeDecodeError:
            raise TypeError(
                "Object of type bytes is not JSON serializable (not UTF-8 text)"
            ) from None
    from decimal import Decimal  # only reached for values JSON can't take: no start-up cost

    if isinstance(obj, Decimal):
        return float(obj)
    raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)


def _make_encoder():
    """The C encoder json.dumps uses, built once instead of on every call (half the cost).

    Compact separators, ASCII output, and NaN/Infinity refused (they are not JSON and the server's
    parser would reject them). No circular-reference markers: a shared markers dict keeps stale
    entries after a failed encode, and a cycle still ends, as a RecursionError.
    """
    from json import encoder

    if encoder.c_make_encoder is None:  # a Python built without _json: correct, slower
        return json.JSONEncoder(separators=(",", ":"), default=_to_json, allow_nan=False).iterencode
    return encoder.c_make_encoder(
        None, _to_json, encoder.encode_basestring_ascii, None, ":", ",", False, False, False
    )


def _error_payload(exc, with_traceback):
    """The ERROR frame JSON for an exception: message "<Type>: <msg>", type and traceback."""
    import traceback

    name = type(exc).__name__
    try:
        text = str(exc)
    except Exception:
        text = ""
    tb_text = ""
    if with_traceback:
        tb = exc.__traceback__
        while tb is not None and _is_internal(tb.tb_frame.f_code.co_filename):
            tb = tb.tb_next
        tb_text = "".join(traceback.format_exception(type(exc), exc, tb))
    return {
        "message": "%s: %s" % (name, text) if text else name,
        "type": name,
        "traceback": tb_text,
    }


def _is_internal(filename):
    return filename in _INTERNAL_FILES or filename.startswith("<frozen importlib")


def _error_frame(call_id, fn_ns, exc, with_traceback=True):
    body = json.dumps(_error_payload(exc, with_traceback), separators=(",", ":")).encode()
    return ERROR_HEADER.pack(len(body) + ERROR_FIXED, ERROR, call_id, fn_ns) + body


def _error_frame_message(call_id, fn_ns, type_name, message):
    body = json.dumps(
        {"message": "%s: %s" % (type_name, message), "type": type_name, "traceback": ""},
        separators=(",", ":"),
    ).encode()
    return ERROR_HEADER.pack(len(body) + ERROR_FIXED, ERROR, call_id, fn_ns) + body


# ------------------------------------------------------------------------------------------------
# Loading the model


def _setup_stdio():
    # The replica's log is our stdout: user print()s must reach it as they happen, whatever
    # PYTHONUNBUFFERED says.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except (AttributeError, ValueError):
            pass


def _home():
    return os.path.abspath(os.environ.get("LATHE_HOME") or DEFAULT_HOME)


def _model_settings():
    model_file = os.environ.get("LATHE_MODEL_FILE", "")
    function = os.environ.get("LATHE_MODEL_FUNCTION", "")
    if not model_file:
        raise ModelLoadError("LATHE_MODEL_FILE is not set (the file holding the model function)")
    if not function:
        raise ModelLoadError("LATHE_MODEL_FUNCTION is not set (the model function's name)")
    return model_file, function


def _load_module(home, model_file):
    """Imports the model file by path as a module named after its stem, registered in sys.modules
    so pickle and `import <stem>` from other modules find it. Exceptions from the user's code
    propagate; a missing file is a ModelLoadError."""
    import importlib.machinery
    import importlib.util

    path = os.path.normpath(os.path.join(home, model_file))
    if not os.path.isfile(path):
        raise ModelLoadError("model file %s not found in %s" % (model_file, home))
    if home in sys.path:
        sys.path.remove(home)
    sys.path.insert(0, home)
    folder = os.path.dirname(path)
    if folder != home and folder not in sys.path:  # sibling imports, as `python src/model.py`
        sys.path.insert(1, folder)
    name = os.path.splitext(os.path.basename(path))[0]
    if name in sys.modules:  # e.g. a file named json.py: don't replace a module already in use
        name = "lathe_model_" + name
    loader = importlib.machinery.SourceFileLoader(name, path)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _find_function(module, model_file, function):
    if not hasattr(module, function):
        defined = sorted(
            n
            for n, v in vars(module).items()
            if callable(v)
            and not n.startswith("_")
            and getattr(v, "__module__", None) == module.__name__
        )
        hint = " (it defines: %s)" % ", ".join(defined) if defined else ""
        raise ModelLoadError("%s has no function named %r%s" % (model_file, function, hint))
    fn = getattr(module, function)
    if not callable(fn):
        raise ModelLoadError(
            "%s: %r is a %s, not a function" % (model_file, function, type(fn).__name__)
        )
    return fn


def _print_load_failure(exc, prefix):
    """Prints the user's traceback (without our frames) and a one-line reason, to stderr."""
    import traceback

    if isinstance(exc, ModelLoadError):
        reason = str(exc)
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    else:
        tb = exc.__traceback__
        while tb is not None and _is_internal(tb.tb_frame.f_code.co_filename):
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb, file=sys.stderr)
        reason = (
            "importing the model raised "
            + "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[-1]
        )
    print("%s: %s" % (prefix, reason), file=sys.stderr)


def _load(home, prefix):
    """Imports the model and finds its function; on failure prints why and exits 1."""
    try:
        model_file, function = _model_settings()
        started = time.perf_counter()
        module = _load_module(home, model_file)
        fn = _find_function(module, model_file, function)
    except (Exception, SystemExit) as exc:
        _print_load_failure(exc, prefix)
        sys.exit(1)
    return model_file, function, fn, time.perf_counter() - started


# ------------------------------------------------------------------------------------------------
# serve


def _on_sigterm(signum, frame):
    # The server stops replicas with SIGTERM and wants them gone promptly: no unwinding through
    # user code that might swallow SystemExit.
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    os._exit(0)


def _connect(addr):
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError("LATHE_SERVING_ADDR must be host:port, not %r" % addr)
    host = host.strip("[]")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _frame(frame_type, frame_id, payload=b""):
    return HEADER.pack(len(payload) + 5, frame_type, frame_id) + payload


def _closed():
    print("the server closed the connection; exiting", flush=True)
    sys.exit(0)


def _protocol_error(message):
    print("protocol error: %s" % message, file=sys.stderr, flush=True)
    sys.exit(1)


def _handshake(sock, token):
    """Sends HELLO and waits for WELCOME. Returns (replica_id, buffer, start, end): whatever
    arrived after WELCOME stays in the buffer for the call loop."""
    hello = {
        "token": token,
        "pid": os.getpid(),
        "python": PYTHON_VERSION,
        "protocol": PROTOCOL_VERSION,
    }
    sock.sendall(_frame(HELLO, 0, json.dumps(hello).encode()))
    buf = bytearray(RECV_BUFFER)
    view = memoryview(buf)
    end = 0
    while True:
        if end >= 9:
            length = HEADER.unpack_from(buf, 0)[0]
            if length < 5 or length > RECV_BUFFER - 4:
                _protocol_error("frame length %d before WELCOME" % length)
            if end >= length + 4:
                break
        try:
            n = sock.recv_into(view[end:])
        except (ConnectionResetError, BrokenPipeError):
            n = 0
        if n == 0:
            _closed()
        end += n
    length, frame_type, _ = HEADER.unpack_from(buf, 0)
    try:
        payload = json.loads(bytes(buf[9 : 4 + length]) or b"{}")
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    if frame_type == REFUSED:
        print("the server refused this replica: %s" % payload.get("message", ""), file=sys.stderr)
        sys.exit(1)
    if frame_type != WELCOME:
        _protocol_error("expected WELCOME, got frame type %d" % frame_type)
    return str(payload.get("replica_id", "")), buf, 4 + length, end


def _serve():
    _setup_stdio()
    signal.signal(signal.SIGTERM, _on_sigterm)
    addr = os.environ.get("LATHE_SERVING_ADDR", "")
    if not addr:
        print("LATHE_SERVING_ADDR is not set", file=sys.stderr)
        sys.exit(1)
    home = _home()
    try:
        os.chdir(home)
    except OSError as error:
        print("cannot use %s as the working directory: %s" % (home, error), file=sys.stderr)
        sys.exit(1)

    meta = _install_metrics_hook({})
    model_file, function, fn, seconds = _load(home, "model failed to load")
    meta.clear()  # metrics tracked at import time belong to no call
    signal.signal(signal.SIGTERM, _on_sigterm)  # again, in case the model's import took it over
    batching = _max_batch_size()
    print(
        "model ready: %s:%s (import %.2f s%s)"
        % (model_file, function, seconds, ", batches of up to %d" % batching if batching else "")
    )

    try:
        sock = _connect(addr)
    except (OSError, ValueError) as error:
        print("cannot connect to the serving listener at %s: %s" % (addr, error), file=sys.stderr)
        sys.exit(1)
    replica_id, buf, start, end = _handshake(sock, os.environ.get("LATHE_REPLICA_TOKEN", ""))
    print("serving as replica %s" % replica_id if replica_id else "serving")

    import gc

    gc.collect()
    gc.freeze()  # the model's objects: keep the collector from walking them on every call
    try:
        concurrency = _concurrency()
        if concurrency > 1:
            _concurrent_loop(sock, fn, buf, start, end, concurrency)
        else:
            _call_loop(sock, fn, meta, buf, start, end)
    except (ConnectionResetError, BrokenPipeError):
        _closed()


def _concurrency():
    try:
        return max(1, min(256, int(os.environ.get("LATHE_CONCURRENCY") or 1)))
    except ValueError:
        return 1


def _max_batch_size():
    # Informational: the server decides what to send, and a BATCH frame is answered either way.
    try:
        return max(0, int(os.environ.get("LATHE_MAX_BATCH_SIZE") or 0))
    except ValueError:
        return 0


def _install_metrics_hook(meta):
    """Points the SDK's in-replica hook (`lathe.metrics._replica_meta`) at `meta`, the dict this
    worker turns into RESULT meta; `track_metric` and `@model_metrics` fill it during a call.
    First done before the home directory goes on sys.path, so the SDK the model imports is the
    one hooked. Returns meta."""
    try:
        from lathe import metrics as hook
    except ImportError:  # no SDK on the path: the model can't track metrics, nothing else changes
        return meta
    hook._replica_meta = meta
    if getattr(hook, "__file__", None):  # @model_metrics' wrapper is not the user's frame either
        _INTERNAL_FILES.add(hook.__file__)
    return meta


def _call_loop(sock, fn, meta, buf, start, end):
    """Answers frames until the connection closes. The per-call path is inlined and uses locals
    only: at tens of thousands of calls per second every attribute lookup shows."""
    recv_into = sock.recv_into
    sendall = sock.sendall
    unpack_header = HEADER.unpack_from
    pack_result = RESULT_HEADER.pack
    perf_ns = time.perf_counter_ns
    decoder = json.JSONDecoder()
    scan = decoder.scan_once  # C scanner: half the cost of json.loads on short requests
    encode = _make_encoder()
    join = "".join
    join_bytes = b"".join
    view = memoryview(buf)
    capacity = len(buf)

    while True:
        out = []
        append = out.append
        while end - start >= 9:
            length, frame_type, call_id = unpack_header(buf, start)
            if length < 5 or length > MAX_FRAME:
                _protocol_error("frame length %d" % length)
            stop = start + 4 + length
            if stop > end:
                break
            payload_at = start + 9
            start = stop
            if frame_type == CALL:
                try:
                    text = buf[payload_at:stop].decode()
                    request, parsed = scan(text, 0)
                    if parsed != len(text):
                        raise StopIteration
                except Exception:  # StopIteration, ValueError, RecursionError: the slow path says
                    ok, request = _decode_request(buf[payload_at:stop], call_id)
                    if not ok:
                        append(request)
                        continue
                began = perf_ns()
                try:
                    response = fn(request)
                except Exception as exc:
                    fn_ns = perf_ns() - began
                    meta.clear()
                    append(_error_frame(call_id, fn_ns, exc))
                    continue
                fn_ns = perf_ns() - began
                try:
                    body = join(encode(response, 0)).encode()
                    if meta:
                        meta_bytes = _encode_meta(encode, meta)
                        append(
                            pack_result(
                                len(body) + len(meta_bytes) + RESULT_FIXED,
                                RESULT,
                                call_id,
                                fn_ns,
                                len(meta_bytes),
                            )
                        )
                        append(meta_bytes)
                    else:
                        append(pack_result(len(body) + RESULT_FIXED, RESULT, call_id, fn_ns, 0))
                except Exception as exc:
                    meta.clear()
                    append(_error_frame(call_id, fn_ns, exc, with_traceback=False))
                    continue
                append(body)
            elif frame_type == PING:
                append(HEADER.pack(5, PONG, call_id))
            elif frame_type == BATCH:
                append(_batch(fn, meta, encode, buf[payload_at:stop], call_id))
            else:
                print("ignoring frame type %d from the server" % frame_type, file=sys.stderr)

        if out:
            sendall(join_bytes(out))

        buf, view, capacity, start, end = _compact(buf, view, capacity, start, end)
        n = recv_into(view[end:])
        if n == 0:
            _closed()
        end += n


def _compact(buf, view, capacity, start, end):
    """Keeps the partial frame, if any, at the front of the buffer; grows it for a big frame and
    shrinks it back after one. Returns (buf, view, capacity, start, end)."""
    if start == end:
        start = end = 0
        if capacity > RECV_BUFFER:
            buf = bytearray(RECV_BUFFER)
            view = memoryview(buf)
            capacity = RECV_BUFFER
    elif start:
        buf[0 : end - start] = buf[start:end]
        end -= start
        start = 0
    if end >= 9:
        needed = HEADER.unpack_from(buf, 0)[0] + 4
        if needed > capacity:
            capacity = max(needed, capacity * 2)
            grown = bytearray(capacity)
            grown[:end] = buf[:end]
            buf = grown
            view = memoryview(buf)
    return buf, view, capacity, start, end


class _ThreadMeta:
    """The SDK's `_replica_meta` when calls run on several threads: each thread's call has its
    own dict."""

    def __init__(self):
        self._local = threading.local()

    def current(self):
        d = getattr(self._local, "d", None)
        if d is None:
            d = self._local.d = {}
        return d

    def get(self, key, default=None):
        return self.current().get(key, default)

    def __getitem__(self, key):
        return self.current()[key]

    def __setitem__(self, key, value):
        self.current()[key] = value

    def setdefault(self, key, value):
        return self.current().setdefault(key, value)

    def clear(self):
        self.current().clear()

    def __bool__(self):
        return bool(self.current())

    def __len__(self):
        return len(self.current())


def _concurrent_loop(sock, fn, buf, start, end, workers):
    """LATHE_CONCURRENCY > 1 (thread-safe models): calls run on `workers` threads and each answer
    goes out when its call ends, with its call's id, so answers may come out of order."""
    import concurrent.futures

    threaded_meta = _install_metrics_hook(_ThreadMeta())
    send_lock = threading.Lock()
    local = threading.local()
    pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="call")

    def run(frame_type, call_id, payload):
        encode = getattr(local, "encode", None)
        if encode is None:
            encode = local.encode = _make_encoder()
        meta = threaded_meta.current()
        meta.clear()
        if frame_type == CALL:
            answer = _single(fn, meta, encode, payload, call_id)
        else:
            answer = _batch(fn, meta, encode, payload, call_id)
        with send_lock:
            try:
                sock.sendall(answer)
            except OSError:
                pass  # the reading side sees the connection end

    view = memoryview(buf)
    capacity = len(buf)
    while True:
        while end - start >= 9:
            length, frame_type, call_id = HEADER.unpack_from(buf, start)
            if length < 5 or length > MAX_FRAME:
                _protocol_error("frame length %d" % length)
            stop = start + 4 + length
            if stop > end:
                break
            payload = bytes(buf[start + 9 : stop])
            start = stop
            if frame_type in (CALL, BATCH):
                pool.submit(run, frame_type, call_id, payload)
            elif frame_type == PING:
                with send_lock:
                    sock.sendall(HEADER.pack(5, PONG, call_id))
            else:
                print("ignoring frame type %d from the server" % frame_type, file=sys.stderr)
        buf, view, capacity, start, end = _compact(buf, view, capacity, start, end)
        n = sock.recv_into(view[end:])
        if n == 0:
            _closed()
        end += n


def _single(fn, meta, encode, payload, call_id):
    """One CALL frame, answered as bytes (the concurrent path; the serial loop inlines this)."""
    ok, request = _decode_request(payload, call_id)
    if not ok:
        return request
    began = time.perf_counter_ns()
    try:
        response = fn(request)
    except Exception as exc:
        fn_ns = time.perf_counter_ns() - began
        meta.clear()
        return _error_frame(call_id, fn_ns, exc)
    fn_ns = time.perf_counter_ns() - began
    try:
        body = "".join(encode(response, 0)).encode()
        meta_bytes = _encode_meta(encode, meta) if meta else b""
    except Exception as exc:
        meta.clear()
        return _error_frame(call_id, fn_ns, exc, with_traceback=False)
    return (
        RESULT_HEADER.pack(
            len(body) + len(meta_bytes) + RESULT_FIXED, RESULT, call_id, fn_ns, len(meta_bytes)
        )
        + meta_bytes
        + body
    )


def _decode_request(payload, call_id):
    """The slow path of request parsing (surrounding whitespace, bad UTF-8, bad JSON).
    Returns (True, request) or (False, an ERROR frame)."""
    try:
        return True, json.loads(bytes(payload))
    except (ValueError, RecursionError) as error:  # ValueError: bad UTF-8 or bad JSON
        return False, _error_frame_message(
            call_id, 0, "ValueError", "the request is not valid JSON: %s" % error
        )


def _encode_meta(encode, meta):
    try:
        return "".join(encode(meta, 0)).encode()
    except Exception as error:
        raise type(error)("a tracked metric is not JSON serializable: %s" % error) from None
    finally:
        meta.clear()


def _batch(fn, meta, encode, payload, call_id):
    """One BATCH frame: fn gets the list of requests and must return a list as long."""
    ok, requests = _decode_request(payload, call_id)
    if not ok:
        return requests
    if not isinstance(requests, list):
        return _error_frame_message(
            call_id, 0, "TypeError", "a BATCH payload must be a JSON array of requests"
        )
    began = time.perf_counter_ns()
    try:
        responses = fn(requests)
    except Exception as exc:
        fn_ns = time.perf_counter_ns() - began
        meta.clear()
        return _error_frame(call_id, fn_ns, exc)
    fn_ns = time.perf_counter_ns() - began

    # @cdsw.model_metrics wraps the batch's answer once; each caller gets its own prediction
    # under the batch's uuid.
    tracked_uuid = meta.get("uuid") if meta else None
    if (
        tracked_uuid is not None
        and isinstance(responses, dict)
        and responses.keys() == {"prediction", "uuid"}
        and responses["uuid"] == tracked_uuid
    ):
        predictions = _as_list(responses["prediction"])
        if isinstance(predictions, list):
            responses = [{"prediction": p, "uuid": tracked_uuid} for p in predictions]
        else:
            responses = predictions
    else:
        responses = _as_list(responses)

    problem = None
    if not isinstance(responses, list):
        problem = (
            "TypeError",
            "the function was called with a batch of %d requests and must return a list of %d "
            "responses, not %s" % (len(requests), len(requests), type(responses).__name__),
        )
    elif len(responses) != len(requests):
        problem = (
            "ValueError",
            "the function was called with a batch of %d requests and returned a list of %d "
            "responses" % (len(requests), len(responses)),
        )
    if problem is not None:
        meta.clear()
        return _error_frame_message(call_id, fn_ns, *problem)
    try:
        body = "".join(encode(responses, 0)).encode()
        meta_bytes = _encode_meta(encode, meta) if meta else b""
    except Exception as exc:
        meta.clear()
        return _error_frame(call_id, fn_ns, exc, with_traceback=False)
    return (
        RESULT_HEADER.pack(
            len(body) + len(meta_bytes) + RESULT_FIXED, RESULT, call_id, fn_ns, len(meta_bytes)
        )
        + meta_bytes
        + body
    )


def _as_list(value):
    if isinstance(value, tuple):
        return list(value)
    if not isinstance(value, list):
        tolist = getattr(value, "tolist", None)  # a numpy array of answers
        if tolist is not None and callable(tolist):
            converted = tolist()
            if isinstance(converted, list):
                return converted
    return value


# ------------------------------------------------------------------------------------------------
# build


def _step(text):
    print("==> " + text, flush=True)


def _build():
    _setup_stdio()
    home = os.path.abspath(os.environ.get("LATHE_HOME") or os.getcwd())
    try:
        os.chdir(home)
    except OSError as error:
        print("build failed: cannot use %s as the working directory: %s" % (home, error))
        sys.exit(1)
    _step("python %s at %s" % (PYTHON_VERSION, sys.executable))
    _print_lineage_check(home)

    script = os.path.join(home, "cdsw-build.sh")
    script_output_sha256 = None
    if os.path.isfile(script):
        _step("running cdsw-build.sh")
        sys.stdout.flush()
        status, script_output_sha256 = _run_build_script(home)
        if status != 0:
            if status < 0:
                print("build failed: cdsw-build.sh was killed by signal %d" % -status, flush=True)
            else:
                print("build failed: cdsw-build.sh exited with status %d" % status, flush=True)
            sys.exit(1)
        _refresh_import_paths()
    else:
        _step("no cdsw-build.sh: nothing to install")

    _step(
        "importing %s and checking %s"
        % (os.environ.get("LATHE_MODEL_FILE", "?"), os.environ.get("LATHE_MODEL_FUNCTION", "?"))
    )
    sys.stdout.flush()
    model_file, function, _, seconds = _load(home, "build failed")
    print("found %s:%s (import %.2f s)" % (model_file, function, seconds))

    _step("recording the Python packages")
    packages = _installed_packages()
    record = {
        "python": PYTHON_VERSION,
        "interpreter": sys.executable,
        "packages": packages,
        "file": model_file,
        "function": function,
        "build_script_output_sha256": script_output_sha256,
    }
    folder = os.path.join(home, ".lathe")
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, "build.json.tmp")
    with open(temporary, "w") as out:
        json.dump(record, out, indent=2)
        out.write("\n")
    os.replace(temporary, os.path.join(folder, "build.json"))
    print("%d packages" % len(packages))
    print("build succeeded", flush=True)
    sys.exit(0)


def _print_lineage_check(home):
    """The server parsed lineage.yaml before the build; its findings belong in the build log."""
    try:
        path = os.path.join(home, ".lathe", "lineage-check.txt")
        with open(path, encoding="utf-8", errors="replace") as f:
            report = f.read()
    except OSError:
        return
    if report.strip():
        _step("checking lineage.yaml")
        sys.stdout.write(report if report.endswith("\n") else report + "\n")
        sys.stdout.flush()


def _run_build_script(home):
    """Runs cdsw-build.sh with its output streamed to the build log and hashed, so a rebuild can
    tell whether the script did the same thing. Returns (exit status, sha256 hex of the output)."""
    import hashlib
    import subprocess

    digest = hashlib.sha256()
    proc = subprocess.Popen(
        ["/bin/bash", "cdsw-build.sh"],
        cwd=home,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out = sys.stdout.buffer
    while True:
        chunk = proc.stdout.read1(65536)
        if not chunk:
            break
        digest.update(chunk)
        out.write(chunk)
        out.flush()
    proc.stdout.close()
    return proc.wait(), digest.hexdigest()


def _refresh_import_paths():
    """cdsw-build.sh may have run `pip install --user` and created the user site directory,
    which Python only puts on sys.path when it exists at start-up."""
    import importlib
    import site

    if site.ENABLE_USER_SITE:
        user_site = site.getusersitepackages()
        if os.path.isdir(user_site) and user_site not in sys.path:
            site.addsitedir(user_site)
    importlib.invalidate_caches()


def _installed_packages():
    """The distributions importable now, one per name (the first on sys.path, which is the one
    `import` finds), sorted by normalized name."""
    import importlib.metadata
    import re

    seen = {}
    for dist in importlib.metadata.distributions():
        try:
            name = dist.metadata["Name"]
            version = dist.version
        except Exception:  # a broken .dist-info: skip it rather than fail the build
            continue
        if not name:
            continue
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key not in seen:
            seen[key] = {"name": name, "version": version or ""}
    return [seen[key] for key in sorted(seen)]


def main(argv):
    if len(argv) != 2 or argv[1] not in ("serve", "build"):
        print(USAGE, file=sys.stderr)
        return 2
    if argv[1] == "serve":
        _serve()
    else:
        _build()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
