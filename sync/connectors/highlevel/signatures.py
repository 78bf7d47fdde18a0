"""The CRM's webhook signatures: Ed25519 (x-ghl-signature) or RSA (x-wh-signature) over the raw
body, checked with the public keys HIGHLEVEL_WEBHOOK_PUBLIC_KEYS names (default: the CRM's
published keys, shipped in keys/). Ed25519 is checked by libsodium (PyNaCl): the same
verdicts as OpenSSL's, in two thirds of its time, on every delivery (issue 19: the intake's
own cost per request).

    verify(body, headers) -> str      the header that verified; SignatureError otherwise
    load_public_keys(config) -> keys  inline PEMs and/or file paths
"""

import base64
import binascii
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from sync.transport.webhook_checks import SignatureError

KEYS_DIR = Path(__file__).resolve().parent / "keys"
DEFAULT_KEY_FILES = (KEYS_DIR / "highlevel-ed25519.pem", KEYS_DIR / "highlevel-rsa.pem")
ED25519_HEADER = "x-ghl-signature"
RSA_HEADER = "x-wh-signature"
_PEM = re.compile(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.S)

PublicKey = ed25519.Ed25519PublicKey | rsa.RSAPublicKey


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


class _Key:
    """A configured key, with libsodium's form of it for an Ed25519 key (made once)."""

    def __init__(self, key: PublicKey) -> None:
        self.key = key
        self.ed25519: VerifyKey | None = None
        if isinstance(key, ed25519.Ed25519PublicKey):
            raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            self.ed25519 = VerifyKey(raw)


@lru_cache(maxsize=8)
def _cached_keys(config: str) -> tuple[_Key, ...]:
    return tuple(_Key(key) for key in load_public_keys(config))


def _keys() -> tuple[_Key, ...]:
    return _cached_keys(settings.HIGHLEVEL_WEBHOOK_PUBLIC_KEYS)


def verify(body: bytes, headers: Mapping[str, str]) -> str:
    """The name of the header whose signature verifies `body` with a configured key."""
    present = [name for name in (ED25519_HEADER, RSA_HEADER) if headers.get(name)]
    if not present:
        raise SignatureError("missing_signature", f"No {ED25519_HEADER} or {RSA_HEADER} header.")
    keys = _keys()
    for name in present:
        signature = _b64decode(headers[name])
        if signature and any(_verifies(key, name, signature, body) for key in keys):
            return name
    raise SignatureError("invalid_signature", "The signature does not match the body.")


def _verifies(key: _Key, header: str, signature: bytes, body: bytes) -> bool:
    try:
        if header == ED25519_HEADER and key.ed25519 is not None:
            key.ed25519.verify(body, signature)
            return True
        if header == RSA_HEADER and isinstance(key.key, rsa.RSAPublicKey):
            key.key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
            return True
    except (InvalidSignature, BadSignatureError, ValueError):  # ValueError: not 64 bytes
        return False
    return False


def _b64decode(value: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return b""
