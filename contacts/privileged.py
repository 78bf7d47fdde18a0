"""Privileged user fields: who may give a CRM user power, or take over their account.

A user's role, type, permissions and locations decide what they can do in the CRM; an existing
user's e-mail is where their password reset goes. Partners (their API keys, their connections)
never set these without an explicit grant: the `users.admin` scope for keys, the
`may_write_privileged_user_fields` flag for connections. This module is the one list of them.
"""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from contacts.models import CrmUser
from contacts.normalize import normalize_email

PRIVILEGED_USER_FIELDS = ("role", "type", "permissions", "location_ids")


def privileged_user_changes(instance: CrmUser | None, data: Mapping[str, Any]) -> list[str]:
    """The privileged fields `data` would change on `instance` (None: a user being created).

    A new user may carry the defaults (role user, type account, no permissions, no locations);
    anything else is a privileged change, and so is any new e-mail for an existing user.
    """
    changed = [
        name
        for name in PRIVILEGED_USER_FIELDS
        if name in data and _empty_is_default(name, data[name]) != _current(instance, name)
    ]
    if instance is not None and "email" in data and _email(data["email"]) != instance.email:
        changed.append("email")
    return changed


def _current(instance: CrmUser | None, name: str) -> Any:
    if instance is not None:
        return getattr(instance, name)
    return CrmUser._meta.get_field(name).get_default()


def _empty_is_default(name: str, value: Any) -> Any:
    """None means "the default" in the write path too."""
    return CrmUser._meta.get_field(name).get_default() if value is None else value


def _email(value: Any) -> Any:
    try:
        return normalize_email(value)
    except ValidationError:
        return value
