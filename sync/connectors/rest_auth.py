"""Auth for the generic REST connector, chosen by `options["auth"]["type"]`:

bearer     credentials {"token"}                     Authorization: Bearer <token>
api_key    credentials {"api_key"}                   <header>: <prefix><key>
           options.auth {"header": "X-API-Key", "prefix": ""}
basic      credentials {"client_id", "api_key"}      Authorization: Basic base64(id:key)
oauth2     credentials {"client_id", "client_secret"} OAuth 2.0 client credentials:
           options.auth {"token_path": "/oauth/token", "scope": ""}; the access token and
           its expiry are kept in the (encrypted) credentials, renewed before expiry and
           after a 401.
"""

import time
from typing import Any

from sync.connectors.partner import basic_auth_header
from sync.models import Connection
from sync.transport.http import HttpClient, RemoteError

AUTH_TYPES = ("bearer", "api_key", "basic", "oauth2")
RENEW_MARGIN_SECONDS = 60


def auth_config(connection: Connection) -> dict[str, Any]:
    return (connection.options or {}).get("auth") or {"type": "bearer"}


def auth_headers(connection: Connection) -> dict[str, str]:
    auth, creds = auth_config(connection), connection.credentials or {}
    kind = auth.get("type")
    try:
        if kind == "bearer":
            return {"Authorization": f"Bearer {creds['token']}"}
        if kind == "api_key":
            header = auth.get("header") or "X-API-Key"
            return {header: f"{auth.get('prefix', '')}{creds['api_key']}"}
        if kind == "basic":
            return {"Authorization": basic_auth_header(creds["client_id"], creds["api_key"])}
        if kind == "oauth2":
            return {"Authorization": f"Bearer {oauth_token(connection)}"}
    except KeyError as exc:
        raise RemoteError(f"The {kind} auth needs the credential {exc}.", permanent=True) from None
    raise RemoteError(
        f"Unknown auth type {kind!r} (one of {', '.join(AUTH_TYPES)}).", permanent=True
    )


def oauth_token(connection: Connection, *, renew: bool = False) -> str:
    creds = connection.credentials
    if not renew and float(creds.get("expires_at") or 0) - RENEW_MARGIN_SECONDS > time.time():
        return creds["access_token"]
    auth = auth_config(connection)
    form = {
        "grant_type": "client_credentials",
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
    }
    if auth.get("scope"):
        form["scope"] = auth["scope"]
    # A client without our auth hook: the token request carries its own credentials.
    token = HttpClient(connection).request(
        "POST", auth.get("token_path", "/oauth/token"), data=form
    )
    body = token.json()
    if not body.get("access_token"):
        raise RemoteError("The token endpoint answered without an access_token.", permanent=True)
    expires_at = time.time() + float(body.get("expires_in") or 3600)
    connection.credentials = {
        **creds,
        "access_token": body["access_token"],
        "expires_at": expires_at,
    }
    Connection.objects.filter(pk=connection.pk).update(credentials=connection.credentials)
    return body["access_token"]
