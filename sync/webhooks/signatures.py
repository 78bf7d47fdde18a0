"""Webhook signatures: the CRM's (Ed25519 / RSA public keys) and Standard Webhooks (HMAC).

Public functions:

    verify_highlevel(body, headers) -> str           the header that verified; SignatureError
    highlevel_public_keys() -> tuple[PublicKey, ...] the keys HIGHLEVEL_WEBHOOK_PUBLIC_KEYS names
    load_public_keys(config) -> tuple[PublicKey, ...]
    sign(secret, msg_id, timestamp, body) -> str     Standard Webhooks "v1,<base64>"
    verify_standard(secrets, headers, body) -> str   the webhook-id; SignatureError
    check_timestamp(moment)                          within WEBHOOK_TOLERANCE_SECONDS, both ways

Every check works on the raw body bytes, exactly as received.
"""

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

KEYS_DIR = Path(__file__).resolve().parent / "keys"
DEFAULT_KEY_FILES = (KEYS_DIR / "highlevel-ed25519.pem", KEYS_DIR / "highlevel-rsa.pem")
ED25519_HEADER = "x-ghl-signature"
RSA_HEADER = "x-wh-signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
_PEM = re.compile(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.S)
# Unix seconds or milliseconds as sent: ASCII digits only ("²".isdigit() is True, and int() of
# thousands of digits raises), at most 12 so the number stays a plausible moment.
_UNIX_DIGITS = re.compile(r"[0-9]{1,12}", re.ASCII)

PublicKey = ed25519.Ed25519PublicKey | rsa.RSAPublicKey


class SignatureError(Exception):
    """A delivery that is not proven to come from its sender (answered 401)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- the CRM: public keys -------------------------------------------------------------------


def load_public_keys(config: str) -> tuple[PublicKey, ...]:
    """Keys from inline PEMs and/or file paths (comma or blank separated); "" = the defaults."""
    text = config.strip() or ",".join(str(path) for path in DEFAULT_KEY_FILES)
    pems = _PEM.findall(text)
    for token in re.split(r"[,\s]+", _PEM.sub(" ", text)):
        if token:
            pems.extend(_PEM.findall(_read_key_file(token)))
    keys = tuple(_load_pem(pem) for pem in pems)
    if not keys:
        raise ImproperlyConfigured("HIGHLEVEL_WEBHOOK_PUBLIC_KEYS names no public key.")
    return keys


def _read_key_file(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise ImproperlyConfigured(f"Cannot read webhook public key file {path!r}: {exc}") from exc


def _load_pem(pem: str) -> PublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, ed25519.Ed25519PublicKey | rsa.RSAPublicKey):
        raise ImproperlyConfigured("Webhook public keys must be Ed25519 or RSA keys.")
    return key


@lru_cache(maxsize=8)
def _cached_keys(config: str) -> tuple[PublicKey, ...]:
    return load_public_keys(config)


def highlevel_public_keys() -> tuple[PublicKey, ...]:
    return _cached_keys(settings.HIGHLEVEL_WEBHOOK_PUBLIC_KEYS)


def verify_highlevel(body: bytes, headers: Mapping[str, str]) -> str:
    """The name of the header whose signature verifies `body` with a configured key."""
    present = [name for name in (ED25519_HEADER, RSA_HEADER) if headers.get(name)]
    if not present:
        raise SignatureError("missing_signature", f"No {ED25519_HEADER} or {RSA_HEADER} header.")
    keys = highlevel_public_keys()
    for name in present:
        signature = _b64decode(headers[name])
        if signature and any(_verifies(key, name, signature, body) for key in keys):
            return name
    raise SignatureError("invalid_signature", "The signature does not match the body.")


def _verifies(key: PublicKey, header: str, signature: bytes, body: bytes) -> bool:
    try:
        if header == ED25519_HEADER and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, body)
            return True
        if header == RSA_HEADER and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
            return True
    except InvalidSignature:
        return False
    return False


def _b64decode(value: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return b""


# --- timestamps -----------------------------------------------------------------------------


def check_timestamp(moment: datetime | None, *, now: float | None = None) -> None:
    """Refuse a missing timestamp, or one further than the tolerance in the past or future."""
    if moment is None:
        raise SignatureError("invalid_timestamp", "The delivery carries no valid timestamp.")
    skew = (now if now is not None else time.time()) - moment.timestamp()
    if abs(skew) > settings.WEBHOOK_TOLERANCE_SECONDS:
        direction = "old" if skew > 0 else "far in the future"
        raise SignatureError(
            "timestamp_out_of_tolerance",
            f"The delivery's timestamp is too {direction} ({abs(skew):.0f} s; "
            f"tolerance {settings.WEBHOOK_TOLERANCE_SECONDS} s).",
        )


def parse_timestamp(value: object) -> datetime | None:
    """ISO 8601 text or Unix seconds/milliseconds → aware datetime (None if unreadable)."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            seconds = value / 1000 if value > 1e11 else value
            return datetime.fromtimestamp(seconds, tz=UTC)
        if isinstance(value, str) and value.strip():
            text = value.strip()
            if text.isdigit():  # any Unicode digit: only 1-12 ASCII ones are a moment
                return parse_timestamp(int(text)) if is_unix_digits(text) else None
            parsed = datetime.fromisoformat(text)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def is_unix_digits(text: str) -> bool:
    return _UNIX_DIGITS.fullmatch(text) is not None


# --- Standard Webhooks (partners in, and our outbound webhooks) -----------------------------


def sign(secret: str, msg_id: str, timestamp: int | str, body: bytes | str) -> str:
    """The Standard Webhooks signature: "v1," + base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"."""
    payload = body.encode() if isinstance(body, str) else body
    message = f"{msg_id}.{timestamp}.".encode() + payload
    digest = hmac.new(_secret_bytes(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _secret_bytes(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("A webhook secret must be whsec_ followed by base64.") from exc


def verify_standard(secrets: Sequence[str], headers: Mapping[str, str], body: bytes) -> str:
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
