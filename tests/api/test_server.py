"""The HTTP server itself: health, error shapes, limits on bodies and headers, bad input on the
socket, keep-alive, request ids, the OpenAPI document and a clean shutdown."""

import http.client
import json
import os
import signal
import socket
import threading
import time

import pytest

from conftest import (
    RELAXED_LOGIN_LIMITS,
    assert_error,
    create_project,
    list_all,
    raw_exchange,
    start_server,
    unique,
)

MiB = 1024 * 1024


# ---------------------------------------------------------------------------------------------
# Health and documents


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_need_no_credentials(lathe, path):
    status, headers, body = lathe.client().get(path)
    assert status == 200
    assert body == {"status": "ok"}
    assert "json" in headers["Content-Type"]


def test_openapi_document(lathe):
    status, headers, body = lathe.client().get("/api/v2/openapi.json")
    assert status == 200
    assert "json" in headers["Content-Type"]
    assert isinstance(body, dict), "openapi.json is not valid JSON"
    assert str(body["openapi"]).startswith("3.")
    assert body["info"]["title"]
    paths = body["paths"]
    for documented in [
        "/api/v2/projects",
        "/api/v2/auth/login",
        "/api/v2/auth/logout",
        "/api/v2/users",
        "/api/v2/keys",
        "/api/v2/teams",
        "/api/v2/audit",
    ]:
        assert documented in paths, f"{documented} missing from openapi.json"


# ---------------------------------------------------------------------------------------------
# Error shapes


@pytest.mark.parametrize(
    "path", ["/api/v2/nope", "/api/v2/projects/1/nope", "/api/v3/projects", "/api/v2/"]
)
def test_unknown_path_is_404_json(user, path):
    reply = user.client.get(path)
    assert_error(reply, 404, "not_found")
    assert "json" in reply.headers["Content-Type"]


@pytest.mark.parametrize(
    "method,path",
    [
        ("DELETE", "/healthz"),
        ("POST", "/readyz"),
        ("PUT", "/api/v2/projects"),
        ("DELETE", "/api/v2/projects"),
        ("GET", "/api/v2/auth/logout"),
        ("PUT", "/api/v2/auth/login"),
        ("POST", "/api/v2/keys"),
        ("POST", "/api/v2/openapi.json"),
    ],
)
def test_wrong_method_is_405(user, method, path):
    reply = user.client.request(method, path, {} if method != "GET" else None)
    assert_error(reply, 405, "method_not_allowed")


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": ',
        b"{'name': 'x'}",
        b'{"name": "x"} trailing',
        b"\xff\xfe{}",
        b"",
        b"[1, 2]",
        b"null",
        b'"just a string"',
        b'{"name": "x", "name": 5, }',
    ],
    ids=[
        "truncated",
        "single_quotes",
        "trailing",
        "bad_utf8",
        "empty",
        "array",
        "null",
        "string",
        "trailing_comma",
    ],
)
def test_malformed_json_body_is_400(lathe, user, body):
    before = len(list_all(user.client, "/api/v2/projects", "projects"))
    reply = user.client.post("/api/v2/projects", body, headers={"Content-Type": "application/json"})
    assert_error(reply, 400, "bad_request")
    assert len(list_all(user.client, "/api/v2/projects", "projects")) == before


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000, b"[" * 200_000],
    ids=["deep_arrays", "deep_objects", "unclosed"],
)
def test_deeply_nested_json_is_400_and_server_stays_up(lathe, user, body):
    reply = user.client.post("/api/v2/projects", body, headers={"Content-Type": "application/json"})
    assert_error(reply, 400, "bad_request")
    assert lathe.client().get("/healthz").status == 200


def test_json_body_over_5_mib_is_413(lathe, user):
    body = json.dumps({"name": unique("big"), "description": "d" * (5 * MiB)}).encode()
    head = (
        f"POST /api/v2/projects HTTP/1.1\r\nHost: lathe\r\nAuthorization: Bearer {user.key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    reply = raw_exchange(lathe.host, lathe.port, head, body)
    assert reply is not None, "connection closed without an answer"
    assert_error(reply, 413, "payload_too_large")
    assert lathe.client().get("/healthz").status == 200


# ---------------------------------------------------------------------------------------------
# --max-body-bytes


BODY_LIMIT = 4096


@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    server = start_server(
        tmp_path_factory.mktemp("lathe-tight"),
        "--max-body-bytes",
        str(BODY_LIMIT),
        *RELAXED_LOGIN_LIMITS,
    )
    yield server
    assert server.stop() == 0, server.output


@pytest.fixture(scope="module")
def tight_user(tight):
    return tight.create_user("tight")


def project_names(client):
    return {p["name"] for p in list_all(client, "/api/v2/projects", "projects")}


def test_body_under_the_limit_is_accepted(tight_user):
    name = unique("fits")
    reply = tight_user.client.post("/api/v2/projects", {"name": name, "description": "d" * 3000})
    assert reply.status == 201, reply


def test_body_over_the_limit_is_413(tight_user):
    name = unique("toobig")
    reply = tight_user.client.post("/api/v2/projects", {"name": name, "description": "d" * 5000})
    assert_error(reply, 413, "payload_too_large")
    assert name not in project_names(tight_user.client)


def chunked(data, size=1000):
    out = b"".join(
        b"%x\r\n%s\r\n" % (len(data[i : i + size]), data[i : i + size])
        for i in range(0, len(data), size)
    )
    return out + b"0\r\n\r\n"


def test_chunked_body_over_the_limit_is_413(tight, tight_user):
    name = unique("chunky")
    data = json.dumps({"name": name, "description": "d" * 10_000}).encode()
    head = (
        f"POST /api/v2/projects HTTP/1.1\r\nHost: lathe\r\n"
        f"Authorization: Bearer {tight_user.key}\r\n"
        f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    # sent in small pieces so that an early answer is noticed before the whole body is written
    reply = raw_exchange(tight.host, tight.port, head, chunked(data), piece=512, timeout=10)
    assert reply is not None, "connection closed without an answer"
    assert_error(reply, 413, "payload_too_large")
    assert name not in project_names(tight_user.client)


def test_lying_content_length_is_413_without_waiting_for_the_body(tight, tight_user):
    name = unique("liar")
    body = json.dumps({"name": name}).encode()
    head = (
        f"POST /api/v2/projects HTTP/1.1\r\nHost: lathe\r\n"
        f"Authorization: Bearer {tight_user.key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n"
    ).encode()
    started = time.monotonic()
    reply = raw_exchange(tight.host, tight.port, head, body, timeout=10)
    assert reply is not None, "connection closed without an answer"
    assert_error(reply, 413, "payload_too_large")
    assert time.monotonic() - started < 5
    assert name not in project_names(tight_user.client)


def test_body_limit_applies_to_every_json_endpoint(tight_user):
    project = create_project(tight_user.client)
    reply = tight_user.client.put(
        f"/api/v2/projects/{project['id']}/env/BIG", {"value": "v" * (BODY_LIMIT + 10)}
    )
    assert_error(reply, 413, "payload_too_large")
    reply = tight_user.client.patch(
        f"/api/v2/users/{tight_user.username}", {"display_name": "n" * (BODY_LIMIT + 10)}
    )
    assert_error(reply, 413, "payload_too_large")


def test_file_uploads_are_not_capped_by_the_json_limit(tight_user):
    project = create_project(tight_user.client)
    data = os.urandom(64 * 1024)
    path = f"/api/v2/projects/{project['id']}/files/upload.bin"
    assert tight_user.client.put(path, data).status == 201
    assert tight_user.client.get(path + ":download").raw == data


# ---------------------------------------------------------------------------------------------
# Bad bytes on the socket


@pytest.mark.parametrize("shape", ["one_big_header", "many_headers", "huge_url"])
def test_oversized_headers_are_431(lathe, shape):
    if shape == "one_big_header":
        extra = "X-Big: " + "a" * (64 * 1024) + "\r\n"
        target = "/healthz"
    elif shape == "many_headers":
        extra = "".join(f"X-H{i}: {'v' * 60}\r\n" for i in range(1200))
        target = "/healthz"
    else:
        extra = ""
        target = "/healthz?q=" + "a" * (64 * 1024)
    head = f"GET {target} HTTP/1.1\r\nHost: lathe\r\n{extra}\r\n".encode()
    reply = raw_exchange(lathe.host, lathe.port, head)
    assert reply is not None, "connection closed without an answer"
    if shape == "huge_url":
        assert reply.status in (414, 431), reply
    else:
        assert_error(reply, 431, "headers_too_large")
    assert lathe.client().get("/healthz").status == 200


@pytest.mark.parametrize(
    "garbage",
    [
        b"HELLO WORLD\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(32)) + b"\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost lathe\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: lathe\r\nContent-Length: -5\r\n\r\n",
        b"POST /api/v2/auth/login HTTP/1.1\r\nHost: lathe\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"\x00" * 64 + b"\r\n\r\n",
    ],
    ids=["text", "tls_hello", "no_target", "bad_header", "negative_length", "bad_chunk", "nuls"],
)
def test_garbage_on_the_socket_is_400_and_server_stays_up(lathe, garbage):
    reply = raw_exchange(lathe.host, lathe.port, garbage, timeout=10)
    assert reply is not None, "connection closed without an answer"
    assert reply.status == 400, reply
    assert lathe.client().get("/healthz").status == 200


def test_half_sent_request_does_not_block_others(lathe, user):
    stalled = socket.create_connection((lathe.host, lathe.port), timeout=10)
    try:
        stalled.sendall(b"GET /healthz HTTP/1.1\r\nHost: lathe\r\nX-Slow: ")
        started = time.monotonic()
        for _ in range(20):
            assert user.client.get("/api/v2/auth/session").status == 200
        assert time.monotonic() - started < 5
    finally:
        stalled.close()


def test_many_concurrent_clients(lathe, user):
    failures = []

    def worker():
        for _ in range(10):
            try:
                reply = user.client.get("/api/v2/auth/session")
                if reply.status != 200:
                    failures.append(reply)
            except Exception as err:  # noqa: BLE001 - any failure counts
                failures.append(err)

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == []


# ---------------------------------------------------------------------------------------------
# Keep-alive and request ids


def test_keep_alive_serves_several_requests_on_one_connection(user):
    c = user.client
    conn = c.connection()
    try:
        first = c.get("/healthz", conn=conn)
        assert first.status == 200
        sock = conn.sock
        assert sock is not None, "the server closed the connection after one request"
        name = unique("keepalive")
        steps = [
            ("GET", "/api/v2/auth/session", None, 200),
            ("POST", "/api/v2/projects", {"name": name}, 201),
            ("GET", "/api/v2/nope", None, 404),
            ("GET", "/api/v2/projects", None, 200),
            ("PUT", "/api/v2/projects", {}, 405),
        ]
        for method, path, body, expected in steps:
            reply = c.request(method, path, body, conn=conn)
            assert reply.status == expected, (method, path, reply)
            assert conn.sock is sock, f"connection not kept alive after {method} {path}"
    finally:
        conn.close()


def test_every_response_carries_a_request_id(lathe, user):
    c, anon = user.client, lathe.client()
    project = create_project(c)
    replies = [
        anon.get("/healthz"),
        anon.get("/readyz"),
        anon.get("/api/v2/openapi.json"),
        anon.get("/api/v2/projects"),
        anon.post("/api/v2/auth/login", {"username": "nobody", "password": "wrong-password"}),
        c.get("/api/v2/projects"),
        c.get("/api/v2/nope"),
        c.request("PUT", "/api/v2/projects", {}),
        c.post("/api/v2/projects", "{bad json"),
        c.post("/api/v2/projects", {"name": unique("rid")}),
        c.get(f"/api/v2/projects/{project['id']}/files/missing"),
        c.get("/api/v2/audit"),
        c.delete(f"/api/v2/projects/{project['id']}"),
    ]
    raw = raw_exchange(lathe.host, lathe.port, b"HELLO WORLD\r\n\r\n")
    if raw is not None:
        replies.append(raw)
    ids = []
    for r in replies:
        rid = r.headers.get("X-Request-Id")
        assert rid and rid.strip(), f"no X-Request-Id on {r!r}"
        ids.append(rid)
    assert len(set(ids)) == len(ids), "request ids are not unique"


# ---------------------------------------------------------------------------------------------
# Shutdown


def test_sigterm_finishes_the_in_flight_request_and_exits_0(lathe_factory):
    server = lathe_factory()
    project = create_project(server.admin)
    size = 4 * MiB
    data = os.urandom(size)
    path = f"/api/v2/projects/{project['id']}/files/inflight.bin"
    sock = socket.create_connection((server.host, server.port), timeout=30)
    try:
        sock.sendall(
            (
                f"PUT {path} HTTP/1.1\r\nHost: lathe\r\n"
                f"Authorization: Bearer {server.admin.api_key}\r\n"
                f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
            ).encode()
        )
        sock.sendall(data[: size // 2])
        time.sleep(0.5)
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        assert server.proc.poll() is None, "server exited with a request in flight"
        # while draining, new requests are turned away (refused, or 503 unavailable)
        try:
            late = server.client().get("/healthz")
            assert_error(late, 503, "unavailable")
        except (ConnectionError, http.client.RemoteDisconnected):
            pass
        sock.sendall(data[size // 2 :])
        resp = http.client.HTTPResponse(sock, method="PUT")
        resp.begin()
        body = resp.read()
        assert resp.status == 201, body
    finally:
        sock.close()
    code = server.proc.wait(timeout=30)
    assert code == 0, server.output

    # the upload it finished is complete after a restart
    again = lathe_factory(data_dir=server.data_dir, admin_password=server.admin_password)
    assert again.admin.get(path + ":download").raw == data


def test_sigterm_on_idle_server_exits_0_promptly(lathe_factory):
    server = lathe_factory()
    idle = socket.create_connection((server.host, server.port), timeout=10)  # an idle keep-alive
    try:
        assert server.client().get("/healthz").status == 200
        started = time.monotonic()
        code = server.stop()
        assert code == 0, server.output
        assert time.monotonic() - started < 10
    finally:
        idle.close()


def test_access_log_has_request_ids_and_no_secrets(lathe_factory, tmp_path):
    log = tmp_path / "access.log"
    server = lathe_factory("--access-log", str(log))
    user = server.create_user("logged")
    project = create_project(user.client)
    secret = "hidden-" + os.urandom(8).hex()
    replies = [
        user.client.put(
            f"/api/v2/projects/{project['id']}/env/TOKEN", {"value": secret, "hidden": True}
        ),
        user.client.get("/api/v2/nope"),
        server.client().get("/api/v2/projects"),
    ]
    assert server.stop() == 0
    text = log.read_text()
    for reply in replies:
        assert reply.headers["X-Request-Id"] in text, "request id missing from the access log"
    assert secret not in text and secret not in server.output
    assert user.key not in text and user.key not in server.output
    assert user.password not in text and user.password not in server.output
