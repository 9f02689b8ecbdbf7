"""Projects: CRUD, names, lists (pagination, filters, sort), environment variables, audit log."""

import json
import os
import secrets
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

import pytest

from conftest import assert_error, create_project, create_team, list_all, parse_time, unique

PROJECTS = "/api/v2/projects"


def project_path(project):
    return f"{PROJECTS}/{project['id']}"


def filtered(**fields):
    return json.dumps(fields)


# ---------------------------------------------------------------------------------------------
# CRUD


def test_create_get_patch_delete(lathe, user):
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    status, _, body = user.client.post(
        PROJECTS, {"name": "Churn model", "description": "predicts churn", "visibility": "private"}
    )
    assert status == 201, body
    assert isinstance(body["id"], int)
    assert body["name"] == "Churn model"
    assert body["description"] == "predicts churn"
    assert body["owner"] == {"type": "user", "name": user.username}
    assert body["visibility"] == "private"
    assert body["my_role"] == "Admin"
    created = parse_time(body["created_at"])
    assert before <= created <= datetime.now(timezone.utc) + timedelta(seconds=5)
    assert parse_time(body["updated_at"]) >= created
    path = project_path(body)

    status, _, got = user.client.get(path)
    assert status == 200
    assert {k: got[k] for k in body} == body

    status, _, patched = user.client.patch(
        path, {"name": "Churn v2", "description": "better", "visibility": "public"}
    )
    assert status == 200
    assert patched["name"] == "Churn v2"
    assert patched["description"] == "better"
    assert patched["visibility"] == "public"
    assert patched["id"] == body["id"] and patched["created_at"] == body["created_at"]
    assert parse_time(patched["updated_at"]) >= parse_time(body["updated_at"])
    assert user.client.get(path).body["name"] == "Churn v2"

    assert user.client.delete(path).status == 204
    assert_error(user.client.get(path), 404, "not_found")
    assert_error(user.client.delete(path), 404, "not_found")
    assert body["id"] not in [p["id"] for p in list_all(user.client, PROJECTS, "projects")]


def test_unicode_names_round_trip(user):
    name = "Modèle de churn — 予測 🚀 " + unique("")
    project = create_project(user.client, name, description="ünïcødé")
    got = user.client.get(project_path(project)).body
    assert got["name"] == name and got["description"] == "ünïcødé"
    found = list_all(user.client, PROJECTS, "projects", {"search_filter": filtered(name="予測")})
    assert [p["id"] for p in found] == [project["id"]]


def test_patch_changes_only_given_fields(user):
    project = create_project(user.client, description="keep me", visibility="private")
    status, _, body = user.client.patch(project_path(project), {"name": unique("renamed")})
    assert status == 200
    assert body["description"] == "keep me" and body["visibility"] == "private"


def test_delete_removes_the_projects_files(lathe, user):
    project = create_project(user.client)
    path = project_path(project)
    assert user.client.put(f"{path}/files/data/model.bin", os.urandom(4096)).status == 201
    on_disk = lathe.data_dir / "projects" / str(project["id"])
    assert on_disk.is_dir(), f"project files are not under {on_disk}"
    assert user.client.delete(path).status == 204
    deadline = time.monotonic() + 10
    while on_disk.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not on_disk.exists(), "the project's files were left on disk"


def test_get_unknown_project_is_404(user):
    assert_error(user.client.get(f"{PROJECTS}/999999999"), 404, "not_found")


@pytest.mark.parametrize("pid", ["abc", "-1", "1.5", "0x10", "99999999999999999999999", "1e3"])
def test_non_integer_project_id_is_400_or_404(user, pid):
    reply = user.client.get(f"{PROJECTS}/{pid}")
    assert reply.status in (400, 404), reply
    assert reply.error_code in ("bad_request", "not_found")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x" * 101},
        {"name": 42},
        {"name": None},
        {"name": "VALID", "visibility": "secret"},
        {"name": "VALID", "description": 7},
    ],
    ids=["missing_name", "empty", "101_chars", "number", "null", "bad_visibility", "bad_desc"],
)
def test_invalid_project_is_400(user, body):
    if body.get("name") == "VALID":
        body = {**body, "name": unique("valid")}
    assert_error(user.client.post(PROJECTS, body), 400, "bad_request")
    assert (
        list_all(
            user.client, PROJECTS, "projects", {"search_filter": filtered(owner=user.username)}
        )
        == []
    )


def test_name_of_100_characters_is_accepted(user):
    name = unique("n") + "x" * 100
    project = create_project(user.client, name[:100])
    assert project["name"] == name[:100]


def test_invalid_patch_is_400_and_changes_nothing(user):
    project = create_project(user.client, visibility="private")
    for body in [{"name": ""}, {"visibility": "everyone"}, {"name": "y" * 101}]:
        assert_error(user.client.patch(project_path(project), body), 400, "bad_request")
    got = user.client.get(project_path(project)).body
    assert got["name"] == project["name"] and got["visibility"] == "private"


def test_project_name_is_unique_per_owner(lathe, user):
    name = unique("dup")
    first = create_project(user.client, name)
    assert_error(user.client.post(PROJECTS, {"name": name}), 409, "conflict")
    # another owner may use the same name
    other = lathe.create_user("other")
    assert create_project(other.client, name)["name"] == name
    # renaming onto a taken name is a conflict too
    second = create_project(user.client)
    assert_error(user.client.patch(project_path(second), {"name": name}), 409, "conflict")
    # a deleted project frees its name
    assert user.client.delete(project_path(first)).status == 204
    assert create_project(user.client, name)["name"] == name


# ---------------------------------------------------------------------------------------------
# Lists: pagination, filters, sort


@pytest.fixture(scope="module")
def pager(lathe):
    """A user owning 25 projects named pg-00 … pg-24."""
    owner = lathe.create_user("pager")
    ids = [create_project(owner.client, f"pg-{i:02d}")["id"] for i in range(25)]
    return owner, ids


def test_pagination_walks_every_project_once(pager):
    owner, ids = pager
    seen, token, pages = [], None, []
    for _ in range(10):
        params = {"page_size": 10, "search_filter": filtered(owner=owner.username)}
        if token:
            params["page_token"] = token
        status, _, body = owner.client.get(PROJECTS, params=params)
        assert status == 200, body
        pages.append(len(body["projects"]))
        seen += [p["id"] for p in body["projects"]]
        token = body.get("next_page_token")
        if not token:
            break
    assert pages == [10, 10, 5]
    assert sorted(seen) == sorted(ids)


def test_default_page_size_is_10(pager):
    owner, _ = pager
    status, _, body = owner.client.get(
        PROJECTS, params={"search_filter": filtered(owner=owner.username)}
    )
    assert status == 200
    assert len(body["projects"]) == 10
    assert body["next_page_token"]


def test_page_size_1000_returns_all(pager):
    owner, ids = pager
    status, _, body = owner.client.get(
        PROJECTS, params={"page_size": 1000, "search_filter": filtered(owner=owner.username)}
    )
    assert status == 200
    assert sorted(p["id"] for p in body["projects"]) == sorted(ids)
    assert not body.get("next_page_token")


@pytest.mark.parametrize("size", ["0", "1001", "-1", "ten", "", "99999999999999999999", "10.5"])
def test_out_of_range_page_size_is_400(pager, size):
    owner, _ = pager
    assert_error(owner.client.get(PROJECTS, params={"page_size": size}), 400, "bad_request")


def first_page_token(owner, **params):
    status, _, body = owner.client.get(
        PROJECTS,
        params={"page_size": 10, "search_filter": filtered(owner=owner.username), **params},
    )
    assert status == 200 and body["next_page_token"]
    return body["next_page_token"]


def test_page_token_reused_with_another_filter_is_400(pager):
    owner, _ = pager
    token = first_page_token(owner)
    reply = owner.client.get(
        PROJECTS,
        params={
            "page_size": 10,
            "page_token": token,
            "search_filter": filtered(owner=owner.username, name="pg-1"),
        },
    )
    assert_error(reply, 400, "bad_request")


def test_page_token_reused_with_another_sort_is_400(pager):
    owner, _ = pager
    token = first_page_token(owner, sort="name")
    reply = owner.client.get(
        PROJECTS,
        params={
            "page_size": 10,
            "page_token": token,
            "sort": "-name",
            "search_filter": filtered(owner=owner.username),
        },
    )
    assert_error(reply, 400, "bad_request")


@pytest.mark.parametrize("token", ["garbage", "AAAA", "%%%", "eyJ4IjoxfQ"])
def test_forged_page_token_is_400(pager, token):
    owner, _ = pager
    assert_error(owner.client.get(PROJECTS, params={"page_token": token}), 400, "bad_request")


@pytest.mark.parametrize("sort,reverse", [("name", False), ("-name", True)])
def test_sort_by_name(pager, sort, reverse):
    owner, _ = pager
    names = [
        p["name"]
        for p in list_all(
            owner.client,
            PROJECTS,
            "projects",
            {"sort": sort, "search_filter": filtered(owner=owner.username)},
        )
    ]
    assert names == sorted([f"pg-{i:02d}" for i in range(25)], reverse=reverse)


def test_sort_is_kept_across_pages(pager):
    owner, _ = pager
    names = []
    params = {"page_size": 10, "sort": "-name", "search_filter": filtered(owner=owner.username)}
    while True:
        body = owner.client.get(PROJECTS, params=params).body
        names += [p["name"] for p in body["projects"]]
        if not body.get("next_page_token"):
            break
        params["page_token"] = body["next_page_token"]
    assert names == sorted(names, reverse=True) and len(names) == 25


@pytest.mark.parametrize("sort", ["id", "-id", "created_at", "-created_at", "updated_at"])
def test_sort_by_documented_fields(pager, sort):
    owner, ids = pager
    field, descending = sort.lstrip("-"), sort.startswith("-")
    projects = list_all(
        owner.client,
        PROJECTS,
        "projects",
        {"sort": sort, "search_filter": filtered(owner=owner.username)},
    )
    keys = [p[field] if field == "id" else parse_time(p[field]) for p in projects]
    assert keys == sorted(keys, reverse=descending)
    assert sorted(p["id"] for p in projects) == sorted(ids)


@pytest.mark.parametrize("sort", ["bogus", "-", "password"])
def test_unknown_sort_field_is_400(pager, sort):
    owner, _ = pager
    assert_error(owner.client.get(PROJECTS, params={"sort": sort}), 400, "bad_request")


def test_search_filter_matches_case_insensitive_substrings(lathe):
    owner = lathe.create_user("finder")
    churn = create_project(
        owner.client, "My-Churn-Model", description="Telecom", visibility="public"
    )
    create_project(owner.client, "fraud", description="cards", visibility="private")
    mine = {"owner": owner.username}

    def names(**fields):
        flt = json.dumps({**mine, **fields})
        return sorted(
            p["name"] for p in list_all(owner.client, PROJECTS, "projects", {"search_filter": flt})
        )

    assert names(name="churn") == ["My-Churn-Model"]
    assert names(name="CHURN-mod") == ["My-Churn-Model"]
    assert names(description="telecom") == ["My-Churn-Model"]
    assert names(visibility="public") == ["My-Churn-Model"]
    assert names(visibility="private") == ["fraud"]
    assert names(name="churn", visibility="private") == []
    assert names(name="nothing-like-this") == []
    assert names() == ["My-Churn-Model", "fraud"]
    # another user sees the public one only
    other = lathe.create_user("seeker")
    flt = filtered(owner=owner.username)
    seen = [p["id"] for p in list_all(other.client, PROJECTS, "projects", {"search_filter": flt})]
    assert seen == [churn["id"]]


@pytest.mark.parametrize(
    "search_filter",
    ['{"color": "red"}', '{"name": "x", "password": "y"}', "{", "not json", "[]", '"name"', "42"],
    ids=[
        "unknown_field",
        "unknown_with_known",
        "truncated",
        "not_json",
        "array",
        "string",
        "number",
    ],
)
def test_bad_search_filter_is_400(user, search_filter):
    reply = user.client.get(PROJECTS, params={"search_filter": search_filter})
    assert_error(reply, 400, "bad_request")


def test_users_list_rejects_unknown_filter_field(user):
    reply = user.client.get("/api/v2/users", params={"search_filter": '{"password": "x"}'})
    assert_error(reply, 400, "bad_request")


# Every list endpoint follows the same rules: generated over all of them.


@pytest.fixture(scope="module")
def listed(lathe):
    """At least three of everything a list endpoint returns."""
    owner = lathe.create_user("lists")
    extras = [lathe.create_user("listx") for _ in range(3)]
    project = create_project(owner.client)
    base = project_path(project)
    for u in extras:
        assert owner.client.put(
            f"{base}/collaborators/{u.username}", {"role": "Viewer"}
        ).status in (200, 201)
    for i in range(3):
        assert owner.client.put(f"{base}/files/f{i}.txt", b"x").status == 201
        assert owner.client.put(f"{base}/env/V{i}", {"value": str(i)}).status == 200
        create_project(owner.client)
    for _ in range(2):
        lathe.create_key(owner.username, owner.password)
    team = create_team(owner.client, members={u.username: "Viewer" for u in extras})
    for _ in range(2):
        create_team(owner.client)
    return {"owner": owner, "base": base, "team": team}


# name: (path, items key, identity field, search_filter that narrows it, admin only)
LIST_ENDPOINTS = {
    "users": ("/api/v2/users", "users", "username", {"username": "listx"}, False),
    "teams": ("/api/v2/teams", "teams", "name", None, False),
    "team_members": ("/api/v2/teams/{team}/members", "members", "username", None, False),
    "projects": ("/api/v2/projects", "projects", "id", {"owner": "{owner}"}, False),
    "collaborators": ("{base}/collaborators", "collaborators", "username", None, False),
    "files": ("{base}/files", "files", "path", None, False),
    "env": ("{base}/env", "environment", "name", None, False),
    "user_keys": ("/api/v2/users/{owner}/keys", "keys", "id", None, False),
    "all_keys": ("/api/v2/keys", "keys", "id", None, True),
    "audit": ("/api/v2/audit", "events", "id", {"actor": "{owner}"}, True),
}


def list_setup(lathe, listed, name):
    path, key, ident, flt, admin_only = LIST_ENDPOINTS[name]
    names = {"team": listed["team"], "owner": listed["owner"].username, "base": listed["base"]}
    client = lathe.admin if admin_only else listed["owner"].client
    params = {}
    if flt:
        params["search_filter"] = json.dumps({k: v.format(**names) for k, v in flt.items()})
    return client, path.format(**names), key, ident, params


@pytest.mark.parametrize("name", list(LIST_ENDPOINTS))
def test_every_list_pages_through_everything_once(lathe, listed, name):
    client, path, key, ident, params = list_setup(lathe, listed, name)
    status, _, whole = client.get(path, params={**params, "page_size": 1000})
    assert status == 200, whole
    expected = [item[ident] for item in whole[key]]
    assert len(expected) >= 3 and not whole.get("next_page_token")
    seen, sizes, token = [], [], None
    for _ in range(len(expected) + 2):
        query = {**params, "page_size": 2, **({"page_token": token} if token else {})}
        status, _, body = client.get(path, params=query)
        assert status == 200, body
        sizes.append(len(body[key]))
        seen += [item[ident] for item in body[key]]
        token = body.get("next_page_token")
        if not token:
            break
    assert len(seen) == len(set(seen)), f"{name}: an item was listed twice"
    assert sorted(map(str, seen)) == sorted(map(str, expected))
    assert all(n == 2 for n in sizes[:-1]) and 1 <= sizes[-1] <= 2


@pytest.mark.parametrize("size", ["0", "1001"])
@pytest.mark.parametrize("name", list(LIST_ENDPOINTS))
def test_every_list_rejects_out_of_range_page_size(lathe, listed, name, size):
    client, path, _, _, params = list_setup(lathe, listed, name)
    assert_error(client.get(path, params={**params, "page_size": size}), 400, "bad_request")


@pytest.mark.parametrize("name", list(LIST_ENDPOINTS))
def test_every_list_rejects_unknown_filter_fields(lathe, listed, name):
    client, path, _, _, _ = list_setup(lathe, listed, name)
    reply = client.get(path, params={"search_filter": '{"no_such_field": "x"}'})
    assert_error(reply, 400, "bad_request")


@pytest.mark.parametrize("name", list(LIST_ENDPOINTS))
def test_every_list_rejects_forged_page_tokens(lathe, listed, name):
    client, path, _, _, params = list_setup(lathe, listed, name)
    reply = client.get(path, params={**params, "page_token": "forged-token"})
    assert_error(reply, 400, "bad_request")


@pytest.mark.parametrize(
    "path,field",
    [("/api/v2/users", "username"), ("/api/v2/teams", "name"), ("/api/v2/projects", "name")],
)
@pytest.mark.parametrize("descending", [False, True])
def test_other_lists_sort_by_name(lathe, listed, path, field, descending):
    client = listed["owner"].client
    sort = ("-" if descending else "") + field
    items = list_all(client, path, path.rsplit("/", 1)[-1], {"sort": sort})
    names = [i[field] for i in items]
    assert names == sorted(names, reverse=descending)


# ---------------------------------------------------------------------------------------------
# Environment variables


def env_path(project, name=""):
    return f"{project_path(project)}/env" + (f"/{urllib.parse.quote(name)}" if name else "")


def test_env_put_list_update_delete(user, project):
    status, _, body = user.client.put(env_path(project, "GREETING"), {"value": "hello"})
    assert status == 200, body
    assert body == {"name": "GREETING", "value": "hello", "hidden": False}
    for name in ["ZETA", "ALPHA", "MID2", "BETA_X"]:
        assert user.client.put(env_path(project, name), {"value": name.lower()}).status == 200
    status, _, body = user.client.get(env_path(project))
    assert status == 200
    names = [v["name"] for v in body["environment"]]
    assert names == sorted(names)
    assert set(names) == {"GREETING", "ZETA", "ALPHA", "MID2", "BETA_X"}
    assert {v["name"]: v["value"] for v in body["environment"]}["ALPHA"] == "alpha"

    status, _, body = user.client.put(env_path(project, "GREETING"), {"value": "bye"})
    assert status == 200 and body["value"] == "bye"
    env = {v["name"]: v for v in user.client.get(env_path(project)).body["environment"]}
    assert env["GREETING"]["value"] == "bye"

    assert user.client.delete(env_path(project, "GREETING")).status == 204
    env = {v["name"] for v in user.client.get(env_path(project)).body["environment"]}
    assert "GREETING" not in env
    assert_error(user.client.delete(env_path(project, "GREETING")), 404, "not_found")


def test_env_values_keep_unicode_and_special_characters(user, project):
    value = 'line1\nline2 "quoted" \\ ünïcødé 🚀 $HOME `cmd`'
    assert user.client.put(env_path(project, "TRICKY"), {"value": value}).status == 200
    env = {v["name"]: v for v in user.client.get(env_path(project)).body["environment"]}
    assert env["TRICKY"]["value"] == value
    assert user.client.put(env_path(project, "EMPTY"), {"value": ""}).status == 200
    env = {v["name"]: v for v in user.client.get(env_path(project)).body["environment"]}
    assert env["EMPTY"]["value"] == ""


def files_containing(root, needle):
    hits = []
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            try:
                with open(p, "rb") as fh:
                    if needle in fh.read():
                        hits.append(p)
            except OSError:
                pass
    return hits


def test_hidden_env_value_is_never_returned(lathe, admin, user, project):
    secret = "s3cret-" + secrets.token_hex(16)
    reply = user.client.put(env_path(project, "API_TOKEN"), {"value": secret, "hidden": True})
    assert reply.status == 200, reply
    assert reply.body == {"name": "API_TOKEN", "value": None, "hidden": True}
    assert secret.encode() not in reply.raw

    listed = user.client.get(env_path(project))
    entry = [v for v in listed.body["environment"] if v["name"] == "API_TOKEN"]
    assert entry == [{"name": "API_TOKEN", "value": None, "hidden": True}]

    # nowhere else either: not to admins, not in the project, not in the audit log, not logged
    replies = [
        listed,
        admin.get(env_path(project)),
        user.client.get(project_path(project)),
        admin.get("/api/v2/audit", params={"page_size": 1000}),
        admin.get(
            "/api/v2/audit",
            params={"page_size": 1000, "search_filter": filtered(actor=user.username)},
        ),
    ]
    for r in replies:
        assert r.status == 200, r
        assert secret.encode() not in r.raw
    assert secret not in lathe.output


def test_hidden_value_stays_hidden_when_updated(user, project):
    secret = "first-" + secrets.token_hex(8)
    assert user.client.put(env_path(project, "PW"), {"value": secret, "hidden": True}).status == 200
    second = "second-" + secrets.token_hex(8)
    reply = user.client.put(env_path(project, "PW"), {"value": second, "hidden": True})
    assert reply.status == 200 and reply.body["value"] is None
    listed = user.client.get(env_path(project))
    assert second.encode() not in listed.raw and secret.encode() not in listed.raw


def test_env_values_are_encrypted_at_rest(lathe, user, project):
    hidden = "hidden-" + secrets.token_hex(16)
    visible = "visible-" + secrets.token_hex(16)
    assert user.client.put(env_path(project, "H"), {"value": hidden, "hidden": True}).status == 200
    assert user.client.put(env_path(project, "V"), {"value": visible}).status == 200
    assert files_containing(lathe.data_dir, hidden.encode()) == []
    assert files_containing(lathe.data_dir, visible.encode()) == []


@pytest.mark.parametrize(
    "name",
    ["1ABC", "A-B", "A B", "A.B", "Ä", "x" * 129],
    ids=["digit", "dash", "space", "dot", "unicode", "129"],
)
def test_invalid_env_name_is_400(user, project, name):
    reply = user.client.put(env_path(project, name), {"value": "v"})
    assert_error(reply, 400, "bad_request")
    assert user.client.get(env_path(project)).body["environment"] == []


@pytest.mark.parametrize(
    "body",
    [{}, {"value": 5}, {"value": None}, {"value": "v", "hidden": "yes"}, {"value": "x" * 65537}],
    ids=["missing_value", "number", "null", "hidden_not_bool", "over_64KiB"],
)
def test_invalid_env_body_is_400(user, project, body):
    reply = user.client.put(env_path(project, "NAME"), body)
    assert_error(reply, 400, "bad_request")
    assert user.client.get(env_path(project)).body["environment"] == []


def test_env_bounds_are_accepted(user, project):
    long_name = "N" * 128
    assert user.client.put(env_path(project, long_name), {"value": "x" * 65536}).status == 200
    env = user.client.get(env_path(project)).body["environment"]
    assert env[0]["name"] == long_name and len(env[0]["value"]) == 65536


def test_malformed_env_json_is_400(user, project):
    reply = user.client.put(env_path(project, "NAME"), '{"value": ')
    assert_error(reply, 400, "bad_request")


# ---------------------------------------------------------------------------------------------
# Audit log


EVENT_FIELDS = {"id", "time", "actor", "action", "target", "status", "address", "request_id"}


def audit_event(admin, request_id, **flt):
    params = {"page_size": 1000}
    if flt:
        params["search_filter"] = json.dumps(flt)
    events = admin.get("/api/v2/audit", params=params).body["events"]
    found = [e for e in events if e.get("request_id") == request_id]
    assert len(found) == 1, f"no audit event for request {request_id}"
    return found[0]


def test_state_changes_are_audited_with_request_id(lathe, admin, user):
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    reply = user.client.post(PROJECTS, {"name": unique("audited")})
    assert reply.status == 201
    event = audit_event(admin, reply.headers["X-Request-Id"], actor=user.username)
    assert EVENT_FIELDS <= set(event)
    assert event["actor"] == user.username
    assert "127.0.0.1" in str(event["address"])
    assert before <= parse_time(event["time"]) <= datetime.now(timezone.utc) + timedelta(seconds=5)
    assert str(reply.body["id"]) in str(event["target"]) or reply.body["name"] in str(
        event["target"]
    )

    base = project_path(reply.body)
    for r in [
        user.client.patch(base, {"description": "x"}),
        user.client.put(f"{base}/env/X", {"value": "1"}),
        user.client.put(f"{base}/files/a.txt", b"a"),
        user.client.delete(base),
    ]:
        assert 200 <= r.status < 300, r
        audit_event(admin, r.headers["X-Request-Id"], actor=user.username)


def test_refused_changes_are_audited(lathe, admin, user, project):
    stranger = lathe.create_user("nosy")
    reply = stranger.client.delete(project_path(project))
    assert reply.status == 404
    event = audit_event(admin, reply.headers["X-Request-Id"], actor=stranger.username)
    assert event["actor"] == stranger.username
    assert str(event["status"]) not in ("204", "ok", "success")


def test_login_attempts_are_audited(lathe, admin, user):
    bad = lathe.client().login(user.username, "wrong-password")
    assert bad.status == 401
    good = lathe.client().login(user.username, user.password)
    assert good.status == 200
    ev_bad = audit_event(admin, bad.headers["X-Request-Id"])
    ev_good = audit_event(admin, good.headers["X-Request-Id"])
    assert ev_bad["status"] != ev_good["status"]
    assert "wrong-password" not in json.dumps(ev_bad)


def test_audit_is_newest_first_and_filters_by_actor(lathe, admin):
    actor = lathe.create_user("actor")
    for i in range(3):
        create_project(actor.client, f"a-{i}")
    events = list_all(
        admin, "/api/v2/audit", "events", {"search_filter": filtered(actor=actor.username)}
    )
    assert len(events) >= 3
    assert all(actor.username in e["actor"] for e in events)
    ids = [e["id"] for e in events]
    assert ids == sorted(ids, reverse=True)
    times = [parse_time(e["time"]) for e in events]
    assert times == sorted(times, reverse=True)


def test_audit_pagination(lathe, admin):
    actor = lathe.create_user("pgactor")
    for i in range(12):
        create_project(actor.client, f"b-{i}")
    flt = filtered(actor=actor.username)
    first = admin.get("/api/v2/audit", params={"page_size": 5, "search_filter": flt}).body
    assert len(first["events"]) == 5 and first["next_page_token"]
    second = admin.get(
        "/api/v2/audit",
        params={"page_size": 5, "search_filter": flt, "page_token": first["next_page_token"]},
    ).body
    assert not {e["id"] for e in first["events"]} & {e["id"] for e in second["events"]}
    assert min(e["id"] for e in first["events"]) > max(e["id"] for e in second["events"])


def test_non_admin_cannot_read_audit(user):
    assert_error(user.client.get("/api/v2/audit"), 403, "permission_denied")


def test_unknown_audit_filter_is_400(admin):
    reply = admin.get("/api/v2/audit", params={"search_filter": '{"secret": "x"}'})
    assert_error(reply, 400, "bad_request")


def test_passwords_never_reach_the_audit_log_or_the_logs(lathe, admin):
    password = "pw-" + secrets.token_hex(12)
    username = unique("secretive")
    assert admin.post("/api/v2/users", {"username": username, "password": password}).status == 201
    client = lathe.client()
    assert client.login(username, password).status == 200
    new_password = "pw2-" + secrets.token_hex(12)
    reply = client.patch(
        f"/api/v2/users/{username}", {"password": new_password, "current_password": password}
    )
    assert reply.status == 200, reply
    lathe.client().login(username, "wrong-" + new_password)
    audit = admin.get("/api/v2/audit", params={"page_size": 1000})
    for secret in [password, new_password]:
        assert secret.encode() not in audit.raw
        assert secret not in lathe.output
