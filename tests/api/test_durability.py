"""Durability: every acknowledged write survives `kill -9` and a restart on the same data dir."""

import os
import re
import time

from conftest import ADMIN_USER, Client, create_project, create_team

SESSION = "/api/v2/auth/session"


def restart(lathe_factory, first, admin_password_env):
    """Starts a server on first's data dir with LATHE_ADMIN_PASSWORD set to something else."""
    return lathe_factory(
        data_dir=first.data_dir,
        admin_password=first.admin_password,
        env={"LATHE_ADMIN_PASSWORD": admin_password_env},
    )


def admin_creation_lines(server):
    return [
        line
        for line in server.lines
        if re.search(r"admin", line, re.I) and re.search(r"creat", line, re.I)
    ]


def test_acknowledged_writes_survive_kill_9(lathe_factory):
    server = lathe_factory()
    alice = server.create_user("alice", display_name="Alice A.", email="alice@example.com")
    bob = server.create_user("bob")
    team = create_team(alice.client, members={bob.username: "Viewer"})

    project = create_project(alice.client, "durable", description="first", visibility="private")
    base = f"/api/v2/projects/{project['id']}"
    team_project = create_project(alice.client, "team-durable", team=team, visibility="team")
    c = alice.client
    assert c.patch(base, {"description": "patched"}).status == 200
    assert c.put(f"{base}/collaborators/{bob.username}", {"role": "Contributor"}).status in (
        200,
        201,
    )
    assert c.put(f"{base}/env/VISIBLE", {"value": "plain value"}).status == 200
    assert c.put(f"{base}/env/HIDDEN", {"value": "hidden value", "hidden": True}).status == 200
    model = os.urandom(1024 * 1024 + 17)
    assert c.put(f"{base}/files/data/model.bin", model).status == 201
    assert c.post(f"{base}/files/empty-dir:mkdir").status == 201
    assert c.put(f"{base}/files/gone.txt", b"soon deleted").status == 201
    assert c.delete(f"{base}/files/gone.txt").status == 204
    extra = server.create_key(
        alice.username, alice.password, name="durable", expires_in_days=7
    ).body
    revoked = server.create_key(alice.username, alice.password, name="revoked").body
    assert c.delete(f"/api/v2/users/{alice.username}/keys/{revoked['id']}").status == 204
    first_admin_lines = admin_creation_lines(server)

    server.kill9()
    assert server.proc.returncode == -9

    new_env_password = "not-the-admin-password-1"
    again = restart(lathe_factory, server, new_env_password)

    # the admin from the first start is kept, with its password; not re-created
    assert again.client().login(ADMIN_USER, server.admin_password).status == 200
    assert again.client().login(ADMIN_USER, new_env_password).status == 401
    time.sleep(0.5)  # let the output after the ready line arrive
    assert (
        admin_creation_lines(again) == []
    ), f"admin re-created on restart (first start printed {first_admin_lines}):\n{again.output}"
    assert server.admin_password not in again.output
    admin = again.admin
    admins = [
        u
        for u in admin.get("/api/v2/users", params={"page_size": 1000}).body["users"]
        if u["username"] == ADMIN_USER
    ]
    assert len(admins) == 1 and admins[0]["is_admin"] is True

    # users, passwords and keys
    a = Client(again.url, api_key=alice.key)
    assert a.get(SESSION).body["user"]["username"] == alice.username
    assert again.client().login(alice.username, alice.password).status == 200
    me = a.get(f"/api/v2/users/{alice.username}").body
    assert me["display_name"] == "Alice A." and me["email"] == "alice@example.com"
    assert Client(again.url, api_key=extra["key"]).get(SESSION).status == 200
    assert Client(again.url, api_key=revoked["key"]).get(SESSION).status == 401
    keys = {k["id"]: k for k in a.get(f"/api/v2/users/{alice.username}/keys").body["keys"]}
    assert keys[extra["id"]]["expires_at"] == extra["expires_at"]

    # the project, its collaborators, environment and files
    got = a.get(base).body
    assert got["name"] == "durable" and got["description"] == "patched"
    collaborators = {
        x["username"]: x["role"] for x in a.get(f"{base}/collaborators").body["collaborators"]
    }
    assert collaborators.get(bob.username) == "Contributor"
    assert collaborators.get(alice.username) == "Admin"
    b = Client(again.url, api_key=bob.key)
    assert b.get(base).body["my_role"] == "Contributor"
    env = {v["name"]: v for v in a.get(f"{base}/env").body["environment"]}
    assert env["VISIBLE"] == {"name": "VISIBLE", "value": "plain value", "hidden": False}
    assert env["HIDDEN"] == {"name": "HIDDEN", "value": None, "hidden": True}
    assert a.get(f"{base}/files/data/model.bin:download").raw == model
    assert a.get(f"{base}/files/empty-dir").status == 200
    assert a.get(f"{base}/files/gone.txt").status == 404

    # the team and its project
    members = {
        m["username"]: m["role"] for m in a.get(f"/api/v2/teams/{team}/members").body["members"]
    }
    assert members == {alice.username: "Admin", bob.username: "Viewer"}
    assert b.get(f"/api/v2/projects/{team_project['id']}").status == 200


def test_burst_of_writes_survives_kill_9(lathe_factory):
    server = lathe_factory()
    user = server.create_user("burst")
    project = create_project(user.client)
    base = f"/api/v2/projects/{project['id']}"
    for i in range(50):
        assert user.client.put(f"{base}/env/V{i}", {"value": str(i)}).status == 200
    for i in range(20):
        assert user.client.put(f"{base}/files/f{i}.txt", f"file {i}".encode()).status == 201
    names = [create_project(user.client)["name"] for _ in range(10)]
    server.kill9()

    again = restart(lathe_factory, server, server.admin_password)
    c = Client(again.url, api_key=user.key)
    env = {
        v["name"]: v["value"]
        for v in c.get(f"{base}/env", params={"page_size": 1000}).body["environment"]
    }
    assert env == {f"V{i}": str(i) for i in range(50)}
    for i in range(20):
        assert c.get(f"{base}/files/f{i}.txt:download").raw == f"file {i}".encode()
    listed = {
        p["name"] for p in c.get("/api/v2/projects", params={"page_size": 1000}).body["projects"]
    }
    assert set(names) <= listed


def test_restart_after_clean_stop_keeps_everything(lathe_factory):
    server = lathe_factory()
    user = server.create_user("clean")
    project = create_project(user.client, "kept")
    assert server.stop() == 0
    again = restart(lathe_factory, server, server.admin_password)
    c = Client(again.url, api_key=user.key)
    assert c.get(f"/api/v2/projects/{project['id']}").body["name"] == "kept"


def printed_password(server):
    """The generated admin password a first start prints (None when it printed none)."""
    for line in server.lines:
        match = re.search(r"password\W+(\S+)\s*$", line, re.I)
        if match and not line.lstrip().startswith("{"):
            return match.group(1)
    return None


def test_generated_admin_password_is_printed_once_and_survives_kill_9(lathe_factory):
    server = lathe_factory(env={"LATHE_ADMIN_PASSWORD": ""})
    time.sleep(0.5)  # let the output after the ready line arrive
    password = printed_password(server)
    assert (
        password
    ), f"a first start without LATHE_ADMIN_PASSWORD printed no password:\n{server.output}"
    assert server.client().login(ADMIN_USER, password).status == 200
    server.kill9()

    again = lathe_factory(data_dir=server.data_dir, env={"LATHE_ADMIN_PASSWORD": ""})
    assert again.client().login(ADMIN_USER, password).status == 200
    time.sleep(0.5)
    assert printed_password(again) is None, f"admin password printed again:\n{again.output}"
    assert admin_creation_lines(again) == []
