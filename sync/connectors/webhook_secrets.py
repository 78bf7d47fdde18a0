"""Signing secrets of an outbound webhook connection (in its encrypted credentials).

    {"secrets": [{"secret": "whsec_…", "expires_at": null | ISO time}, …]}   newest first

Every live secret signs each message, so during a rotation's overlap the partner can verify
with the old or the new one; expired secrets are dropped at the next rotation.
"""

from datetime import timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from sync.models import Connection
from sync.transport.standard_webhooks import new_secret

UNSIGNABLE = (
    "The connection has no live signing secret: select it under Connections and run "
    "“Rotate webhook signing secret”, then give the partner the secret shown."
)


def live_secrets(connection: Connection) -> list[str]:
    now = timezone.now()
    entries = (connection.credentials or {}).get("secrets") or []
    return [
        entry["secret"]
        for entry in entries
        if isinstance(entry, dict)
        and entry.get("secret")
        and (not entry.get("expires_at") or parse_datetime(entry["expires_at"]) > now)
    ]


def first_secret() -> dict:
    """The credentials of a new webhook connection: one secret, no expiry."""
    return {"secrets": [{"secret": new_secret(), "expires_at": None}]}


def rotate_secret(connection: Connection, *, overlap: timedelta = timedelta(hours=24)) -> str:
    """A new secret signs from now on; the old ones keep signing until `overlap` has passed."""
    until = (timezone.now() + overlap).isoformat()
    kept = [
        {**entry, "expires_at": entry.get("expires_at") or until}
        for entry in (connection.credentials or {}).get("secrets") or []
        if isinstance(entry, dict) and entry.get("secret") in live_secrets(connection)
    ]
    secret = new_secret()
    connection.credentials = {"secrets": [{"secret": secret, "expires_at": None}, *kept]}
    type(connection).objects.filter(pk=connection.pk).update(credentials=connection.credentials)
    return secret
