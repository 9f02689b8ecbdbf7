"""API keys: shown once, expiry, revocation, who may create, list and revoke them, last use."""

import time
from datetime import datetime, timedelta, timezone

import pytest

from conftest import assert_error, parse_time

SESSION = "/api/v2/auth/session"


def keys_path(username):
    return f"/api/v2/users/{username}/keys"


def now_utc():
    return datetime.now(timezone.utc)


def listed_keys(client, username):
    reply = client.get(keys_path(username))
    assert reply.status == 200, reply
    return reply


def find_key(keys, key_id):
    matches = [k for k in keys if k["id"] == key_id]
    assert len(matches) == 1, f"key {key_id} not listed once in {keys}"
    return matches[0]


def test_key_is_shown_once_and_listed_only_by_prefix(lathe, user):
    created = lathe.create_key(user.username, user.password, name="laptop")
    body = created.body
    secret = body["key"]
    assert secret.startswith("lathe_")
    assert len(secret) >= 32
    assert isinstance(body["id"], int)
    assert body["name"] == "laptop"
    assert secret.startswith(body["prefix"]) and len(body["prefix"]) < len(secret)
    parse_time(body["created_at"])

    reply = listed_keys(user.client, user.username)
    entry = find_key(reply.body["keys"], body["id"])
    assert entry["name"] == "laptop"
    assert entry["prefix"] == body["prefix"]
    assert "key" not in entry
    secret_part = secret[len(body["prefix"]) :]
    assert secret.encode() not in reply.raw
    assert secret_part.encode() not in reply.raw

    admin_view = lathe.admin.get("/api/v2/keys", params={"page_size": 1000})
    assert admin_view.status == 200
    assert secret_part.encode() not in admin_view.raw
    audit = lathe.admin.get("/api/v2/audit", params={"page_size": 1000})
    assert secret_part.encode() not in audit.raw

    # and the key it showed works
    status, _, session = lathe.client(secret).get(SESSION)
    assert status == 200 and session["user"]["username"] == user.username
    assert session["auth"] == "api_key"
    assert secret_part not in lathe.output


def test_two_keys_are_distinct_and_both_work(lathe, user):
    a = lathe.api_key(user.username, user.password)
    b = lathe.api_key(user.username, user.password)
    assert a != b
    assert lathe.client(a).get(SESSION).status == 200
    assert lathe.client(b).get(SESSION).status == 200


def test_key_without_expiry_has_no_expires_at(lathe, user):
    body = lathe.create_key(user.username, user.password, name="forever").body
    assert body.get("expires_at") is None
    entry = find_key(listed_keys(user.client, user.username).body["keys"], body["id"])
    assert entry.get("expires_at") is None


@pytest.mark.parametrize("days", [1, 30, 365])
def test_expires_in_days_sets_expires_at(lathe, user, days):
    before = now_utc()
    body = lathe.create_key(user.username, user.password, name="x", expires_in_days=days).body
    after = now_utc()
    expires = parse_time(body["expires_at"])
    slack = timedelta(seconds=5)
    assert before + timedelta(days=days) - slack <= expires <= after + timedelta(days=days) + slack
    entry = find_key(listed_keys(user.client, user.username).body["keys"], body["id"])
    assert parse_time(entry["expires_at"]) == expires
    assert lathe.client(body["key"]).get(SESSION).status == 200


@pytest.mark.parametrize("days", [0, -1, -30, "7", 1.5, True], ids=repr)
def test_invalid_expires_in_days_is_400(lathe, user, days):
    client = lathe.session(user.username, user.password)
    before = {k["id"] for k in listed_keys(user.client, user.username).body["keys"]}
    reply = client.post(keys_path(user.username), {"name": "bad", "expires_in_days": days})
    assert_error(reply, 400, "bad_request")
    after = {k["id"] for k in listed_keys(user.client, user.username).body["keys"]}
    assert after == before, "a refused key was still created"


def test_revoked_key_is_401_on_next_use(lathe, user):
    body = lathe.create_key(user.username, user.password, name="doomed").body
    doomed = lathe.client(body["key"])
    assert doomed.get(SESSION).status == 200
    reply = user.client.delete(f"{keys_path(user.username)}/{body['id']}")
    assert reply.status == 204, reply
    assert_error(doomed.get(SESSION), 401, "unauthenticated")
    assert_error(doomed.get("/api/v2/projects"), 401, "unauthenticated")
    assert_error(doomed.post("/api/v2/projects", {"name": "after-revoke"}), 401, "unauthenticated")
    listed = listed_keys(user.client, user.username).body["keys"]
    assert body["id"] not in [k["id"] for k in listed if not k.get("revoked_at")]
    # the user's other key is untouched
    assert user.client.get(SESSION).status == 200


def test_key_can_revoke_itself(lathe, user):
    body = lathe.create_key(user.username, user.password).body
    client = lathe.client(body["key"])
    assert client.delete(f"{keys_path(user.username)}/{body['id']}").status == 204
    assert_error(client.get(SESSION), 401, "unauthenticated")


def test_revoking_unknown_key_is_404(user):
    assert_error(user.client.delete(f"{keys_path(user.username)}/987654321"), 404, "not_found")


def test_only_self_can_create_keys(lathe, admin, user):
    reply = admin.post(keys_path(user.username), {"name": "admin-made"})
    assert_error(reply, 403, "permission_denied")
    admin_session = lathe.session(lathe.admin_user, lathe.admin_password)
    reply = admin_session.post(keys_path(user.username), {"name": "admin-made"})
    assert_error(reply, 403, "permission_denied")
    other = lathe.create_user("other")
    reply = other.client.post(keys_path(user.username), {"name": "stolen"})
    assert_error(reply, 403, "permission_denied")
    names = [k.get("name") for k in listed_keys(user.client, user.username).body["keys"]]
    assert "admin-made" not in names and "stolen" not in names


def test_admin_lists_every_users_keys_with_username(lathe, admin):
    alice = lathe.create_user("alice")
    bob = lathe.create_user("bob")
    a = lathe.create_key(alice.username, alice.password, name="alice-key").body
    b = lathe.create_key(bob.username, bob.password, name="bob-key").body
    reply = admin.get("/api/v2/keys", params={"page_size": 1000})
    assert reply.status == 200
    keys = reply.body["keys"]
    while reply.body.get("next_page_token"):
        reply = admin.get(
            "/api/v2/keys", params={"page_size": 1000, "page_token": reply.body["next_page_token"]}
        )
        keys += reply.body["keys"]
    assert find_key(keys, a["id"])["username"] == alice.username
    assert find_key(keys, b["id"])["username"] == bob.username
    for k in keys:
        assert "key" not in k
    assert a["key"].encode() not in reply.raw


def test_admin_reads_and_revokes_another_users_key(lathe, admin, user):
    body = lathe.create_key(user.username, user.password, name="victim").body
    victim = lathe.client(body["key"])
    listed = listed_keys(admin, user.username).body["keys"]
    assert find_key(listed, body["id"])["name"] == "victim"
    assert admin.delete(f"{keys_path(user.username)}/{body['id']}").status == 204
    assert_error(victim.get(SESSION), 401, "unauthenticated")


def test_non_admin_cannot_list_all_keys(user):
    assert_error(user.client.get("/api/v2/keys"), 403, "permission_denied")


def test_non_admin_cannot_see_or_revoke_others_keys(lathe, user):
    other = lathe.create_user("other")
    target = lathe.create_key(other.username, other.password, name="target").body
    assert_error(user.client.get(keys_path(other.username)), 403, "permission_denied")
    reply = user.client.delete(f"{keys_path(other.username)}/{target['id']}")
    assert_error(reply, 403, "permission_denied")
    # nor through their own path with another user's key id
    reply = user.client.delete(f"{keys_path(user.username)}/{target['id']}")
    assert_error(reply, 404, "not_found")
    assert lathe.client(target["key"]).get(SESSION).status == 200


def test_last_used_at_is_set_after_use(lathe, user):
    body = lathe.create_key(user.username, user.password, name="fresh").body
    entry = find_key(listed_keys(user.client, user.username).body["keys"], body["id"])
    assert entry.get("last_used_at") is None
    before = now_utc() - timedelta(seconds=5)
    assert lathe.client(body["key"]).get("/api/v2/projects").status == 200
    deadline = time.monotonic() + 10
    while True:
        entry = find_key(listed_keys(user.client, user.username).body["keys"], body["id"])
        if entry.get("last_used_at") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert entry.get("last_used_at"), f"last_used_at not set after use: {entry}"
    used = parse_time(entry["last_used_at"])
    assert before <= used <= now_utc() + timedelta(seconds=5)


def test_keys_of_unknown_user_is_404(admin):
    assert_error(admin.get(keys_path("no-such-user-xyz")), 404, "not_found")
