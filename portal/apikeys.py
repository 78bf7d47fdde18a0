"""Partner API keys: issuing, rotating, revoking and checking them.

A key reads `psk_<prefix>_<secret>`. The prefix (public, unique) finds the row; the secret
(~238 bits) is never stored: the row holds HMAC-SHA256(pepper, secret), compared in constant
time. The pepper is `API_KEY_PEPPER`, or else derived from `SECRET_KEY`, so a stolen database
alone cannot be used to test guesses. Changing the pepper (or `SECRET_KEY` without a pepper)
invalidates every key.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from portal.actors import Actor
from portal.audit import record_change
from portal.models import ApiKey, ApiKeyScope, AuditAction, Workspace

TOKEN_TAG = "psk_"  # noqa: S105 (a public marker, not a secret)
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
PREFIX_LENGTH = 12
SECRET_LENGTH = 40
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)
# Hashed when the prefix is unknown, so that case costs what a wrong secret costs.
_DUMMY_HASH = "0" * 64


def pepper() -> bytes:
    configured = getattr(settings, "API_KEY_PEPPER", "")
    if configured:
        return configured.encode()
    return hmac.new(settings.SECRET_KEY.encode(), b"portal.api-key-pepper", "sha256").digest()


def hash_secret(secret: str) -> str:
    return hmac.new(pepper(), secret.encode(), hashlib.sha256).hexdigest()


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def assign_new_secret(key: ApiKey) -> str:
    """Give `key` a fresh prefix and secret hash; returns the full token (shown once)."""
    key.prefix = _random(PREFIX_LENGTH)
    secret = _random(SECRET_LENGTH)
    key.secret_hash = hash_secret(secret)
    return f"{TOKEN_TAG}{key.prefix}_{secret}"


def clean_scopes(scopes: Iterable[str]) -> list[str]:
    wanted = [s.strip() for s in scopes if s.strip()]
    unknown = sorted(set(wanted) - set(ApiKeyScope.values))
    if unknown or not wanted:
        raise ValidationError(
            {"scopes": [f"Unknown scopes: {', '.join(unknown)}." if unknown else "Give a scope."]}
        )
    return list(dict.fromkeys(wanted))


def find_usable_key(token: str, now: datetime.datetime | None = None) -> ApiKey | None:
    """The key a bearer token names, if the token is right and the key usable; else None.

    Unknown prefix, wrong secret, expired or revoked all give None: the caller answers each
    with the same 401, so a prefix alone reveals nothing.
    """
    now = now or timezone.now()
    prefix, secret = _split(token)
    key = ApiKey.objects.filter(prefix=prefix).first() if prefix else None
    expected = key.secret_hash if key else _DUMMY_HASH
    matches = hmac.compare_digest(expected, hash_secret(secret))
    if key is None or not matches or not key.is_usable(now):
        return None
    return key


def _split(token: str) -> tuple[str, str]:
    if not token.startswith(TOKEN_TAG):
        return "", token
    prefix, _, secret = token[len(TOKEN_TAG) :].partition("_")
    return (prefix, secret) if len(prefix) == PREFIX_LENGTH else ("", token)


def touch_last_used(key: ApiKey, now: datetime.datetime | None = None) -> None:
    """Record use at most once a minute per key, whatever the number of processes."""
    now = now or timezone.now()
    threshold = now - LAST_USED_RESOLUTION
    if key.last_used_at and key.last_used_at > threshold:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=threshold)
    if ApiKey.objects.filter(stale, pk=key.pk).update(last_used_at=now):
        key.last_used_at = now


# --- Services: every change to a key is audited ---------------------------------------------


def apikey_create(
    *,
    name: str,
    scopes: Iterable[str],
    workspaces: Iterable[Workspace],
    actor: Actor,
    expires_at: datetime.datetime | None = None,
    created_by=None,
) -> tuple[ApiKey, str]:
    """Create a key; returns it and its token, which exists nowhere else."""
    workspaces = list(workspaces)
    if not workspaces:
        raise ValidationError({"workspaces": ["Give at least one workspace."]})
    if ApiKey.objects.filter(name=name, superseded_at=None, revoked_at=None).exists():
        raise ValidationError({"name": [f"A usable key named {name!r} exists."]})
    key = ApiKey(name=name, scopes=clean_scopes(scopes), expires_at=expires_at)
    key.created_by = created_by
    token = assign_new_secret(key)
    try:
        with transaction.atomic():
            key.save()
            key.workspaces.set(workspaces)
            record_change(actor=actor, action=AuditAction.CREATE, instance=key, changes=_state(key))
    except IntegrityError as exc:  # a concurrent create of the same name won
        raise ValidationError({"name": [f"A usable key named {name!r} exists."]}) from exc
    return key, token


def apikey_rotate(*, name: str, grace: datetime.timedelta, actor: Actor) -> tuple[ApiKey, str]:
    """Replace the current key named `name`; the old one works until `now + grace`."""
    now = timezone.now()
    with transaction.atomic():
        old = _current(name, lock=True)
        grace_end = now + grace
        if old.expires_at is not None:
            grace_end = min(grace_end, old.expires_at)
        claimed = ApiKey.objects.filter(pk=old.pk, superseded_at=None, revoked_at=None).update(
            superseded_at=now, expires_at=grace_end
        )
        if not claimed:
            raise ValidationError({"name": [f"Key {name!r} changed meanwhile; try again."]})
        record_change(
            actor=actor,
            action=AuditAction.UPDATE,
            instance=old,
            changes={"superseded_at": [None, now], "expires_at": [old.expires_at, grace_end]},
        )
        new = ApiKey(
            name=old.name,
            scopes=old.scopes,
            expires_at=old.expires_at,
            created_by=old.created_by,
            rotated_from=old,
        )
        token = assign_new_secret(new)
        new.save()
        new.workspaces.set(old.workspaces.all())
        record_change(actor=actor, action=AuditAction.CREATE, instance=new, changes=_state(new))
    return new, token


def apikey_revoke(*, key: ApiKey, actor: Actor) -> bool:
    """Revoke at once (also a rotated key still in its grace time). False if already revoked."""
    now = timezone.now()
    with transaction.atomic():
        if not ApiKey.objects.filter(pk=key.pk, revoked_at=None).update(revoked_at=now):
            return False
        key.revoked_at = now
        record_change(
            actor=actor,
            action=AuditAction.UPDATE,
            instance=key,
            changes={"revoked_at": [None, now]},
        )
    return True


def apikey_revoke_chain(*, key: ApiKey, actor: Actor) -> int:
    """Revoke `key` and every key of its rotation chain — the predecessors still in their grace
    time and any successor — so revoking any one of them stops the credential (the admin
    action and `apikeys revoke` both come here). Returns how many keys were revoked now."""
    return sum(apikey_revoke(key=member, actor=actor) for member in rotation_chain(key))


def apikey_revoke_name(*, name: str, actor: Actor) -> int:
    """Revoke every unrevoked key of that name, each with its rotation chain."""
    keys = list(ApiKey.objects.filter(name=name, revoked_at=None))
    if not keys:
        raise ValidationError({"name": [f"No unrevoked key named {name!r}."]})
    return sum(apikey_revoke_chain(key=key, actor=actor) for key in keys)


def rotation_chain(key: ApiKey) -> list[ApiKey]:
    """`key` with every key it was rotated from and every key rotated from it, oldest first."""
    chain = [key]
    while chain[0].rotated_from_id is not None:
        chain.insert(0, ApiKey.objects.get(pk=chain[0].rotated_from_id))
    while (successor := ApiKey.objects.filter(rotated_from_id=chain[-1].pk).first()) is not None:
        chain.append(successor)
    return chain


def _current(name: str, *, lock: bool = False) -> ApiKey:
    keys = ApiKey.objects.select_for_update() if lock else ApiKey.objects
    key = keys.filter(name=name, superseded_at=None, revoked_at=None).first()
    if key is None:
        raise ValidationError({"name": [f"No current key named {name!r}."]})
    return key


def _state(key: ApiKey) -> dict[str, list]:
    return {
        "name": [None, key.name],
        "prefix": [None, key.prefix],
        "scopes": [None, key.scopes],
        "workspaces": [None, sorted(key.workspaces.values_list("slug", flat=True))],
        "expires_at": [None, key.expires_at],
    }
