"""Bearer keys: 401s that reveal nothing, rotation, revocation, expiry, last use, throttling."""

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from portal.apikeys import apikey_revoke, apikey_rotate, find_usable_key
from portal.models import ApiKey, AuditEntry
from tests.api_fixtures import client_for
from tests.factories import TEST_ACTOR, ContactFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/contacts/"


def unauthorized_body(response) -> dict:
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    return response.json()


def test_missing_key_is_401(client):
    body = unauthorized_body(client.get(URL))
    assert body["error"]["code"] == "unauthenticated"


def test_valid_prefix_with_wrong_secret_is_the_same_401_as_an_unknown_key(api_key):
    key, token = api_key
    wrong_secret = f"psk_{key.prefix}_{'x' * 40}"
    unknown = f"psk_{'Z' * 12}_{'x' * 40}"
    bodies = [
        unauthorized_body(client_for(t).get(URL))
        for t in (wrong_secret, unknown, "garbage", token + "x")
    ]
    assert all(body == bodies[0] for body in bodies)
    assert client_for(token).get(URL).status_code == 200


def test_revocation_is_immediate(api_key):
    key, token = api_key
    client = client_for(token)
    assert client.get(URL).status_code == 200
    assert apikey_revoke(key=key, actor=TEST_ACTOR)
    assert unauthorized_body(client.get(URL)) == unauthorized_body(client_for("psk_x").get(URL))


def test_expired_key_is_401(make_key):
    key, token = make_key(expires_at=timezone.now() + datetime.timedelta(days=1))
    assert client_for(token).get(URL).status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - datetime.timedelta(1))
    unauthorized_body(client_for(token).get(URL))


def test_rotated_key_works_until_grace_end_then_401(api_key):
    old, old_token = api_key
    new, new_token = apikey_rotate(
        name=old.name, grace=datetime.timedelta(hours=24), actor=TEST_ACTOR
    )
    old.refresh_from_db()
    assert old.superseded_at is not None
    assert old.expires_at - timezone.now() > datetime.timedelta(hours=23)
    assert list(new.workspaces.all()) == list(old.workspaces.all()) and new.scopes == old.scopes
    assert new.rotated_from == old
    assert client_for(old_token).get(URL).status_code == 200
    assert client_for(new_token).get(URL).status_code == 200
    # Time travel: the grace time is over.
    ApiKey.objects.filter(pk=old.pk).update(expires_at=timezone.now() - datetime.timedelta(1))
    unauthorized_body(client_for(old_token).get(URL))
    assert client_for(new_token).get(URL).status_code == 200


def test_each_request_is_attributed_to_the_exact_key_it_used(api_key, caplog):
    old, old_token = api_key
    new, new_token = apikey_rotate(
        name=old.name, grace=datetime.timedelta(hours=1), actor=TEST_ACTOR
    )
    ids = [
        client_for(token).post(URL, {"first_name": f"by {token[:8]}"}).json()["id"]
        for token in (old_token, new_token)
    ]
    actors = [AuditEntry.objects.get(object_id=i).actor_id for i in ids]
    assert actors == [str(old.pk), str(new.pk)]
    with caplog.at_level("INFO", logger="portal.api"):
        client_for(old_token).get(URL)
    assert f"GET {URL} by key psk_{old.prefix} (id {old.pk})" in caplog.text
    assert old_token.rsplit("_", 1)[1] not in caplog.text


def test_last_used_is_written_at_most_once_a_minute(api_key):
    key, token = api_key
    client = client_for(token)
    client.get(URL)
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None
    client.get(URL)
    key.refresh_from_db()
    assert key.last_used_at == first
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first - datetime.timedelta(minutes=2))
    client.get(URL)
    key.refresh_from_db()
    assert key.last_used_at > first


def test_find_usable_key_checks_the_secret_not_just_the_prefix(api_key):
    key, token = api_key
    assert find_usable_key(token) == key
    assert find_usable_key(token[:-1] + ("a" if token[-1] != "a" else "b")) is None


def test_the_database_holds_no_secret(make_key, workspace):
    out = StringIO()
    call_command("apikeys", "create", "--name", "dump", "--scopes", "contacts.write", stdout=out)
    token = out.getvalue().split()[-1]
    secret = token.rsplit("_", 1)[1]
    assert client_for(token).post(URL, {"first_name": "Ann"}).status_code == 201
    rotated = StringIO()
    call_command("apikeys", "rotate", "--name", "dump", stdout=rotated)
    new_secret = rotated.getvalue().split()[-1].rsplit("_", 1)[1]
    dump = StringIO()
    call_command("dumpdata", stdout=dump)
    assert len(secret) == 40
    assert secret not in dump.getvalue()
    assert new_secret not in dump.getvalue()
    assert ApiKey.objects.get(name="dump", superseded_at=None).prefix in dump.getvalue()
    raw = every_table_as_text()
    assert secret not in raw and new_secret not in raw


def every_table_as_text() -> str:
    """Every row of every table (the cache and queue tables too), as one string."""
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        rows = []
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            rows.extend(str(row) for row in cursor.fetchall())
    return "\n".join(rows)


@override_settings(API_RATE_LIMIT="3/minute")
def test_throttling_is_per_key_with_retry_after(make_key):
    _key, token = make_key()
    _key, other = make_key()
    client = client_for(token)
    assert [client.get(URL).status_code for _ in range(3)] == [200, 200, 200]
    response = client.get(URL)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["details"]["retry_after"] == int(response["Retry-After"])
    assert client_for(other).get(URL).status_code == 200


def test_a_write_is_audited_with_the_key(api, workspace):
    contact = ContactFactory(workspace=workspace)
    api.patch(f"{URL}{contact.public_id}/", {"first_name": "Changed"})
    entry = AuditEntry.objects.filter(object_id=contact.public_id, action="update").get()
    assert entry.actor_kind == "api_key" and entry.changes["first_name"][1] == "Changed"


def test_every_api_response_carries_rate_limit_headers(api, workspace, client):
    for response in (api.get(URL), api.post(URL, {"email": "bad"}), client.get(URL)):
        assert int(response["RateLimit-Limit"]) > 0
        assert 0 <= int(response["RateLimit-Remaining"]) < int(response["RateLimit-Limit"])
        assert 1 <= int(response["RateLimit-Reset"]) <= 60
    first, second = api.get(URL), api.get(URL)
    assert int(second["RateLimit-Remaining"]) == int(first["RateLimit-Remaining"]) - 1


@override_settings(API_ANON_RATE_LIMIT="3/minute")
def test_unknown_keys_are_throttled_per_client_address(make_key):
    _key, token = make_key()
    guesser = client_for("psk_guess_wrong")
    assert [guesser.get(URL).status_code for _ in range(3)] == [401, 401, 401]
    response = guesser.get(URL)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response["RateLimit-Remaining"] == "0"
    assert client_for("").get(URL).status_code == 429  # no key at all: the same address
    elsewhere = client_for("psk_guess_wrong")
    assert elsewhere.get(URL, REMOTE_ADDR="10.0.0.9").status_code == 401
    assert client_for(token).get(URL).status_code == 200  # a real key has its own window
