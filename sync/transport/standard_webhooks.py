"""Standard Webhooks (https://www.standardwebhooks.com): the one signer and verifier.

    new_secret() -> "whsec_…"                    24 random bytes, base64, shown to the partner once
    sign(secret, msg_id, timestamp, body) -> "v1,<base64 HMAC-SHA256>"
    signed_headers(secrets, msg_id, timestamp, body) -> webhook-id/-timestamp/-signature
    verify(secrets, headers, body) -> webhook-id       SignatureError unless a secret signed it

The signed content is "{msg_id}.{timestamp}.{body}" with the secret's base64 part as key.
During a secret rotation every live secret signs: the header carries the signatures separated by
spaces, so a receiver holding either secret verifies the message.
"""

import base64
import binascii
import hashlib
import hmac
import secrets as random_secrets
from collections.abc import Mapping, Sequence

from sync.transport.webhook_checks import (
    SignatureError,
    check_timestamp,
    is_unix_digits,
    parse_timestamp,
)

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(random_secrets.token_bytes(24)).decode()


def sign(secret: str, msg_id: str, timestamp: int | str, body: bytes | str) -> str:
    """ "v1," + base64 HMAC-SHA256 of "{id}.{timestamp}.{body}", keyed by the base64 part."""
    payload = body.encode() if isinstance(body, str) else body
    message = f"{msg_id}.{timestamp}.".encode() + payload
    digest = hmac.new(_secret_bytes(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _secret_bytes(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("A webhook secret must be whsec_ followed by base64.") from exc


def verify(secrets: Sequence[str], headers: Mapping[str, str], body: bytes) -> str:
    """Check webhook-id/-timestamp/-signature against any of `secrets`; returns the id."""
    msg_id = headers.get("webhook-id", "")
    raw_timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (msg_id and raw_timestamp and signatures):
        raise SignatureError(
            "missing_signature", "webhook-id, webhook-timestamp and webhook-signature are required."
        )
    if not is_unix_digits(raw_timestamp):
        raise SignatureError(
            "invalid_timestamp", "webhook-timestamp must be Unix seconds (1 to 12 digits 0-9)."
        )
    check_timestamp(parse_timestamp(int(raw_timestamp)))
    offered = {part.strip() for part in signatures.split(" ") if part.startswith("v1,")}
    for secret in secrets:
        expected = sign(secret, msg_id, raw_timestamp, body)
        if any(hmac.compare_digest(expected.encode(), c.encode()) for c in offered):
            return msg_id
    raise SignatureError("invalid_signature", "No webhook-signature matches the body.")


def signed_headers(secrets: list[str], msg_id: str, timestamp: int, body: str) -> dict[str, str]:
    if not secrets:
        raise ValueError("No signing secret: rotate or set one before sending webhooks.")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets),
    }
