"""The CRM's webhook signatures: Ed25519 (x-ghl-signature) or RSA (x-wh-signature) over the raw
body, checked with the public keys HIGHLEVEL_WEBHOOK_PUBLIC_KEYS names (default: the CRM's
published keys, shipped in keys/).

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


@lru_cache(maxsize=8)
def _cached_keys(config: str) -> tuple[PublicKey, ...]:
    return load_public_keys(config)


def public_keys() -> tuple[PublicKey, ...]:
    return _cached_keys(settings.HIGHLEVEL_WEBHOOK_PUBLIC_KEYS)


def verify(body: bytes, headers: Mapping[str, str]) -> str:
    """The name of the header whose signature verifies `body` with a configured key."""
    present = [name for name in (ED25519_HEADER, RSA_HEADER) if headers.get(name)]
    if not present:
        raise SignatureError("missing_signature", f"No {ED25519_HEADER} or {RSA_HEADER} header.")
    keys = public_keys()
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
