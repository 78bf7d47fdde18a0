"""A partner's own webhook signature: HMAC-SHA256 of the raw body in a named header.

    sign(secret, body, encoding="hex", prefix="") -> header value
    verify(secrets, offered, body, encoding="hex", prefix="")   SignatureError unless one signed

The key is the secret's text as UTF-8 (the partner's signing key, as shown in its dashboard).
`encoding` is how the digest is written ("hex" or "base64"); `prefix` what precedes it (e.g.
"sha256="). Several secrets verify during a rotation. Pure functions: no settings, no database.
"""

import base64
import hashlib
import hmac
from collections.abc import Sequence

from sync.transport.webhook_checks import SignatureError

ENCODINGS = ("hex", "base64")


def sign(secret: str, body: bytes, encoding: str = "hex", prefix: str = "") -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    written = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()
    return prefix + written


def verify(
    secrets: Sequence[str], offered: str, body: bytes, encoding: str = "hex", prefix: str = ""
) -> None:
    if not offered:
        raise SignatureError("missing_signature", "The delivery carries no signature.")
    candidate = offered.strip()
    if encoding == "hex":  # hex digits are case-insensitive
        candidate = candidate[: len(prefix)] + candidate[len(prefix) :].lower()
    for secret in secrets:
        expected = sign(secret, body, encoding, prefix)
        if hmac.compare_digest(expected.encode(), candidate.encode()):
            return
    raise SignatureError("invalid_signature", "The signature does not match the body.")
