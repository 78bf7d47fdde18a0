"""Standard Webhooks signing (https://www.standardwebhooks.com), the sending side.

    new_secret() -> "whsec_…"                    24 random bytes, base64, shown to the partner once
    sign(secret, msg_id, timestamp, body) -> "v1,<base64 HMAC-SHA256>"
    signed_headers(secrets, msg_id, timestamp, body) -> webhook-id/-timestamp/-signature

The signed content is "{msg_id}.{timestamp}.{body}" with the secret's base64 part as key.
During a secret rotation every live secret signs: the header carries the signatures separated by
spaces, so a receiver holding either secret verifies the message.
"""

import base64
import hashlib
import hmac
import secrets as random_secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(random_secrets.token_bytes(24)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    content = f"{msg_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def signed_headers(secrets: list[str], msg_id: str, timestamp: int, body: str) -> dict[str, str]:
    if not secrets:
        raise ValueError("No signing secret: rotate or set one before sending webhooks.")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets),
    }
