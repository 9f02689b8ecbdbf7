"""The model worker in serve mode, driven by a fake serving listener (see conftest.py)."""

import json
import os
import signal
import struct
import time

from conftest import BATCH, CALL, ERROR, PING, PONG, REFUSED, RESULT, frame

ECHO = {"predict.py": "def predict(args):\n    return args\n"}


def test_echo_round_trip(start_worker):
    worker = start_worker(ECHO)
    assert worker.hello["token"] == "secret-token"
    assert worker.hello["protocol"] == 1
    assert worker.hello["pid"] == worker.process.pid
    assert worker.hello["python"].count(".") == 2
    request = {"x": [1, 2.5, None, True], "name": "héllo ✓", "nested": {"a": {}}}
    answer = worker.call(request, call_id=7)
    assert answer.type == RESULT and answer.id == 7
    assert answer.body == request
    assert answer.meta is None  # no metrics: no meta at all
    assert answer.fn_ns > 0
    assert worker.call("just a string", call_id=8).body == "just a string"
    assert worker.call(None, call_id=9).body is None
    worker.stdout.wait_for("model ready: predict.py:predict (import ")
    worker.stdout.wait_for("batches of up to 8)")


def test_pipelined_calls_answered_in_order(start_worker):
    worker = start_worker(ECHO)
    worker.send(b"".join(frame(CALL, i, json.dumps({"i": i})) for i in range(1, 501)))
    answers = [worker.recv() for _ in range(500)]
    assert [a.id for a in answers] == list(range(1, 501))
    assert [a.body["i"] for a in answers] == list(range(1, 501))


def test_frames_split_byte_by_byte(start_worker):
    worker = start_worker(ECHO)
    data = frame(CALL, 1, '{"a":1}') + frame(PING, 2) + frame(CALL, 3, "[1,2,3]")
    for i in range(len(data)):
        worker.send(data[i : i + 1])
        time.sleep(0.001)
    first, pong, third = worker.recv(), worker.recv(), worker.recv()
    assert (first.id, first.body) == (1, {"a": 1})
    assert (pong.type, pong.id) == (PONG, 2)
    assert (third.id, third.body) == (3, [1, 2, 3])


def test_large_request_grows_the_buffer(start_worker):
    worker = start_worker({"predict.py": "def predict(args):\n    return len(args['blob'])\n"})
    blob = "x" * (3 << 20)
    worker.send(frame(CALL, 1, json.dumps({"blob": blob})) + frame(CALL, 2, '{"blob": "yz"}'))
    assert worker.recv().body == 3 << 20
    assert worker.recv().body == 2


def test_ping_answered_in_order_with_calls(start_worker):
    worker = start_worker(
        {"predict.py": "import time\ndef predict(args):\n    time.sleep(0.05)\n    return args\n"}
    )
    worker.send(frame(CALL, 1, "1") + frame(PING, 2) + frame(CALL, 3, "3") + frame(PING, 4))
    answers = [worker.recv() for _ in range(4)]
    assert [(a.type, a.id) for a in answers] == [(RESULT, 1), (PONG, 2), (RESULT, 3), (PONG, 4)]
    assert answers[1].payload == b""


def test_function_raising_sends_error_with_traceback(start_worker):
    worker = start_worker(
        {
            "predict.py": """\
            def helper(x):
                raise ValueError("bad input: %r" % x)

            def predict(args):
                return helper(args["x"])
            """
        }
    )
    answer = worker.call({"x": 42})
    assert answer.type == ERROR and answer.id == 1
    assert answer.error["message"] == "ValueError: bad input: 42"
    assert answer.error["type"] == "ValueError"
    tb = answer.error["traceback"]
    assert tb.startswith("Traceback (most recent call last):")
    assert "predict.py" in tb and "in helper" in tb and "in predict" in tb
    assert "lathe_worker.py" not in tb  # the user's frames only
    assert answer.fn_ns > 0
    # The worker goes on serving.
    worker.send(frame(CALL, 2, '{"x": 0}'))
    assert worker.recv().error["message"] == "ValueError: bad input: 0"


def test_exception_without_message_and_custom_type(start_worker):
    worker = start_worker(
        {
            "predict.py": """\
            class ModelNotReady(Exception):
                pass

            def predict(args):
                if args:
                    raise ModelNotReady()
                raise KeyError("feature")
            """
        }
    )
    answer = worker.call(1)
    assert answer.error["message"] == "ModelNotReady"
    assert answer.error["type"] == "ModelNotReady"
    assert worker.call(0, call_id=2).error["message"] == "KeyError: 'feature'"


def test_invalid_json_request_is_an_error_not_a_crash(start_worker):
    worker = start_worker(ECHO)
    worker.send(
        frame(CALL, 1, b"{not json") + frame(CALL, 2, b"\xff\xfe") + frame(CALL, 3, " [1] ")
    )
    bad, worse, spaced = worker.recv(), worker.recv(), worker.recv()
    assert bad.type == ERROR and bad.error["type"] == "ValueError"
    assert "not valid JSON" in bad.error["message"]
    assert worse.type == ERROR and "not valid JSON" in worse.error["message"]
    assert spaced.type == RESULT and spaced.body == [1]
    deep = "[" * 100000 + "]" * 100000
    worker.send(frame(CALL, 4, deep) + frame(BATCH, 5, deep) + frame(CALL, 6, "7"))
    assert [worker.recv().type for _ in range(2)] == [ERROR, ERROR]
    assert worker.recv().body == 7


def test_missing_function_exits_1_with_traceback(start_worker):
    worker = start_worker(
        {"predict.py": "def other(args):\n    return 1\n"}, function="predict", connect=False
    )
    assert worker.wait() == 1
    err = worker.stderr.text()
    assert "Traceback (most recent call last):" in err
    assert "predict.py has no function named 'predict' (it defines: other)" in err


def test_not_callable_exits_1(start_worker):
    worker = start_worker({"predict.py": "predict = 42\n"}, connect=False)
    assert worker.wait() == 1
    assert "'predict' is a int, not a function" in worker.stderr.text()


def test_import_error_exits_1_with_traceback(start_worker):
    worker = start_worker(
        {"predict.py": "import json\nimport no_such_module_here\ndef predict(a):\n    return a\n"},
        connect=False,
    )
    assert worker.wait() == 1
    err = worker.stderr.text()
    assert "Traceback (most recent call last):" in err
    assert 'predict.py", line 2, in <module>' in err
    assert "ModuleNotFoundError: No module named 'no_such_module_here'" in err
    assert "importlib" not in err  # the user's frames, not the import machinery's
    # It never dialed the server.
    worker.listener.settimeout(0.2)
    try:
        worker.listener.accept()
        raise AssertionError("the worker connected after a failed import")
    except OSError:
        pass


def test_syntax_error_exits_1(start_worker):
    worker = start_worker({"predict.py": "def predict(args)\n    return args\n"}, connect=False)
    assert worker.wait() == 1
    err = worker.stderr.text()
    assert "SyntaxError" in err and "predict.py" in err


def test_missing_model_file_exits_1(start_worker):
    worker = start_worker({}, file="nope.py", connect=False)
    assert worker.wait() == 1
    assert "model file nope.py not found in" in worker.stderr.text()


def test_refused_exits_1_with_message(start_worker):
    worker = start_worker(ECHO, connect=False)
    worker.accept()
    worker.send(frame(REFUSED, 0, json.dumps({"message": "unknown replica token"})))
    worker.close()
    assert worker.wait() == 1
    assert "unknown replica token" in worker.stderr.text()


def test_connection_close_exits_0(start_worker):
    worker = start_worker(ECHO)
    assert worker.call([1]).body == [1]
    worker.close()
    assert worker.wait() == 0


def test_sigterm_exits_0_promptly_even_inside_the_function(start_worker):
    worker = start_worker(
        {
            "predict.py": """\
            import time
            def predict(args):
                print("sleeping", flush=True)
                time.sleep(60)
            """
        }
    )
    worker.send(frame(CALL, 1, "{}"))
    worker.stdout.wait_for("sleeping")
    began = time.monotonic()
    worker.process.send_signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert time.monotonic() - began < 2


def test_user_print_reaches_the_log_live(start_worker):
    # Without PYTHONUNBUFFERED, a pipe would block-buffer stdout; the worker must not.
    worker = start_worker(
        {"predict.py": "def predict(args):\n    print('predicting', args)\n    return args\n"}
    )
    assert worker.call(5).body == 5
    worker.stdout.wait_for("predicting 5", timeout=2)


def test_batch_ok(start_worker):
    worker = start_worker(
        {"predict.py": "def predict(batch):\n    return [{'y': r['x'] * 2} for r in batch]\n"}
    )
    worker.send(frame(BATCH, 3, json.dumps([{"x": 1}, {"x": 2}, {"x": 3}])))
    answer = worker.recv()
    assert (answer.type, answer.id) == (RESULT, 3)
    assert answer.body == [{"y": 2}, {"y": 4}, {"y": 6}]


def test_batch_wrong_length_or_type_is_an_error(start_worker):
    worker = start_worker(
        {
            "predict.py": """\
            def predict(batch):
                if len(batch) == 2:
                    return {"not": "a list"}
                return batch[:-1]
            """
        }
    )
    worker.send(frame(BATCH, 1, "[1, 2, 3]") + frame(BATCH, 2, "[1, 2]"))
    short, not_list = worker.recv(), worker.recv()
    assert short.type == ERROR and short.error["type"] == "ValueError"
    assert "batch of 3 requests and returned a list of 2 responses" in short.error["message"]
    assert not_list.type == ERROR and not_list.error["type"] == "TypeError"
    assert "must return a list of 2 responses, not dict" in not_list.error["message"]


def test_non_json_responses_are_converted(start_worker):
    worker = start_worker(
        {
            "predict.py": """\
            import datetime, decimal

            class Array:  # quacks like a numpy array
                def tolist(self):
                    return [[1.0, 2.0], [3.0, 4.0]]

            class Scalar:  # quacks like a numpy scalar
                def item(self):
                    return 7

            def predict(args):
                return {
                    "array": Array(),
                    "scalar": Scalar(),
                    "when": datetime.datetime(2026, 11, 24, 7, 30, 0),
                    "day": datetime.date(2026, 11, 24),
                    "price": decimal.Decimal("1.25"),
                    "tags": {"a"},
                    "pair": (1, 2),
                    "raw": b"bytes",
                }
            """
        }
    )
    assert worker.call({}).body == {
        "array": [[1.0, 2.0], [3.0, 4.0]],
        "scalar": 7,
        "when": "2026-11-24T07:30:00",
        "day": "2026-11-24",
        "price": 1.25,
        "tags": ["a"],
        "pair": [1, 2],
        "raw": "bytes",
    }


def test_unconvertible_response_is_a_type_error(start_worker):
    worker = start_worker(
        {
            "predict.py": """\
            class Opaque:
                pass

            def predict(args):
                if args == "nan":
                    return float("nan")
                if args == "bytes":
                    return b"\\xff"
                if isinstance(args, dict):
                    return args
                return {"model": Opaque()}
            """
        }
    )
    answer = worker.call("opaque")
    assert answer.type == ERROR
    assert answer.error["type"] == "TypeError"
    assert answer.error["message"] == "TypeError: Object of type Opaque is not JSON serializable"
    assert worker.call("bytes", 2).error["type"] == "TypeError"
    nan = worker.call("nan", 3)
    assert nan.type == ERROR and "not JSON compliant" in nan.error["message"]
    assert worker.call({"fine": 1}, 4).body == {"fine": 1}  # nothing left over


def test_model_metrics_response_and_meta(start_worker):
    worker = start_worker(
        {
            "predict.py": """\
            import cdsw

            @cdsw.model_metrics
            def predict(args):
                cdsw.track_metric("input", args)
                cdsw.track_metric("score", 0.75)
                return {"y": args["x"] + 1}
            """
        }
    )
    before_ms = int(time.time() * 1000)
    answer = worker.call({"x": 1})
    after_ms = int(time.time() * 1000)
    assert answer.type == RESULT
    assert set(answer.body) == {"prediction", "uuid"}
    assert answer.body["prediction"] == {"y": 2}
    uuid = answer.body["uuid"]
    assert len(uuid) == 36 and uuid[14] == "4"  # a uuid4
    meta = answer.meta
    assert meta["uuid"] == uuid
    assert before_ms <= meta["start_ms"] <= meta["end_ms"] <= after_ms
    assert meta["metrics"] == {"input": {"x": 1}, "score": 0.75}
    # Each call is its own prediction: a new uuid, only its own metrics.
    second = worker.call({"x": 5}, call_id=2)
    assert second.body["uuid"] != uuid
    assert second.meta["metrics"] == {"input": {"x": 5}, "score": 0.75}


def test_model_metrics_on_a_batch(start_worker):
    worker = start_worker(
        {
            "predict.py": """\
            import cdsw

            @cdsw.model_metrics
            def predict(batch):
                cdsw.track_metric("size", len(batch))
                return [r * 10 for r in batch]
            """
        }
    )
    worker.send(frame(BATCH, 1, "[1, 2]"))
    answer = worker.recv()
    uuid = answer.meta["uuid"]
    assert answer.body == [{"prediction": 10, "uuid": uuid}, {"prediction": 20, "uuid": uuid}]
    assert answer.meta["metrics"] == {"size": 2}


def test_track_metric_without_decorator(start_worker):
    worker = start_worker(
        {
            "predict.py": """\
            import cdsw

            cdsw.track_metric("at_import", 1)  # belongs to no call

            def predict(args):
                if args.get("track"):
                    cdsw.track_metric("confidence", 0.9)
                if args.get("fail"):
                    cdsw.track_metric("lost", 1)
                    raise RuntimeError("boom")
                return "ok"
            """
        }
    )
    tracked = worker.call({"track": True})
    assert tracked.body == "ok"
    assert tracked.meta == {"metrics": {"confidence": 0.9}}
    assert worker.call({}, call_id=2).meta is None
    assert worker.call({"fail": True}, call_id=3).type == ERROR
    assert worker.call({}, call_id=4).meta is None  # the failed call's metrics are gone


def test_unserializable_metric_is_an_error(start_worker):
    worker = start_worker(
        {
            "predict.py": """\
            import cdsw

            def predict(args):
                if args:
                    cdsw.track_metric("bad", object())
                return 1
            """
        }
    )
    answer = worker.call(True)
    assert answer.type == ERROR
    assert "a tracked metric is not JSON serializable" in answer.error["message"]
    assert worker.call(False, call_id=2).meta is None


def test_model_in_a_subfolder_with_sibling_imports_and_pickle(start_worker, home):
    worker = start_worker(
        {
            "src/features.py": "def double(x):\n    return 2 * x\n",
            "src/model.py": """\
            import os, pickle
            import features

            class Scaler:
                def __init__(self, k):
                    self.k = k

            def predict(args):
                scaler = pickle.loads(pickle.dumps(Scaler(3)))  # needs sys.modules["model"]
                return {"y": features.double(args) * scaler.k, "cwd": os.getcwd(),
                        "module": __name__}
            """,
        },
        file="src/model.py",
    )
    body = worker.call(2).body
    assert body == {"y": 12, "cwd": str(home), "module": "model"}
    worker.stdout.wait_for("model ready: src/model.py:predict")


def test_home_is_first_on_sys_path(start_worker, home):
    worker = start_worker(
        {
            "predict.py": "import sys\ndef predict(args):\n    return sys.path[0]\n",
            # a project module shadows an installed one, as in a CML session
            "cdsw_helpers.py": "",
        }
    )
    assert worker.call(None).body == str(home)


def test_protocol_error_exits_1(start_worker):
    worker = start_worker(ECHO)
    worker.send(struct.pack(">IBI", 2, CALL, 1))  # a length below the 5-byte minimum
    assert worker.wait() == 1
    assert "protocol error" in worker.stderr.text()


def test_no_sdk_on_the_path_still_serves(start_worker):
    worker = start_worker(ECHO, env={"PYTHONPATH": ""})
    assert worker.call({"a": 1}).body == {"a": 1}


def test_working_directory_and_env(start_worker, home):
    worker = start_worker(
        {
            "predict.py": "import os\ndef predict(a):\n    return open('data.txt').read()\n",
            "data.txt": "model data",
        }
    )
    assert worker.call(None).body == "model data"
    assert os.path.isdir(home)


def test_model_metrics_traceback_shows_only_user_frames(start_worker):
    worker = start_worker(
        {
            "predict.py": """\
            import cdsw

            @cdsw.model_metrics
            def predict(args):
                cdsw.track_metric("seen", 1)
                return 1 / args
            """
        }
    )
    answer = worker.call(0)
    assert answer.error["message"] == "ZeroDivisionError: division by zero"
    tb = answer.error["traceback"].splitlines()
    assert tb[0] == "Traceback (most recent call last):"
    assert 'predict.py", line 6, in predict' in tb[1]
    assert "cdsw" not in answer.error["traceback"]
    assert worker.call(1, call_id=2).body["prediction"] == 1.0


def test_model_file_named_like_a_stdlib_module(start_worker):
    worker = start_worker(
        {"json.py": "def predict(args):\n    return {'from': __name__}\n"}, file="json.py"
    )
    assert worker.call([1]).body == {"from": "lathe_model_json"}


def test_concurrency_runs_calls_at_once_and_keeps_metrics_apart(start_worker):
    files = {
        "predict.py": (
            "import time, threading, cdsw\n"
            "@cdsw.model_metrics\n"
            "def predict(args):\n"
            "    cdsw.track_metric('i', args['i'])\n"
            "    time.sleep(args['sleep'])\n"
            "    cdsw.track_metric('thread', threading.current_thread().name)\n"
            "    return args['i']\n"
        )
    }
    worker = start_worker(files, env={"LATHE_CONCURRENCY": "4"})
    started = time.monotonic()
    # The first call sleeps longest: with 4 threads the others answer before it.
    worker.send(b"".join(
        frame(CALL, i, json.dumps({"i": i, "sleep": 0.6 if i == 1 else 0.2})) for i in range(1, 5)
    ))
    answers = [worker.recv() for _ in range(4)]
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, elapsed  # one at a time would take 1.2 s
    assert answers[-1].id == 1
    for a in answers:
        assert a.type == RESULT
        assert a.body["prediction"] == a.id
        assert a.meta["metrics"]["i"] == a.id  # each call's metrics, not a neighbour's
        assert a.meta["uuid"] == a.body["uuid"]
    assert len({a.meta["metrics"]["thread"] for a in answers}) == 4
    pong = worker.send(frame(PING, 5)) or worker.recv()
    assert pong.type == PONG
