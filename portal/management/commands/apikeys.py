"""`apikeys create|rotate|revoke|list`: partner API keys. The secret is printed once."""

from __future__ import annotations

import datetime
import re

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from portal.actors import Actor
from portal.apikeys import apikey_create, apikey_revoke_name, apikey_rotate
from portal.models import ApiKey, Workspace

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: str) -> datetime.timedelta:
    """'90d' → 90 days; units s, m, h, d, w."""
    match = _DURATION.match(value.strip())
    if not match:
        raise CommandError(f"Bad duration {value!r}: use a number and s, m, h, d or w (90d).")
    return datetime.timedelta(**{_UNITS[match[2]]: int(match[1])})


class Command(BaseCommand):
    help = "Manage partner API keys."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a key; prints its secret once.")
        create.add_argument("--name", required=True)
        create.add_argument("--scopes", required=True, help="comma-separated, e.g. a,b")
        create.add_argument(
            "--workspace",
            action="append",
            default=[],
            help="slug or CRM location id; repeat for several; optional with one workspace",
        )
        create.add_argument("--expires-in", help="e.g. 90d; default: never")
        rotate = sub.add_parser("rotate", help="Replace a key; the old one works until grace.")
        rotate.add_argument("--name", required=True)
        rotate.add_argument("--grace", default="24h", help="how long the old key keeps working")
        revoke = sub.add_parser("revoke", help="Revoke a key (and its rotated ones) at once.")
        revoke.add_argument("--name", required=True)
        sub.add_parser("list", help="List keys (never their secrets).")

    def handle(self, *args, action: str, **options) -> None:
        actor = Actor.system(f"apikeys {action}")
        try:
            if action == "create":
                self._create(actor, **options)
            elif action == "rotate":
                key, token = apikey_rotate(
                    name=options["name"], grace=parse_duration(options["grace"]), actor=actor
                )
                self._print_token(key, token)
            elif action == "revoke":
                count = apikey_revoke_name(name=options["name"], actor=actor)
                self.stdout.write(f"Revoked {count} key(s) named {options['name']}.")
            else:
                self._list()
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc

    def _create(self, actor: Actor, **options) -> None:
        expires_at = None
        if options["expires_in"]:
            expires_at = timezone.now() + parse_duration(options["expires_in"])
        key, token = apikey_create(
            name=options["name"],
            scopes=options["scopes"].split(","),
            workspaces=_workspaces(options["workspace"]),
            actor=actor,
            expires_at=expires_at,
        )
        self._print_token(key, token)

    def _print_token(self, key: ApiKey, token: str) -> None:
        self.stdout.write(f"API key {key.name} (psk_{key.prefix}), shown once; store it now:")
        self.stdout.write(token)

    def _list(self) -> None:
        now = timezone.now()
        keys = ApiKey.objects.prefetch_related("workspaces").order_by("name", "-created_at")
        if not keys:
            self.stdout.write("No API keys.")
        for key in keys:
            state = "usable" if key.is_usable(now) else "revoked" if key.revoked_at else "expired"
            if key.superseded_at and key.is_usable(now):
                state = "rotated (grace)"
            fields = [
                key.name,
                f"psk_{key.prefix}",
                state,
                ",".join(key.scopes),
                ",".join(w.slug for w in key.workspaces.all()),
                f"expires {key.expires_at:%Y-%m-%d %H:%M}" if key.expires_at else "no expiry",
                f"last used {key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "unused",
            ]
            self.stdout.write("\t".join(fields))


def _workspaces(names: list[str]) -> list[Workspace]:
    if not names:
        found = list(Workspace.objects.all()[:2])
        if len(found) != 1:
            raise CommandError(
                "Name the key's workspace(s) with --workspace (slug or location id)."
            )
        return found
    workspaces = []
    for name in names:
        workspace = Workspace.objects.filter(Q(slug=name) | Q(location_id=name)).first()
        if workspace is None:
            raise CommandError(f"No workspace {name!r} (give a slug or a CRM location id).")
        workspaces.append(workspace)
    return workspaces
