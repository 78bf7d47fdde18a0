"""OAuth 2.0 for the CRM: install link, code exchange, refresh (before expiry and on 401).

The install's `state` is a random one-time nonce kept in the operator's session for
STATE_TTL_SECONDS: a link cannot be replayed, used from another session, or outlive its
minutes. The code's tokens are stored only when the location (or company) they grant is the
connection's own, so an install cannot re-bind a connection to another CRM location.

Credentials (encrypted in Connection.credentials) are either {"token": <private integration
token>} or {"client_id", "client_secret", "access_token", "refresh_token", "expires_at"}.
Refresh tokens are single-use: the new one replaces the old in the same row-locked
transaction, so two workers refreshing at once make one token request (the second sees the
first one's new access token and uses it).
"""

import secrets
import time
from typing import Any
from urllib.parse import urlencode

from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction

from sync.models import Connection
from sync.transport.http import HttpClient, RemoteError

INSTALL_URL = "https://marketplace.gohighlevel.com/oauth/chooselocation"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a URL path, not a secret
REFRESH_MARGIN_SECONDS = 300
STATE_TTL_SECONDS = 600
_SESSION_KEY = "highlevel_oauth_states"
clock = time.time  # tests move it instead of sleeping


class InvalidState(Exception):
    """A state this session never issued, already used, or expired."""


class WrongLocation(Exception):
    """The CRM granted tokens for another location or company than the connection's."""


def install_url(connection: Connection, redirect_uri: str, scopes: list[str], state: str) -> str:
    """The link an operator follows to install the app on a location."""
    query = {
        "response_type": "code",
        "client_id": connection.credentials.get("client_id", ""),
        "redirect_uri": redirect_uri,
        "scope": " ".join(scopes),
        "state": state,
    }
    return f"{INSTALL_URL}?{urlencode(query)}"


def issue_state(session: SessionBase, connection: Connection) -> str:
    """A fresh nonce for one install of `connection`, remembered in this session only."""
    now = clock()
    states = {
        nonce: entry
        for nonce, entry in session.get(_SESSION_KEY, {}).items()
        if entry[1] > now  # forget expired ones
    }
    nonce = secrets.token_urlsafe(32)
    states[nonce] = [connection.pk, now + STATE_TTL_SECONDS]
    session[_SESSION_KEY] = states
    return nonce


def redeem_state(session: SessionBase, state: str) -> Connection:
    """The connection `state` was issued for; the nonce is used up whatever the outcome."""
    states = dict(session.get(_SESSION_KEY, {}))
    entry = states.pop(state, None)
    session[_SESSION_KEY] = states
    if entry is None or entry[1] <= clock():
        raise InvalidState("Invalid, used or expired state: start the install again.")
    connection = Connection.objects.live().filter(pk=entry[0], provider="highlevel").first()
    if connection is None:
        raise InvalidState("The connection of this install no longer exists.")
    return connection


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
    """The install callback: trade the authorization code for tokens and store them, only if
    they grant the connection's own location (WrongLocation otherwise: nothing is saved)."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    with transaction.atomic():
        locked = Connection.objects.select_for_update().get(pk=connection.pk)
        tokens = _token_request(locked, form)
        check_granted_location(locked, tokens)
        _store(locked, tokens)
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


def check_granted_location(connection: Connection, tokens: dict[str, Any]) -> None:
    """A location token must name the workspace's location; a company token the connection's
    company. Anything else would send this workspace's data to another CRM account."""
    granted_location = str(tokens.get("locationId") or "")
    granted_company = str(tokens.get("companyId") or "")
    expected_location = connection.workspace.location_id
    if granted_location:
        if granted_location != expected_location:
            raise WrongLocation(
                f"The CRM granted location {granted_location!r}, but this connection belongs "
                f"to location {expected_location!r}: nothing was saved. Install the app on "
                "the connection's own location."
            )
        return
    if granted_company and granted_company == connection.company_id:
        return
    raise WrongLocation(
        f"The CRM granted company {granted_company or '(none)'!r} and no location, which is not "
        f"this connection's ({connection.company_id or 'no company set'}): nothing was saved."
    )


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
