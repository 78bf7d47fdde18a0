"""Secrets at rest: MultiFernet over settings.FERNET_KEYS (newest first).

The first key encrypts; every key decrypts, so keys can rotate: add a new key in front,
run `manage.py rotate_fernet`, then drop the old key. A value that no configured key can
decrypt raises `SecretDecryptionError` — never returns the ciphertext as if it were the secret.
"""

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class SecretDecryptionError(Exception):
    """Stored ciphertext that none of FERNET_KEYS can open (wrong or removed key)."""


def fernet() -> MultiFernet:
    keys = [key.strip() for key in settings.FERNET_KEYS if key.strip()]
    if not keys:
        raise ImproperlyConfigured("FERNET_KEYS is empty: stored credentials cannot be encrypted.")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FERNET_KEYS holds an invalid key (32 url-safe base64 bytes)."
        ) from exc


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError(
            "A stored secret cannot be decrypted with FERNET_KEYS (wrong or removed key)."
        ) from exc


def rotate(token: str) -> str:
    """The same secret, encrypted with the newest key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError("A stored secret cannot be decrypted for rotation.") from exc


class EncryptedTextField(models.TextField):
    """A text column stored as Fernet ciphertext; Python code sees the plaintext."""

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return encrypt(self.serialize_plain(value))

    def from_db_value(self, value: str | None, expression, connection) -> Any:
        if value is None or value == "":
            return self.empty_plain()
        return self.parse_plain(decrypt(value))

    def to_python(self, value: Any) -> Any:
        return value

    def serialize_plain(self, value: Any) -> str:
        return str(value)

    def parse_plain(self, plaintext: str) -> Any:
        return plaintext

    def empty_plain(self) -> Any:
        return ""


class EncryptedJSONField(EncryptedTextField):
    """A JSON object (e.g. {"token": ...}) stored encrypted as one Fernet token."""

    def serialize_plain(self, value: Any) -> str:
        return json.dumps(value, sort_keys=True)

    def parse_plain(self, plaintext: str) -> Any:
        return json.loads(plaintext)

    def empty_plain(self) -> Any:
        return {}

    def value_to_string(self, obj: models.Model) -> str:
        # Serialisation (dumpdata) writes the ciphertext, never the plaintext.
        return self.get_prep_value(self.value_from_object(obj)) or ""


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """(model, field name) for every encrypted column of every installed model."""
    from django.apps import apps

    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]


def key_index(token: str) -> int | None:
    """Which of FERNET_KEYS (0 = newest) opens this token, or None if none does."""
    for index, key in enumerate(k.strip() for k in settings.FERNET_KEYS if k.strip()):
        try:
            Fernet(key).decrypt(token.encode())
        except InvalidToken:
            continue
        return index
    return None


def secrets_on_older_keys() -> dict[str, int]:
    """How many stored secrets are not on the newest key: {"older": n, "unreadable": n}.

    Reads the raw ciphertext (a text cast, so nothing is decrypted into memory for display);
    `rotate_fernet` moves the older ones to the newest key.
    """
    from django.db.models import F, TextField
    from django.db.models.functions import Cast

    counts = {"older": 0, "unreadable": 0}
    for model, name in encrypted_fields():
        raw = (
            model._default_manager.annotate(raw=Cast(F(name), TextField()))
            .exclude(raw="")
            .values_list("raw", flat=True)
        )
        for token in raw.iterator():
            if not token:
                continue
            index = key_index(token)
            if index is None:
                counts["unreadable"] += 1
            elif index > 0:
                counts["older"] += 1
    return counts
