"""Who may do what on a project: a generated matrix of every project endpoint × every kind of
caller, plus the rules around last Admins, team ownership, team visibility and `my_role`."""

import re
from dataclasses import dataclass
from typing import Callable, Optional

import pytest

from conftest import assert_error, create_project, create_team, unique

ROLES = ["Viewer", "Operator", "Contributor", "Admin"]
RANK = {role: i for i, role in enumerate(ROLES)}
ANONYMOUS = "anonymous"
DATA = b"original file content\x00\xff"


# ---------------------------------------------------------------------------------------------
# The policy, as docs/api.md states it: each action with the minimum project role it needs.


@dataclass
class Action:
    min_role: str
    method: str
    path: str  # appended to /api/v2/projects/{id}; {newcomer}/{bystander} are usernames
    body: object = None
    changed: Optional[Callable] = None  # (site admin client, project path, names) -> happened?
    check_ok: Optional[Callable] = None  # (reply) -> asserts the allowed answer's content


def _collaborator_names(admin, base):
    reply = admin.get(base + "/collaborators")
    assert reply.status == 200, reply
    return {c["username"] for c in reply.body["collaborators"]}


def _env_names(admin, base):
    reply = admin.get(base + "/env")
    assert reply.status == 200, reply
    return {v["name"] for v in reply.body["environment"]}


def _status(admin, path):
    return admin.get(path).status


ACTIONS = {
    "project.get": Action(
        "Viewer", "GET", "", check_ok=lambda r: r.body["name"].startswith("perm")
    ),
    "project.patch": Action(
        "Admin",
        "PATCH",
        "",
        {"description": "patched"},
        changed=lambda a, base, names: a.get(base).body["description"] == "patched",
    ),
    "project.delete": Action(
        "Admin", "DELETE", "", changed=lambda a, base, names: _status(a, base) == 404
    ),
    "collaborators.list": Action(
        "Viewer",
        "GET",
        "/collaborators",
        check_ok=lambda r: any(c["role"] == "Viewer" for c in r.body["collaborators"]),
    ),
    "collaborators.put": Action(
        "Admin",
        "PUT",
        "/collaborators/{newcomer}",
        {"role": "Viewer"},
        changed=lambda a, base, names: names["newcomer"] in _collaborator_names(a, base),
    ),
    "collaborators.delete": Action(
        "Admin",
        "DELETE",
        "/collaborators/{bystander}",
        changed=lambda a, base, names: names["bystander"] not in _collaborator_names(a, base),
    ),
    "files.list": Action(
        "Viewer",
        "GET",
        "/files",
        check_ok=lambda r: "data.txt" in {f["name"] for f in r.body["files"]},
    ),
    "files.get": Action(
        "Viewer",
        "GET",
        "/files/data.txt",
        check_ok=lambda r: r.body["type"] == "file" and r.body["size"] == len(DATA),
    ),
    "files.download": Action(
        "Viewer", "GET", "/files/data.txt:download", check_ok=lambda r: r.raw == DATA
    ),
    "files.put": Action(
        "Contributor",
        "PUT",
        "/files/new.txt",
        b"new content",
        changed=lambda a, base, names: _status(a, base + "/files/new.txt") == 200,
    ),
    "files.mkdir": Action(
        "Contributor",
        "POST",
        "/files/newdir:mkdir",
        changed=lambda a, base, names: _status(a, base + "/files/newdir") == 200,
    ),
    "files.patch": Action(
        "Contributor",
        "PATCH",
        "/files/data.txt",
        {"path": "moved.txt"},
        changed=lambda a, base, names: _status(a, base + "/files/moved.txt") == 200,
    ),
    "files.delete": Action(
        "Contributor",
        "DELETE",
        "/files/data.txt",
        changed=lambda a, base, names: _status(a, base + "/files/data.txt") == 404,
    ),
    "env.list": Action(
        "Viewer",
        "GET",
        "/env",
        check_ok=lambda r: "EXISTING" in {v["name"] for v in r.body["environment"]},
    ),
    "env.put": Action(
        "Contributor",
        "PUT",
        "/env/NEW_VAR",
        {"value": "v"},
        changed=lambda a, base, names: "NEW_VAR" in _env_names(a, base),
    ),
    "env.delete": Action(
        "Contributor",
        "DELETE",
        "/env/EXISTING",
        changed=lambda a, base, names: "EXISTING" not in _env_names(a, base),
    ),
}


# Each kind of caller: the project it acts on and the role the docs give it there (None: it may
# not see the project).
@dataclass
class Caller:
    project: str  # private | public | team_visible | team_owned
    role: Optional[str]
    collaborator_role: Optional[str] = None  # added as a collaborator with this role


CALLERS = {
    "viewer": Caller("private", "Viewer", collaborator_role="Viewer"),
    "operator": Caller("private", "Operator", collaborator_role="Operator"),
    "contributor": Caller("private", "Contributor", collaborator_role="Contributor"),
    "admin_collaborator": Caller("private", "Admin", collaborator_role="Admin"),
    "site_admin": Caller("private", "Admin"),
    "stranger_private": Caller("private", None),
    "stranger_public": Caller("public", "Viewer"),
    "team_viewer": Caller("team_owned", "Viewer"),
    "team_operator": Caller("team_owned", "Operator"),
    "team_contributor": Caller("team_owned", "Contributor"),
    "team_admin": Caller("team_owned", "Admin"),
    "stranger_team_owned": Caller("team_owned", None),
    "owner_teammate_team_visibility": Caller("team_visible", "Viewer"),
    "stranger_team_visibility": Caller("team_visible", None),
    "anonymous_private": Caller("private", ANONYMOUS),
    "anonymous_public": Caller("public", ANONYMOUS),
}


def expected_outcome(caller_role, min_role):
    if caller_role == ANONYMOUS:
        return 401, "unauthenticated"
    if caller_role is None:
        return 404, "not_found"
    if RANK[caller_role] < RANK[min_role]:
        return 403, "permission_denied"
    return "allowed", None


# ---------------------------------------------------------------------------------------------
# The cast: users and teams made once for the module


@pytest.fixture(scope="module")
def cast(lathe):
    users = {}
    for name in [
        "owner",
        "viewer",
        "operator",
        "contributor",
        "admin_collaborator",
        "stranger",
        "crewlead",
        "team_viewer",
        "team_operator",
        "team_contributor",
        "team_admin",
        "peer",
        "newcomer",
        "bystander",
    ]:
        users[name] = lathe.create_user(name.replace("_", "")[:10])
    users["site_admin"] = lathe.create_user("siteadmin", is_admin=True)
    crew = create_team(
        users["crewlead"].client,
        members={users[f"team_{r.lower()}"].username: r for r in ROLES},
    )
    # The owner's teammate has a high team role, which must not matter for the owner's own
    # projects: team visibility gives Viewer only.
    peers = create_team(users["owner"].client, members={users["peer"].username: "Contributor"})
    return {"users": users, "crew": crew, "peers": peers}


CALLER_USER = {
    "stranger_private": "stranger",
    "stranger_public": "stranger",
    "stranger_team_owned": "stranger",
    "stranger_team_visibility": "stranger",
    "owner_teammate_team_visibility": "peer",
}


def caller_client(lathe, cast, kind):
    if CALLERS[kind].role == ANONYMOUS:
        return lathe.client()
    return cast["users"][CALLER_USER.get(kind, kind)].client


def make_world(lathe, cast, kind):
    """A fresh project for one cell, seeded with a file, an env var and a Viewer collaborator."""
    users = cast["users"]
    caller = CALLERS[kind]
    name = unique("perm")
    if caller.project == "team_owned":
        creator = users["crewlead"]
        project = create_project(creator.client, name, team=cast["crew"], visibility="private")
    else:
        creator = users["owner"]
        visibility = {"private": "private", "public": "public", "team_visible": "team"}
        project = create_project(creator.client, name, visibility=visibility[caller.project])
    base = f"/api/v2/projects/{project['id']}"
    c = creator.client
    assert c.put(
        f"{base}/collaborators/{users['bystander'].username}", {"role": "Viewer"}
    ).status in (
        200,
        201,
    )
    assert c.put(f"{base}/files/data.txt", DATA).status == 201
    assert c.put(f"{base}/env/EXISTING", {"value": "1"}).status == 200
    if caller.collaborator_role:
        reply = c.put(
            f"{base}/collaborators/{users[kind].username}", {"role": caller.collaborator_role}
        )
        assert reply.status in (200, 201), reply
    return project, base


def call_action(client, action, base, names):
    path = base + action.path.format(**names)
    return client.request(action.method, path, action.body)


@pytest.mark.parametrize("kind", list(CALLERS))
@pytest.mark.parametrize("action_name", list(ACTIONS))
def test_permission_matrix(lathe, admin, cast, action_name, kind):
    action = ACTIONS[action_name]
    caller = CALLERS[kind]
    names = {k: u.username for k, u in cast["users"].items()}
    project, base = make_world(lathe, cast, kind)
    client = caller_client(lathe, cast, kind)

    reply = call_action(client, action, base, names)

    outcome, code = expected_outcome(caller.role, action.min_role)
    if outcome == "allowed":
        assert 200 <= reply.status < 300, f"{kind} should be allowed {action_name}: {reply!r}"
        if action.check_ok:
            action.check_ok(reply)
    else:
        assert_error(reply, outcome, code)
    if action.changed:
        assert action.changed(admin, base, names) == (outcome == "allowed"), (
            f"{action_name} by {kind}: answered {reply.status} but the change "
            f"{'did not happen' if outcome == 'allowed' else 'happened'}"
        )


# ---------------------------------------------------------------------------------------------
# my_role and visibility in lists


@pytest.mark.parametrize("kind", list(CALLERS))
def test_my_role_in_project_answers(lathe, cast, kind):
    caller = CALLERS[kind]
    project, base = make_world(lathe, cast, kind)
    client = caller_client(lathe, cast, kind)
    reply = client.get(base)
    listed = client.get(
        "/api/v2/projects",
        params={"search_filter": f'{{"name": "{project["name"]}"}}', "page_size": 1000},
    )
    if caller.role == ANONYMOUS:
        assert_error(reply, 401, "unauthenticated")
        assert_error(listed, 401, "unauthenticated")
    elif caller.role is None:
        assert_error(reply, 404, "not_found")
        assert listed.status == 200
        assert project["id"] not in [p["id"] for p in listed.body["projects"]]
    else:
        assert reply.status == 200, reply
        assert reply.body["my_role"] == caller.role
        assert listed.status == 200
        entries = [p for p in listed.body["projects"] if p["id"] == project["id"]]
        assert len(entries) == 1, f"{kind} does not see the project in the list"
        assert entries[0]["my_role"] == caller.role


def test_creator_is_the_projects_admin(cast):
    owner = cast["users"]["owner"]
    project = create_project(owner.client, visibility="private")
    assert project["my_role"] == "Admin"
    assert project["owner"] == {"type": "user", "name": owner.username}
    reply = owner.client.get(f"/api/v2/projects/{project['id']}/collaborators")
    assert {"username": owner.username, "role": "Admin"} in [
        {"username": c["username"], "role": c["role"]} for c in reply.body["collaborators"]
    ]


@pytest.mark.parametrize(
    "endpoint",
    ["", "/collaborators", "/files", "/files/data.txt", "/files/data.txt:download", "/env"],
)
def test_hidden_project_is_indistinguishable_from_a_missing_one(lathe, cast, endpoint):
    project, base = make_world(lathe, cast, "stranger_private")
    stranger = cast["users"]["stranger"].client
    missing_id = project["id"] + 10_000_000
    hidden = stranger.get(base + endpoint)
    missing = stranger.get(f"/api/v2/projects/{missing_id}" + endpoint)
    assert_error(hidden, 404, "not_found")
    assert_error(missing, 404, "not_found")

    def normalized(reply, pid):
        return re.sub(rf"\b{pid}\b", "N", reply.body["error"]["message"])

    assert normalized(hidden, project["id"]) == normalized(missing, missing_id)


# ---------------------------------------------------------------------------------------------
# A project always keeps at least one Admin


def test_removing_the_last_admin_is_409(lathe, admin, cast):
    owner = cast["users"]["owner"]
    second = cast["users"]["newcomer"]
    project = create_project(owner.client, visibility="private")
    base = f"/api/v2/projects/{project['id']}"
    me = f"{base}/collaborators/{owner.username}"

    assert_error(owner.client.delete(me), 409, "conflict")
    assert_error(admin.delete(me), 409, "conflict")
    assert owner.client.get(base).body["my_role"] == "Admin"

    assert owner.client.put(
        f"{base}/collaborators/{second.username}", {"role": "Admin"}
    ).status in (
        200,
        201,
    )
    assert owner.client.delete(me).status == 204
    assert owner.username not in _collaborator_names(second.client, base)
    assert_error(second.client.delete(f"{base}/collaborators/{second.username}"), 409, "conflict")
    assert second.client.get(base).body["my_role"] == "Admin"


def test_demoting_the_last_admin_is_409(cast):
    owner = cast["users"]["owner"]
    project = create_project(owner.client, visibility="private")
    base = f"/api/v2/projects/{project['id']}"
    reply = owner.client.put(f"{base}/collaborators/{owner.username}", {"role": "Contributor"})
    assert_error(reply, 409, "conflict")
    assert owner.client.get(base).body["my_role"] == "Admin"


def test_collaborator_role_changes_take_effect(cast):
    owner, user = cast["users"]["owner"], cast["users"]["newcomer"]
    project = create_project(owner.client, visibility="private")
    base = f"/api/v2/projects/{project['id']}"
    collab = f"{base}/collaborators/{user.username}"
    status, _, body = owner.client.put(collab, {"role": "Viewer"})
    assert status in (200, 201) and body == {"username": user.username, "role": "Viewer"}
    assert_error(user.client.put(f"{base}/files/x.txt", b"x"), 403, "permission_denied")
    status, _, body = owner.client.put(collab, {"role": "Contributor"})
    assert status in (200, 201) and body["role"] == "Contributor"
    assert user.client.put(f"{base}/files/x.txt", b"x").status == 201
    assert owner.client.delete(collab).status == 204
    assert_error(user.client.get(base), 404, "not_found")


@pytest.mark.parametrize("role", ["Owner", "viewer", "", None, 3])
def test_invalid_collaborator_role_is_400(cast, role):
    owner, user = cast["users"]["owner"], cast["users"]["newcomer"]
    project = create_project(owner.client, visibility="private")
    base = f"/api/v2/projects/{project['id']}"
    reply = owner.client.put(f"{base}/collaborators/{user.username}", {"role": role})
    assert_error(reply, 400, "bad_request")
    assert user.username not in _collaborator_names(owner.client, base)


# ---------------------------------------------------------------------------------------------
# Teams: ownership and visibility


def test_team_owned_project_is_visible_to_members_only(lathe, cast):
    users = cast["users"]
    project = create_project(users["crewlead"].client, team=cast["crew"], visibility="private")
    assert project["owner"] == {"type": "team", "name": cast["crew"]}
    base = f"/api/v2/projects/{project['id']}"
    for member in ["team_viewer", "team_operator", "team_contributor", "team_admin"]:
        reply = users[member].client.get(base)
        assert reply.status == 200 and reply.body["my_role"] == member.split("_")[1].title()
    for outsider in ["stranger", "owner", "peer"]:
        assert_error(users[outsider].client.get(base), 404, "not_found")
        mine = users[outsider].client.get(
            "/api/v2/projects", params={"search_filter": f'{{"name": "{project["name"]}"}}'}
        )
        assert mine.status == 200 and mine.body["projects"] == []


@pytest.mark.parametrize(
    "member,allowed",
    [
        ("team_viewer", False),
        ("team_operator", False),
        ("team_contributor", True),
        ("team_admin", True),
        ("stranger", False),
    ],
)
def test_creating_a_team_project_needs_contributor_in_the_team(lathe, admin, cast, member, allowed):
    users = cast["users"]
    name = unique("teamproj")
    reply = users[member].client.post(
        "/api/v2/projects", {"name": name, "team": cast["crew"], "visibility": "private"}
    )
    if allowed:
        assert reply.status == 201, reply
        assert reply.body["owner"] == {"type": "team", "name": cast["crew"]}
    else:
        assert_error(reply, 403, "permission_denied")
        found = admin.get(
            "/api/v2/projects", params={"search_filter": f'{{"name": "{name}"}}'}
        ).body["projects"]
        assert found == []


def test_team_visibility_follows_team_membership(lathe, cast):
    users = cast["users"]
    owner, outsider = users["owner"], lathe.create_user("joiner")
    project = create_project(owner.client, visibility="team")
    base = f"/api/v2/projects/{project['id']}"
    assert_error(outsider.client.get(base), 404, "not_found")
    team = create_team(owner.client, members={outsider.username: "Viewer"})
    reply = outsider.client.get(base)
    assert reply.status == 200 and reply.body["my_role"] == "Viewer"
    assert owner.client.delete(f"/api/v2/teams/{team}/members/{outsider.username}").status == 204
    assert_error(outsider.client.get(base), 404, "not_found")


def test_team_visibility_reaches_members_of_the_owning_team(lathe, cast):
    users = cast["users"]
    outsider = lathe.create_user("teamvis")
    project = create_project(users["crewlead"].client, team=cast["crew"], visibility="team")
    base = f"/api/v2/projects/{project['id']}"
    assert users["team_viewer"].client.get(base).body["my_role"] == "Viewer"
    assert users["team_admin"].client.get(base).body["my_role"] == "Admin"
    assert_error(outsider.client.get(base), 404, "not_found")


def test_private_project_becomes_visible_when_made_public(lathe, cast):
    users = cast["users"]
    project = create_project(users["owner"].client, visibility="private")
    base = f"/api/v2/projects/{project['id']}"
    stranger = users["stranger"].client
    assert_error(stranger.get(base), 404, "not_found")
    assert users["owner"].client.patch(base, {"visibility": "public"}).status == 200
    reply = stranger.get(base)
    assert reply.status == 200 and reply.body["my_role"] == "Viewer"
    assert_error(stranger.put(f"{base}/files/x.txt", b"x"), 403, "permission_denied")
    assert users["owner"].client.patch(base, {"visibility": "private"}).status == 200
    assert_error(stranger.get(base), 404, "not_found")


def test_team_role_change_updates_project_role(lathe, cast):
    users = cast["users"]
    member = lathe.create_user("mover")
    lead = users["crewlead"].client
    path = f"/api/v2/teams/{cast['crew']}/members/{member.username}"
    assert lead.put(path, {"role": "Viewer"}).status in (200, 201)
    project = create_project(lead, team=cast["crew"], visibility="private")
    base = f"/api/v2/projects/{project['id']}"
    assert_error(member.client.put(f"{base}/files/x.txt", b"x"), 403, "permission_denied")
    assert lead.put(path, {"role": "Contributor"}).status in (200, 201)
    assert member.client.put(f"{base}/files/x.txt", b"x").status == 201
    assert member.client.get(base).body["my_role"] == "Contributor"
    assert lead.delete(path).status == 204
    assert_error(member.client.get(base), 404, "not_found")


def test_collaborator_role_and_team_role_combine_to_the_highest(lathe, cast):
    users = cast["users"]
    project = create_project(users["crewlead"].client, team=cast["crew"], visibility="private")
    base = f"/api/v2/projects/{project['id']}"
    viewer_member = users["team_viewer"]
    lead = users["crewlead"].client
    assert lead.put(
        f"{base}/collaborators/{viewer_member.username}", {"role": "Contributor"}
    ).status in (
        200,
        201,
    )
    assert viewer_member.client.get(base).body["my_role"] == "Contributor"
    admin_member = users["team_admin"]
    assert lead.put(f"{base}/collaborators/{admin_member.username}", {"role": "Viewer"}).status in (
        200,
        201,
    )
    assert admin_member.client.get(base).body["my_role"] == "Admin"


def test_team_that_owns_projects_cannot_be_deleted(lathe, cast):
    lead = lathe.create_user("lead")
    team = create_team(lead.client)
    project = create_project(lead.client, team=team, visibility="private")
    assert_error(lead.client.delete(f"/api/v2/teams/{team}"), 409, "conflict")
    assert lead.client.get(f"/api/v2/teams/{team}").status == 200
    assert lead.client.delete(f"/api/v2/projects/{project['id']}").status == 204
    assert lead.client.delete(f"/api/v2/teams/{team}").status == 204


def test_only_team_admins_manage_members(lathe, cast):
    users = cast["users"]
    newbie = lathe.create_user("newbie")
    path = f"/api/v2/teams/{cast['crew']}/members/{newbie.username}"
    for member in ["team_viewer", "team_operator", "team_contributor", "stranger"]:
        assert_error(users[member].client.put(path, {"role": "Admin"}), 403, "permission_denied")
    members = users["stranger"].client.get(f"/api/v2/teams/{cast['crew']}/members").body["members"]
    assert newbie.username not in [m["username"] for m in members]
    assert users["team_admin"].client.put(path, {"role": "Viewer"}).status in (200, 201)
    victim = f"/api/v2/teams/{cast['crew']}/members/{users['team_viewer'].username}"
    assert_error(users["team_contributor"].client.delete(victim), 403, "permission_denied")
    assert users["team_admin"].client.delete(path).status == 204


def test_team_keeps_at_least_one_admin(lathe):
    lead = lathe.create_user("solo")
    team = create_team(lead.client)
    me = f"/api/v2/teams/{team}/members/{lead.username}"
    assert_error(lead.client.delete(me), 409, "conflict")
    members = lead.client.get(f"/api/v2/teams/{team}/members").body["members"]
    assert {"username": lead.username, "role": "Admin"} in members


def test_teams_and_users_share_one_namespace(lathe, admin):
    user = lathe.create_user("shared")
    assert_error(user.client.post("/api/v2/teams", {"name": user.username}), 409, "conflict")
    team = create_team(user.client)
    reply = admin.post("/api/v2/users", {"username": team, "password": "password-1"})
    assert_error(reply, 409, "conflict")


@pytest.mark.parametrize("name", ["", "Upper", "-x", "a b", "t" * 65])
def test_invalid_team_name_is_400(cast, name):
    reply = cast["users"]["stranger"].client.post("/api/v2/teams", {"name": name})
    assert_error(reply, 400, "bad_request")
