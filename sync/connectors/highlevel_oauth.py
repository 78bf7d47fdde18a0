"""OAuth 2.0 for the CRM: install link, code exchange, refresh (before expiry and on 401).

Credentials (encrypted in Connection.credentials) are either {"token": <private integration
token>} or {"client_id", "client_secret", "access_token", "refresh_token", "expires_at"}.
Refresh tokens are single-use: the new one replaces the old in the same row-locked
transaction, so two workers refreshing at once make one token request (the second sees the
first one's new access token and uses it).
"""

import time
from typing import Any
from urllib.parse import urlencode

from django.core import signing
from django.db import transaction

from sync.http import HttpClient, RemoteError
from sync.models import Connection

INSTALL_URL = "https://marketplace.gohighlevel.com/oauth/chooselocation"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a URL path, not a secret
REFRESH_MARGIN_SECONDS = 300
STATE_SALT = "sync.highlevel.oauth"


def install_url(connection: Connection, redirect_uri: str, scopes: list[str]) -> str:
    """The link an operator follows to install the app on a location."""
    state = signing.dumps(connection.pk, salt=STATE_SALT)
    query = {
        "response_type": "code",
        "client_id": connection.credentials.get("client_id", ""),
        "redirect_uri": redirect_uri,
        "scope": " ".join(scopes),
        "state": state,
    }
    return f"{INSTALL_URL}?{urlencode(query)}"


def connection_from_state(state: str) -> Connection:
    """The connection an install link was made for (signed, valid for one hour)."""
    pk = signing.loads(state, salt=STATE_SALT, max_age=3600)
    return Connection.objects.live().get(pk=pk)


def access_token(connection: Connection) -> str:
    creds = connection.credentials or {}
    if creds.get("token"):
        return creds["token"]
    if not creds.get("access_token"):
        raise RemoteError("The connection has no token: install it or add one.", permanent=True)
    if float(creds.get("expires_at") or 0) - REFRESH_MARGIN_SECONDS < time.time():
        refresh_tokens(connection)
    return connection.credentials["access_token"]


def exchange_code(connection: Connection, code: str, redirect_uri: str) -> None:
    """The install callback: trade the authorization code for tokens and store them."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    with transaction.atomic():
        locked = Connection.objects.select_for_update().get(pk=connection.pk)
        _store(locked, _token_request(locked, form))
    connection.credentials = locked.credentials
    connection.scopes = locked.scopes


def refresh_tokens(connection: Connection) -> bool:
    """Refresh once; True when usable new credentials are in `connection`."""
    seen = (connection.credentials or {}).get("access_token")
    if not (connection.credentials or {}).get("refresh_token"):
        return False
    with transaction.atomic():
        locked = Connection.objects.select_for_update().get(pk=connection.pk)
        current = locked.credentials
        if current.get("access_token") != seen:
            connection.credentials = current  # another worker refreshed meanwhile
            return True
        form = {"grant_type": "refresh_token", "refresh_token": current["refresh_token"]}
        _store(locked, _token_request(locked, form))
    connection.credentials = locked.credentials
    return True


def _token_request(connection: Connection, form: dict[str, str]) -> dict[str, Any]:
    creds = connection.credentials
    body = {
        "client_id": creds.get("client_id", ""),
        "client_secret": creds.get("client_secret", ""),
    }
    body.update(form, user_type="Location")
    client = HttpClient(connection, headers={"Accept": "application/json"})
    tokens = client.request("POST", TOKEN_PATH, data=body, rate_limited=False).json()
    if not tokens.get("access_token"):
        raise RemoteError("The CRM's token response carried no access token.", permanent=True)
    return tokens


def _store(connection: Connection, tokens: dict[str, Any]) -> None:
    creds = dict(connection.credentials)
    creds.update(
        access_token=tokens["access_token"],
        refresh_token=tokens.get("refresh_token", creds.get("refresh_token", "")),
        expires_at=time.time() + float(tokens.get("expires_in") or 86399),
    )
    connection.credentials = creds
    fields = ["credentials"]
    if tokens.get("scope"):
        connection.scopes = tokens["scope"]
        fields.append("scopes")
    if tokens.get("locationId") and not connection.location_id:
        connection.location_id = tokens["locationId"]
        fields.append("location_id")
    connection.save(update_fields=fields)
