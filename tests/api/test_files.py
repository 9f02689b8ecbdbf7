"""Project files: upload/stat/list/download, directories, rename, delete, tar downloads, path
traversal, symlinks planted on disk, and the per-file and per-project size limits."""

import hashlib
import io
import os
import random
import secrets
import socket
import tarfile
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest import (
    RELAXED_LOGIN_LIMITS,
    assert_error,
    create_project,
    parse_time,
    raw_exchange,
    start_server,
    unique,
)

MiB = 1024 * 1024


def files_url(project, path=""):
    base = f"/api/v2/projects/{project['id']}/files"
    return f"{base}/{path}" if path else base


def quote(path):
    return urllib.parse.quote(path, safe="/")


def names_in(reply):
    assert reply.status == 200, reply
    return {f["name"]: f for f in reply.body["files"]}


def check_entry(entry, path, kind, size=None):
    assert entry["path"] == path
    assert entry["name"] == path.rsplit("/", 1)[-1]
    assert entry["type"] == kind
    if size is not None:
        assert entry["size"] == size
    parse_time(entry["modified_at"])


def project_dir(server, project):
    return server.data_dir / "projects" / str(project["id"])


# ---------------------------------------------------------------------------------------------
# Round trips


def test_upload_stat_list_download_round_trip(user, project):
    c = user.client
    payload = bytes(range(256)) * 64 + os.urandom(1000) + b"\r\n\x00end"
    status, _, entry = c.put(files_url(project, "bin/data.bin"), payload)
    assert status == 201, entry
    check_entry(entry, "bin/data.bin", "file", len(payload))

    status, _, stat = c.get(files_url(project, "bin/data.bin"))
    assert status == 200
    check_entry(stat, "bin/data.bin", "file", len(payload))

    reply = c.get(files_url(project, "bin/data.bin:download"))
    assert reply.status == 200
    assert reply.raw == payload
    if reply.headers.get("Content-Length"):
        assert int(reply.headers["Content-Length"]) == len(payload)

    root = names_in(c.get(files_url(project)))
    assert root["bin"]["type"] == "directory"
    check_entry(root["bin"], "bin", "directory")
    inner = names_in(c.get(files_url(project, "bin")))
    check_entry(inner["data.bin"], "bin/data.bin", "file", len(payload))


def test_overwrite_replaces_content(user, project):
    c = user.client
    assert c.put(files_url(project, "a.txt"), b"first version, longer").status == 201
    reply = c.put(files_url(project, "a.txt"), b"second")
    assert reply.status == 201, reply
    assert reply.body["size"] == 6
    assert c.get(files_url(project, "a.txt:download")).raw == b"second"


def test_empty_file(user, project):
    c = user.client
    status, _, entry = c.put(files_url(project, "empty"), b"")
    assert status == 201 and entry["size"] == 0
    reply = c.get(files_url(project, "empty:download"))
    assert reply.status == 200 and reply.raw == b""


def test_unicode_and_space_names_round_trip(user, project):
    c = user.client
    path = "my dir/ünï côdé 🚀.txt"
    status, _, entry = c.put(files_url(project, quote(path)), "hello".encode())
    assert status == 201, entry
    assert entry["path"] == path
    assert c.get(files_url(project, quote(path) + ":download")).raw == b"hello"
    assert "ünï côdé 🚀.txt" in names_in(c.get(files_url(project, quote("my dir"))))


def stream(total, seed, chunk=MiB, digest=None):
    rng = random.Random(seed)
    sent = 0
    while sent < total:
        n = min(chunk, total - sent)
        block = rng.randbytes(n)
        if digest is not None:
            digest.update(block)
        sent += n
        yield block


@pytest.mark.parametrize("framing", ["chunked", "content_length"])
def test_20_mib_streamed_upload(user, project, framing):
    size = 20 * MiB + 123
    digest = hashlib.sha256()
    headers = {"Content-Length": str(size)} if framing == "content_length" else None
    reply = user.client.put(
        files_url(project, f"big-{framing}.bin"),
        stream(size, framing, digest=digest),
        headers=headers,
    )
    assert reply.status == 201, reply
    assert reply.body["size"] == size

    conn = user.client.connection()
    try:
        conn.request(
            "GET",
            files_url(project, f"big-{framing}.bin:download"),
            headers=user.client.auth_headers(),
        )
        resp = conn.getresponse()
        assert resp.status == 200
        got, n = hashlib.sha256(), 0
        while block := resp.read(MiB):
            got.update(block)
            n += len(block)
    finally:
        conn.close()
    assert n == size
    assert got.hexdigest() == digest.hexdigest()


def peak_rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.mark.slow
def test_uploads_are_streamed_not_held_in_memory(lathe_factory):
    server = lathe_factory()
    project = create_project(server.admin)
    assert server.admin.put(files_url(project, "warmup.bin"), os.urandom(MiB)).status == 201
    before = peak_rss_bytes(server.proc.pid)
    size = 256 * MiB
    digest = hashlib.sha256()
    reply = server.admin.put(
        files_url(project, "huge.bin"),
        stream(size, "huge", digest=digest),
        headers={"Content-Length": str(size)},
    )
    assert reply.status == 201, reply
    grown = peak_rss_bytes(server.proc.pid) - before
    assert (
        grown < 64 * MiB
    ), f"server memory grew by {grown // MiB} MiB for a {size // MiB} MiB upload"
    stored = project_dir(server, project) / "files" / "huge.bin"
    assert stored.stat().st_size == size


def test_short_body_for_content_length_is_not_stored(lathe, user, project):
    """A client that hangs up mid-upload must not leave a truncated file behind."""
    head = (
        f"PUT {files_url(project, 'partial.bin')} HTTP/1.1\r\nHost: lathe\r\n"
        f"Authorization: Bearer {user.key}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {MiB}\r\n\r\n"
    ).encode()
    sock = socket.create_connection((lathe.host, lathe.port), timeout=10)
    sock.sendall(head + b"x" * 1000)
    sock.close()
    # the server notices the hang-up; the partial file must never become visible
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        assert user.client.get(files_url(project, "partial.bin")).status == 404
        time.sleep(0.25)


# ---------------------------------------------------------------------------------------------
# Directories, rename, delete, tar


def test_mkdir_creates_parents(user, project):
    c = user.client
    status, _, entry = c.post(files_url(project, "d1/d2/d3:mkdir"))
    assert status == 201, entry
    check_entry(entry, "d1/d2/d3", "directory")
    assert names_in(c.get(files_url(project, "d1/d2")))["d3"]["type"] == "directory"
    assert names_in(c.get(files_url(project, "d1/d2/d3"))) == {}


def test_mkdir_over_a_file_is_409(user, project):
    c = user.client
    assert c.put(files_url(project, "taken"), b"x").status == 201
    assert_error(c.post(files_url(project, "taken:mkdir")), 409, "conflict")
    assert c.get(files_url(project, "taken:download")).raw == b"x"


def test_rename_file(user, project):
    c = user.client
    assert c.put(files_url(project, "a.txt"), b"content A").status == 201
    status, _, entry = c.patch(files_url(project, "a.txt"), {"path": "moved/b.txt"})
    assert status == 200, entry
    check_entry(entry, "moved/b.txt", "file", 9)
    assert_error(c.get(files_url(project, "a.txt")), 404, "not_found")
    assert c.get(files_url(project, "moved/b.txt:download")).raw == b"content A"


def test_rename_directory_moves_its_tree(user, project):
    c = user.client
    assert c.put(files_url(project, "src/pkg/mod.py"), b"print(1)").status == 201
    status, _, entry = c.patch(files_url(project, "src"), {"path": "lib"})
    assert status == 200, entry
    check_entry(entry, "lib", "directory")
    assert c.get(files_url(project, "lib/pkg/mod.py:download")).raw == b"print(1)"
    assert_error(c.get(files_url(project, "src")), 404, "not_found")


@pytest.mark.parametrize(
    "target", ["../out.txt", "/etc/evil", "a/../../out.txt", "x\x00y", "", "z" * 256]
)
def test_rename_to_bad_path_is_400(user, project, target):
    c = user.client
    assert c.put(files_url(project, "keep.txt"), b"keep").status == 201
    assert_error(c.patch(files_url(project, "keep.txt"), {"path": target}), 400, "bad_request")
    assert c.get(files_url(project, "keep.txt:download")).raw == b"keep"


def test_rename_missing_file_is_404(user, project):
    assert_error(user.client.patch(files_url(project, "nope"), {"path": "x"}), 404, "not_found")


def test_rename_with_bad_body_is_400(user, project):
    c = user.client
    assert c.put(files_url(project, "f"), b"f").status == 201
    for body in [{}, {"path": 5}, "not json"]:
        assert_error(c.patch(files_url(project, "f"), body), 400, "bad_request")


def test_delete_file_and_tree(user, project):
    c = user.client
    for p in ["tree/a.txt", "tree/sub/b.txt", "tree/sub/deeper/c.txt", "other.txt"]:
        assert c.put(files_url(project, p), p.encode()).status == 201
    assert c.delete(files_url(project, "other.txt")).status == 204
    assert_error(c.get(files_url(project, "other.txt")), 404, "not_found")
    assert c.delete(files_url(project, "tree")).status == 204
    for p in ["tree", "tree/a.txt", "tree/sub/deeper/c.txt"]:
        assert_error(c.get(files_url(project, p)), 404, "not_found")
    assert names_in(c.get(files_url(project))) == {}
    assert_error(c.delete(files_url(project, "tree")), 404, "not_found")


def test_writing_below_a_file_is_refused(user, project):
    c = user.client
    assert c.put(files_url(project, "plain"), b"plain file").status == 201
    for reply in [
        c.put(files_url(project, "plain/child.txt"), b"x"),
        c.post(files_url(project, "plain/sub:mkdir")),
    ]:
        assert reply.status in (400, 409), reply
        assert reply.error_code in ("bad_request", "conflict")
    assert c.get(files_url(project, "plain:download")).raw == b"plain file"


def test_writing_a_file_over_a_directory_is_refused(user, project):
    c = user.client
    assert c.put(files_url(project, "dir/inner.txt"), b"inner").status == 201
    reply = c.put(files_url(project, "dir"), b"x")
    assert reply.status in (400, 409), reply
    assert c.get(files_url(project, "dir/inner.txt:download")).raw == b"inner"


def test_concurrent_uploads_to_one_path_never_mix(user, project):
    payloads = [bytes([i]) * (2 * MiB) for i in range(4)]
    replies = []

    def upload(data):
        replies.append(user.client.put(files_url(project, "race.bin"), data))

    threads = [threading.Thread(target=upload, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(r.status == 201 for r in replies), replies
    final = user.client.get(files_url(project, "race.bin:download")).raw
    assert final in payloads, "the file mixes bytes of several uploads"
    names = names_in(user.client.get(files_url(project)))
    assert set(names) == {"race.bin"}, f"leftovers in the project: {sorted(names)}"


def test_missing_paths_are_404(user, project):
    c = user.client
    assert_error(c.get(files_url(project, "nope.txt")), 404, "not_found")
    assert_error(c.get(files_url(project, "nope.txt:download")), 404, "not_found")
    assert_error(c.get(files_url(project, "no/such/dir")), 404, "not_found")


def tar_members(raw):
    """{normalized path: bytes or None for directories} of a tar archive."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        for m in tar.getmembers():
            assert not m.name.startswith("/") and ".." not in m.name.split("/"), m.name
            name = m.name[2:] if m.name.startswith("./") else m.name
            out[name.rstrip("/")] = tar.extractfile(m).read() if m.isfile() else None
    return out


def test_download_directory_as_tar(user, project):
    c = user.client
    blob = os.urandom(70_000)
    assert c.put(files_url(project, "tree/x.txt"), b"x content").status == 201
    assert c.put(files_url(project, "tree/sub/y.bin"), blob).status == 201
    assert c.post(files_url(project, "tree/empty:mkdir")).status == 201
    assert c.put(files_url(project, "outside.txt"), b"not in tree").status == 201
    reply = c.get(files_url(project, "tree:download"))
    assert reply.status == 200, reply
    members = tar_members(reply.raw)
    # accept names relative to the directory or including it
    members = {k[len("tree/") :] if k.startswith("tree/") else k: v for k, v in members.items()}
    assert members.get("x.txt") == b"x content"
    assert members.get("sub/y.bin") == blob
    assert "empty" in members
    assert not any(v == b"not in tree" for v in members.values())


# ---------------------------------------------------------------------------------------------
# Path traversal


TRAVERSALS = {
    "dotdot": "../{m}",
    "dotdot_deep": "../../../../../../{m}",
    "inner_dotdot": "a/../../{m}",
    "encoded_dots": "%2e%2e/{m}",
    "encoded_dots_upper": "%2E%2E/%2E%2E/{m}",
    "encoded_slash": "..%2f{m}",
    "encoded_slash_deep": "..%2f..%2f..%2f..%2f{m}",
    "mixed_encoding": "a%2f%2e%2e%2f%2e%2e%2f{m}",
    "absolute": "%2ftmp%2f{m}",
    "absolute_double_slash": "/tmp/{m}",
    "nul": "{m}%00.txt",
    "nul_then_dotdot": "ok%00/../../{m}",
    "long_component": "{m}" + "a" * 256,
    "long_total": "/".join(["d" * 200] * 21) + "/{m}",
}


def escaped_anywhere(lathe, marker):
    """Every file or directory named with the marker: where a traversal would have written it."""
    hits = [
        p for p in [Path("/") / marker, Path("/tmp") / marker, Path("/etc") / marker] if p.exists()
    ]
    for root in [lathe.data_dir.parent]:
        for dirpath, dirnames, filenames in os.walk(root):
            hits += [Path(dirpath) / n for n in dirnames + filenames if marker in n]
    return hits


@pytest.mark.parametrize("op", ["stat", "download", "put", "mkdir", "delete", "patch"])
@pytest.mark.parametrize("attempt", list(TRAVERSALS))
def test_path_traversal_is_400(lathe, user, project, attempt, op):
    c = user.client
    assert c.put(files_url(project, "inside.txt"), b"inside").status == 201
    marker = unique("escape")
    raw = TRAVERSALS[attempt].format(m=marker)
    url = files_url(project, raw)
    reply = {
        "stat": lambda: c.get(url),
        "download": lambda: c.get(url + ":download"),
        "put": lambda: c.put(url, b"pwned"),
        "mkdir": lambda: c.post(url + ":mkdir"),
        "delete": lambda: c.delete(url),
        "patch": lambda: c.patch(url, {"path": "renamed.txt"}),
    }[op]()
    assert_error(reply, 400, "bad_request")
    assert escaped_anywhere(lathe, marker) == []
    assert c.get(files_url(project, "inside.txt:download")).raw == b"inside"


@pytest.mark.parametrize(
    "raw",
    [
        "%2fetc%2fpasswd",
        "..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "../../../../../../etc/passwd",
    ],
)
def test_reading_system_files_is_400(user, project, raw):
    reply = user.client.get(files_url(project, raw + ":download"))
    assert_error(reply, 400, "bad_request")
    assert b"root:" not in reply.raw


def test_traversal_cannot_reach_another_project(lathe, user, project):
    other = create_project(lathe.create_user("victim").client)
    assert lathe.admin.put(files_url(other, "secret.txt"), b"other's secret").status == 201
    c = user.client
    for raw in [
        f"../../{other['id']}/files/secret.txt",
        f"..%2f..%2f{other['id']}%2ffiles%2fsecret.txt",
    ]:
        reply = c.get(files_url(project, raw + ":download"))
        assert_error(reply, 400, "bad_request")
        assert b"other's secret" not in reply.raw
        reply = c.put(files_url(project, raw), b"overwritten")
        assert_error(reply, 400, "bad_request")
    assert lathe.admin.get(files_url(other, "secret.txt:download")).raw == b"other's secret"


# ---------------------------------------------------------------------------------------------
# Symlinks planted on disk


def plant(lathe, user, project, name, target):
    assert user.client.put(files_url(project, "seed.txt"), b"seed").status == 201
    files_dir = project_dir(lathe, project) / "files"
    assert files_dir.is_dir(), f"project files are not under {files_dir}"
    link = files_dir / name
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, link)
    return link


def test_symlink_to_etc_cannot_be_read_or_written(lathe, user, project):
    plant(lathe, user, project, "etc_link", "/etc")
    c = user.client
    marker = unique("planted")
    for reply in [
        c.get(files_url(project, "etc_link/passwd:download")),
        c.get(files_url(project, "etc_link/passwd")),
        c.get(files_url(project, "etc_link")),
        c.get(files_url(project, "etc_link:download")),
        c.put(files_url(project, f"etc_link/{marker}"), b"pwned"),
        c.post(files_url(project, f"etc_link/{marker}:mkdir")),
        c.patch(files_url(project, "seed.txt"), {"path": f"etc_link/{marker}"}),
    ]:
        assert_error(reply, 400, "bad_request")
        assert b"root:" not in reply.raw
    assert not (Path("/etc") / marker).exists()
    assert c.get(files_url(project, "seed.txt:download")).raw == b"seed"


@pytest.fixture
def outside(tmp_path):
    """A directory outside the data dir with a file a symlink will point at."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "victim.txt").write_bytes(b"outside secret")
    return d


def test_symlink_to_outside_dir_cannot_be_used(lathe, user, project, outside):
    plant(lathe, user, project, "out_link", str(outside))
    c = user.client
    for reply in [
        c.get(files_url(project, "out_link/victim.txt:download")),
        c.get(files_url(project, "out_link/victim.txt")),
        c.get(files_url(project, "out_link")),
        c.put(files_url(project, "out_link/new.txt"), b"written outside"),
        c.put(files_url(project, "out_link/victim.txt"), b"overwritten"),
        c.post(files_url(project, "out_link/newdir:mkdir")),
        c.delete(files_url(project, "out_link/victim.txt")),
        c.patch(files_url(project, "seed.txt"), {"path": "out_link/stolen.txt"}),
        c.patch(files_url(project, "out_link/victim.txt"), {"path": "grabbed.txt"}),
    ]:
        assert_error(reply, 400, "bad_request")
        assert b"outside secret" not in reply.raw
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
    assert (outside / "victim.txt").read_bytes() == b"outside secret"
    assert_error(c.get(files_url(project, "grabbed.txt")), 404, "not_found")


def test_symlink_to_outside_file_cannot_be_used(lathe, user, project, outside):
    plant(lathe, user, project, "file_link", str(outside / "victim.txt"))
    c = user.client
    for reply in [
        c.get(files_url(project, "file_link:download")),
        c.get(files_url(project, "file_link")),
        c.put(files_url(project, "file_link"), b"overwritten"),
    ]:
        assert_error(reply, 400, "bad_request")
        assert b"outside secret" not in reply.raw
    assert (outside / "victim.txt").read_bytes() == b"outside secret"


def test_deleting_a_planted_symlink_never_touches_its_target(lathe, user, project, outside):
    plant(lathe, user, project, "sub/out_link", str(outside))
    c = user.client
    c.delete(files_url(project, "sub/out_link"))
    c.delete(files_url(project, "sub"))
    assert (outside / "victim.txt").read_bytes() == b"outside secret"


def test_tar_download_does_not_follow_symlinks_out(lathe, user, project, outside):
    plant(lathe, user, project, "box/out_link", str(outside))
    plant_etc = project_dir(lathe, project) / "files" / "box" / "etc_link"
    os.symlink("/etc", plant_etc)
    assert user.client.put(files_url(project, "box/real.txt"), b"real").status == 201
    reply = user.client.get(files_url(project, "box:download"))
    if reply.status == 200:
        members = tar_members(reply.raw)
        assert b"outside secret" not in b"".join(v for v in members.values() if v)
        assert not any(k.endswith("passwd") for k in members)
    else:
        assert_error(reply, 400, "bad_request")


# ---------------------------------------------------------------------------------------------
# Size limits, on a server of their own


FILE_LIMIT = 64 * 1024
PROJECT_LIMIT = 160 * 1024


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    server = start_server(
        tmp_path_factory.mktemp("lathe-small"),
        "--max-file-bytes",
        str(FILE_LIMIT),
        "--max-project-bytes",
        str(PROJECT_LIMIT),
        *RELAXED_LOGIN_LIMITS,
    )
    yield server
    assert server.stop() == 0, server.output


@pytest.fixture
def small_project(small):
    owner = small.create_user("limits")
    return owner, create_project(owner.client)


def marked(size):
    """A payload of the given size that starts with a unique marker."""
    marker = secrets.token_hex(16).encode()
    return marker, (marker + os.urandom(size))[:size]


def files_on_disk(server, project):
    root = project_dir(server, project)
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            out[str(p.relative_to(root))] = p.stat().st_size
    return out


def data_dir_contains(server, needle):
    for dirpath, _, files in os.walk(server.data_dir):
        for f in files:
            try:
                if needle in (Path(dirpath) / f).read_bytes():
                    return True
            except OSError:
                pass
    return False


def assert_nothing_left(server, owner, project, name, marker, before):
    assert_error(owner.client.get(files_url(project, name)), 404, "not_found")
    assert name not in names_in(owner.client.get(files_url(project)))
    assert files_on_disk(server, project) == before
    assert not data_dir_contains(server, marker), "part of a refused upload was left on disk"


def test_file_at_the_limit_is_accepted(small_project):
    owner, project = small_project
    _, payload = marked(FILE_LIMIT)
    reply = owner.client.put(files_url(project, "exact.bin"), payload)
    assert reply.status == 201, reply
    assert owner.client.get(files_url(project, "exact.bin:download")).raw == payload


@pytest.mark.parametrize("framing", ["content_length", "chunked"])
def test_file_over_the_limit_is_413_and_leaves_nothing(small, small_project, framing):
    owner, project = small_project
    assert owner.client.put(files_url(project, "keep.txt"), b"keep").status == 201
    before = files_on_disk(small, project)
    marker, payload = marked(FILE_LIMIT + 1)
    body = (
        payload
        if framing == "content_length"
        else iter([payload[i : i + 4096] for i in range(0, len(payload), 4096)])
    )
    reply = owner.client.put(files_url(project, "over.bin"), body)
    assert_error(reply, 413, "payload_too_large")
    assert_nothing_left(small, owner, project, "over.bin", marker, before)


def test_declared_oversize_upload_is_refused_without_reading_it(small, small_project):
    owner, project = small_project
    before = files_on_disk(small, project)
    marker, payload = marked(32 * 1024)
    head = (
        f"PUT {files_url(project, 'huge.bin')} HTTP/1.1\r\nHost: lathe\r\n"
        f"Authorization: Bearer {owner.key}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {100 * MiB}\r\n\r\n"
    ).encode()
    reply = raw_exchange(small.host, small.port, head, payload, timeout=10)
    assert reply is not None, "connection closed without an answer"
    assert_error(reply, 413, "payload_too_large")
    assert_nothing_left(small, owner, project, "huge.bin", marker, before)


def test_refused_overwrite_keeps_the_old_file(small, small_project):
    owner, project = small_project
    assert owner.client.put(files_url(project, "model.bin"), b"good model").status == 201
    marker, payload = marked(FILE_LIMIT + 10)
    assert_error(
        owner.client.put(files_url(project, "model.bin"), payload), 413, "payload_too_large"
    )
    assert owner.client.get(files_url(project, "model.bin:download")).raw == b"good model"
    assert not data_dir_contains(small, marker)


def test_project_limit(small, small_project):
    owner, project = small_project
    c = owner.client
    for name in ["a.bin", "b.bin"]:
        assert c.put(files_url(project, name), marked(FILE_LIMIT)[1]).status == 201
    before = files_on_disk(small, project)
    marker, payload = marked(FILE_LIMIT)  # would make 192 KiB > 160 KiB
    assert_error(c.put(files_url(project, "c.bin"), payload), 413, "payload_too_large")
    assert_nothing_left(small, owner, project, "c.bin", marker, before)

    # exactly up to the limit is fine, one byte more is not
    assert (
        c.put(files_url(project, "fill.bin"), marked(PROJECT_LIMIT - 2 * FILE_LIMIT)[1]).status
        == 201
    )
    before = files_on_disk(small, project)
    marker, payload = marked(40)
    assert_error(c.put(files_url(project, "one-more.bin"), payload), 413, "payload_too_large")
    assert_nothing_left(small, owner, project, "one-more.bin", marker, before)

    # deleting frees space again
    assert c.delete(files_url(project, "a.bin")).status == 204
    assert c.put(files_url(project, "c.bin"), marked(FILE_LIMIT)[1]).status == 201


def test_project_limit_is_per_project(small):
    owner = small.create_user("twoproj")
    first, second = create_project(owner.client), create_project(owner.client)
    for i in range(2):
        assert owner.client.put(files_url(first, f"{i}.bin"), marked(FILE_LIMIT)[1]).status == 201
    for i in range(2):
        assert owner.client.put(files_url(second, f"{i}.bin"), marked(FILE_LIMIT)[1]).status == 201
