"""Sign-in, sessions, CSRF, login rate limits, disabled users and password changes."""

import pytest

from conftest import assert_error, create_project, parse_time, unique

LOGIN = "/api/v2/auth/login"
LOGOUT = "/api/v2/auth/logout"
SESSION = "/api/v2/auth/session"


def session_cookie(client):
    for line in client.last_set_cookies:
        if line.strip().startswith("lathe_session="):
            return line
    raise AssertionError(f"no lathe_session cookie in {client.last_set_cookies}")


# ---------------------------------------------------------------------------------------------
# Login


def test_login_answers_user_and_csrf_token_and_sets_session_cookie(lathe, user):
    client = lathe.client()
    status, _, body = client.login(user.username, user.password)
    assert status == 200
    assert body["user"]["username"] == user.username
    assert "password" not in body["user"]
    assert isinstance(body["csrf_token"], str) and len(body["csrf_token"]) >= 16
    assert "lathe_session" in client.cookies

    status, _, body = client.get(SESSION)
    assert status == 200
    assert body["user"]["username"] == user.username
    assert body["auth"] == "session"
    assert body["csrf_token"] == client.csrf_token


def test_session_cookie_is_httponly_and_samesite_strict(lathe, user):
    client = lathe.session(user.username, user.password)
    attrs = [a.strip().lower() for a in session_cookie(client).split(";")[1:]]
    assert "httponly" in attrs
    assert "samesite=strict" in attrs


def test_each_login_gets_its_own_session(lathe, user):
    first = lathe.session(user.username, user.password)
    second = lathe.session(user.username, user.password)
    assert first.cookies["lathe_session"] != second.cookies["lathe_session"]
    assert first.csrf_token != second.csrf_token


@pytest.mark.parametrize("case", ["wrong_password", "unknown_user"])
def test_login_failure_is_401_without_cookie(lathe, user, case):
    username, password = {
        "wrong_password": (user.username, user.password + "x"),
        "unknown_user": (unique("ghost"), user.password),
    }[case]
    client = lathe.client()
    reply = client.login(username, password)
    assert_error(reply, 401, "unauthenticated")
    assert "lathe_session" not in client.cookies
    assert_error(client.get(SESSION), 401, "unauthenticated")


@pytest.mark.parametrize("body", ['{"username": "x"', "[]", "{}", '{"username": "admin"}'])
def test_login_with_malformed_or_incomplete_body_is_400(lathe, body):
    reply = lathe.client().post(LOGIN, body)
    assert_error(reply, 400, "bad_request")


def test_session_endpoint_reports_api_key_auth(user):
    status, _, body = user.client.get(SESSION)
    assert status == 200
    assert body["auth"] == "api_key"
    assert body["user"]["username"] == user.username
    assert body.get("csrf_token") is None


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer lathe_not_a_real_key"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        {"Cookie": "lathe_session=forged-session-id"},
    ],
    ids=["none", "bogus_key", "empty_bearer", "basic_auth", "forged_cookie"],
)
def test_requests_without_valid_credentials_are_401(lathe, headers):
    reply = lathe.client().get("/api/v2/projects", headers=headers)
    assert_error(reply, 401, "unauthenticated")


# ---------------------------------------------------------------------------------------------
# CSRF


def cookie_changes(user):
    """State-changing requests a browser session might make: (method, path, body)."""
    project = create_project(user.client)
    pid = project["id"]
    return {
        "post_project": ("POST", "/api/v2/projects", {"name": unique("csrf")}),
        "patch_project": ("PATCH", f"/api/v2/projects/{pid}", {"description": "changed"}),
        "put_env": ("PUT", f"/api/v2/projects/{pid}/env/CSRF_VAR", {"value": "v"}),
        "put_file": ("PUT", f"/api/v2/projects/{pid}/files/csrf.txt", b"data"),
        "delete_project": ("DELETE", f"/api/v2/projects/{pid}", None),
        "create_key": ("POST", f"/api/v2/users/{user.username}/keys", {"name": "csrf"}),
    }, pid


CHANGES = ["post_project", "patch_project", "put_env", "put_file", "delete_project", "create_key"]


def change_happened(user, name, pid):
    c = user.client
    if name == "post_project":
        return any(p["name"].startswith("csrf") for p in c.get("/api/v2/projects").body["projects"])
    if name == "patch_project":
        return c.get(f"/api/v2/projects/{pid}").body["description"] == "changed"
    if name == "put_env":
        env = c.get(f"/api/v2/projects/{pid}/env").body["environment"]
        return any(v["name"] == "CSRF_VAR" for v in env)
    if name == "put_file":
        return c.get(f"/api/v2/projects/{pid}/files/csrf.txt").status == 200
    if name == "delete_project":
        return c.get(f"/api/v2/projects/{pid}").status == 404
    if name == "create_key":
        keys = c.get(f"/api/v2/users/{user.username}/keys").body["keys"]
        return any(k.get("name") == "csrf" for k in keys)
    raise AssertionError(name)


@pytest.mark.parametrize("token", ["missing", "wrong", "other_session"])
@pytest.mark.parametrize("change", CHANGES)
def test_cookie_change_without_valid_csrf_token_is_refused(lathe, change, token):
    user = lathe.create_user("csrf")
    changes, pid = cookie_changes(user)
    method, path, body = changes[change]
    browser = lathe.session(user.username, user.password)
    other = lathe.session(user.username, user.password)
    header = {"missing": None, "wrong": "x" * 32, "other_session": other.csrf_token}[token]
    reply = browser.request(method, path, body, headers={"X-CSRF-Token": header})
    assert_error(reply, 403, "csrf_failed")
    assert not change_happened(user, change, pid)


@pytest.mark.parametrize("change", CHANGES)
def test_cookie_change_with_right_csrf_token_succeeds(lathe, change):
    user = lathe.create_user("csrf")
    changes, pid = cookie_changes(user)
    method, path, body = changes[change]
    browser = lathe.session(user.username, user.password)
    reply = browser.request(method, path, body)
    assert 200 <= reply.status < 300, reply
    assert change_happened(user, change, pid)


@pytest.mark.parametrize("change", [c for c in CHANGES if c != "create_key"])
def test_api_key_changes_need_no_csrf_token(lathe, change):
    user = lathe.create_user("csrf")
    changes, pid = cookie_changes(user)
    method, path, body = changes[change]
    reply = user.client.request(method, path, body)
    assert 200 <= reply.status < 300, reply
    assert change_happened(user, change, pid)


def test_cookie_reads_need_no_csrf_token(lathe, user):
    browser = lathe.session(user.username, user.password)
    browser.csrf_token = None
    assert browser.get("/api/v2/projects").status == 200
    assert browser.get(SESSION).status == 200


# ---------------------------------------------------------------------------------------------
# Logout


def test_logout_revokes_the_session(lathe, user):
    browser = lathe.session(user.username, user.password)
    cookie = browser.cookies["lathe_session"]
    status, _, _ = browser.post(LOGOUT)
    assert status == 204
    replay = lathe.client()
    replay.cookies["lathe_session"] = cookie
    assert_error(replay.get(SESSION), 401, "unauthenticated")
    assert_error(replay.get("/api/v2/projects"), 401, "unauthenticated")
    replay.csrf_token = browser.csrf_token
    assert_error(replay.post("/api/v2/projects", {"name": unique("gone")}), 401, "unauthenticated")
    # the user's other credentials are unaffected
    assert user.client.get(SESSION).status == 200


def test_logout_needs_csrf_token(lathe, user):
    browser = lathe.session(user.username, user.password)
    assert_error(browser.post(LOGOUT, csrf=False), 403, "csrf_failed")
    assert browser.get(SESSION).status == 200


def test_logout_of_one_session_keeps_the_others(lathe, user):
    first = lathe.session(user.username, user.password)
    second = lathe.session(user.username, user.password)
    assert first.post(LOGOUT).status == 204
    assert second.get(SESSION).status == 200


# ---------------------------------------------------------------------------------------------
# Login rate limits


def assert_rate_limited(reply):
    assert_error(reply, 429, "too_many_requests")
    retry_after = reply.headers.get("Retry-After")
    assert retry_after is not None and retry_after.strip().isdigit(), reply.headers
    assert 1 <= int(retry_after) <= 60


def test_login_rate_limit_per_user(lathe_factory):
    server = lathe_factory("--login-rate-per-user", "3")
    victim, victim_password = server.add_user("victim")
    bystander, bystander_password = server.add_user("bystander")
    for _ in range(3):
        assert_error(server.client().login(victim, "wrong-password"), 401, "unauthenticated")
    assert_rate_limited(server.client().login(victim, "wrong-password"))
    # while limited even the right password is refused, and no session is made
    client = server.client()
    assert_rate_limited(client.login(victim, victim_password))
    assert "lathe_session" not in client.cookies
    # the limit is per user: others still sign in
    assert server.client().login(bystander, bystander_password).status == 200


def test_login_rate_limit_per_address(lathe_factory):
    server = lathe_factory("--login-rate-per-address", "3")
    for _ in range(3):
        reply = server.client().login(unique("ghost"), "wrong-password")
        assert_error(reply, 401, "unauthenticated")
    assert_rate_limited(server.client().login(unique("ghost"), "wrong-password"))
    assert_rate_limited(server.client().login(server.admin_user, server.admin_password))


def test_rate_limited_logins_are_audited(lathe_factory):
    server = lathe_factory("--login-rate-per-user", "3")
    victim, _ = server.add_user("victim")
    for _ in range(4):
        server.client().login(victim, "wrong-password")
    reply = server.client().login(victim, "wrong-password")
    assert reply.status == 429
    rid = reply.headers["X-Request-Id"]
    events = server.admin.get("/api/v2/audit", params={"page_size": 1000}).body["events"]
    assert any(e.get("request_id") == rid for e in events), "refused login not in the audit log"


# ---------------------------------------------------------------------------------------------
# Users: admin flags, disabled users, passwords


def test_disabled_user_cannot_sign_in_or_use_keys_or_sessions(lathe, admin):
    user = lathe.create_user("dis")
    browser = lathe.session(user.username, user.password)
    status, _, body = admin.patch(f"/api/v2/users/{user.username}", {"disabled": True})
    assert status == 200 and body["disabled"] is True
    assert admin.get(f"/api/v2/users/{user.username}").body["disabled"] is True

    assert_error(lathe.client().login(user.username, user.password), 401, "unauthenticated")
    assert_error(user.client.get(SESSION), 401, "unauthenticated")
    assert_error(user.client.get("/api/v2/projects"), 401, "unauthenticated")
    assert_error(browser.get(SESSION), 401, "unauthenticated")
    reply = user.client.post("/api/v2/projects", {"name": unique("disabled")})
    assert_error(reply, 401, "unauthenticated")


def test_re_enabled_user_can_sign_in_again(lathe, admin):
    user = lathe.create_user("dis")
    assert admin.patch(f"/api/v2/users/{user.username}", {"disabled": True}).status == 200
    assert lathe.client().login(user.username, user.password).status == 401
    assert admin.patch(f"/api/v2/users/{user.username}", {"disabled": False}).status == 200
    assert lathe.client().login(user.username, user.password).status == 200


def test_admin_can_grant_and_revoke_site_admin(lathe, admin):
    user = lathe.create_user("promo")
    assert_error(user.client.get("/api/v2/audit"), 403, "permission_denied")
    status, _, body = admin.patch(f"/api/v2/users/{user.username}", {"is_admin": True})
    assert status == 200 and body["is_admin"] is True
    assert user.client.get("/api/v2/audit").status == 200
    assert user.client.get("/api/v2/keys").status == 200
    assert admin.patch(f"/api/v2/users/{user.username}", {"is_admin": False}).status == 200
    assert_error(user.client.get("/api/v2/audit"), 403, "permission_denied")


@pytest.mark.parametrize(
    "field", [{"is_admin": True}, {"disabled": True}], ids=["is_admin", "disabled"]
)
def test_non_admin_cannot_set_admin_only_fields(lathe, admin, user, field):
    reply = user.client.patch(f"/api/v2/users/{user.username}", field)
    assert_error(reply, 403, "permission_denied")
    me = admin.get(f"/api/v2/users/{user.username}").body
    assert me["is_admin"] is False and me["disabled"] is False


def test_user_can_edit_own_profile_but_not_others(lathe, admin, user):
    other = lathe.create_user("other")
    status, _, body = user.client.patch(
        f"/api/v2/users/{user.username}", {"display_name": "Me Myself", "email": "me@example.com"}
    )
    assert status == 200
    assert body["display_name"] == "Me Myself" and body["email"] == "me@example.com"
    reply = user.client.patch(f"/api/v2/users/{other.username}", {"display_name": "Hacked"})
    assert_error(reply, 403, "permission_denied")
    assert admin.get(f"/api/v2/users/{other.username}").body["display_name"] != "Hacked"


def test_password_change_requires_current_password(lathe, user):
    path = f"/api/v2/users/{user.username}"
    new_password = "new-password-123"

    assert_error(user.client.patch(path, {"password": new_password}), 400, "bad_request")
    reply = user.client.patch(path, {"password": new_password, "current_password": "wrong-one!"})
    assert reply.status in (400, 401, 403), reply
    assert reply.error_code in ("bad_request", "unauthenticated", "permission_denied"), reply
    assert lathe.client().login(user.username, new_password).status == 401
    assert lathe.client().login(user.username, user.password).status == 200

    reply = user.client.patch(path, {"password": new_password, "current_password": user.password})
    assert reply.status == 200, reply
    assert "password" not in reply.body
    assert_error(lathe.client().login(user.username, user.password), 401, "unauthenticated")
    assert lathe.client().login(user.username, new_password).status == 200


def test_password_change_through_a_session_requires_current_password(lathe, user):
    browser = lathe.session(user.username, user.password)
    reply = browser.patch(f"/api/v2/users/{user.username}", {"password": "another-pass-1"})
    assert_error(reply, 400, "bad_request")
    assert lathe.client().login(user.username, user.password).status == 200


def test_admin_resets_another_users_password_without_current(lathe, admin, user):
    reply = admin.patch(f"/api/v2/users/{user.username}", {"password": "reset-by-admin-1"})
    assert reply.status == 200, reply
    assert lathe.client().login(user.username, "reset-by-admin-1").status == 200
    assert lathe.client().login(user.username, user.password).status == 401


@pytest.mark.parametrize("password", ["short12", "x" * 1025], ids=["7_chars", "1025_chars"])
def test_password_length_is_validated(lathe, admin, password):
    reply = admin.post("/api/v2/users", {"username": unique("pw"), "password": password})
    assert_error(reply, 400, "bad_request")


def test_password_bounds_are_accepted(lathe, admin):
    for password in ["exactly8", "y" * 1024]:
        name = unique("pw")
        assert admin.post("/api/v2/users", {"username": name, "password": password}).status == 201
        assert lathe.client().login(name, password).status == 200


# ---------------------------------------------------------------------------------------------
# Creating users


def test_admin_creates_user_with_documented_fields(lathe, admin):
    name = unique("new")
    reply = admin.post(
        "/api/v2/users",
        {"username": name, "password": "password-1", "display_name": "New One", "email": "n@x.org"},
    )
    assert reply.status == 201
    body = reply.body
    assert body["username"] == name
    assert body["display_name"] == "New One"
    assert body["email"] == "n@x.org"
    assert body["is_admin"] is False and body["disabled"] is False
    parse_time(body["created_at"])
    assert "password-1" not in reply.raw.decode()
    got = admin.get(f"/api/v2/users/{name}")
    assert got.status == 200 and got.body["username"] == name
    assert "password" not in got.body and "password_hash" not in got.body


def test_non_admin_cannot_create_users(lathe, user):
    name = unique("nope")
    reply = user.client.post("/api/v2/users", {"username": name, "password": "password-1"})
    assert_error(reply, 403, "permission_denied")
    assert lathe.admin.get(f"/api/v2/users/{name}").status == 404


def test_duplicate_username_is_409(lathe, admin, user):
    reply = admin.post("/api/v2/users", {"username": user.username, "password": "password-1"})
    assert_error(reply, 409, "conflict")
    # the existing user keeps the old password
    assert lathe.client().login(user.username, user.password).status == 200


@pytest.mark.parametrize(
    "username",
    ["", "Upper", "-dash", ".dot", "has space", "a" * 65, "slash/x", "ümlaut"],
    ids=[
        "empty",
        "uppercase",
        "leading_dash",
        "leading_dot",
        "space",
        "65_chars",
        "slash",
        "unicode",
    ],
)
def test_invalid_usernames_are_400(admin, username):
    reply = admin.post("/api/v2/users", {"username": username, "password": "password-1"})
    assert_error(reply, 400, "bad_request")


def test_valid_username_edge_cases_are_accepted(admin):
    suffix = unique("")
    for username in [
        "9" + suffix,
        ("a" + suffix + "_.-x")[:64],
        ("b" * 64)[: 64 - len(suffix)] + suffix,
    ]:
        reply = admin.post("/api/v2/users", {"username": username, "password": "password-1"})
        assert reply.status == 201, (username, reply)


def test_users_list_and_filter(lathe, admin):
    user = lathe.create_user("listme")
    status, _, body = user.client.get(
        "/api/v2/users", params={"search_filter": f'{{"username": "{user.username}"}}'}
    )
    assert status == 200
    assert [u["username"] for u in body["users"]] == [user.username]
    for u in body["users"]:
        assert "password" not in u and "password_hash" not in u
