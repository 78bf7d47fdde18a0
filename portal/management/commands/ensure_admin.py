"""Make sure an operator can log in, and that a single-business install has its workspace."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from portal.models import Workspace


class Command(BaseCommand):
    help = "Create the admin user (password from ADMIN_PASSWORD or printed once) and a workspace."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default=os.environ.get("ADMIN_USERNAME", "admin"))
        parser.add_argument("--email", default=os.environ.get("ADMIN_EMAIL", "admin@localhost"))

    def handle(self, *args, username: str, email: str, **options) -> None:
        self._ensure_user(username, email)
        if not Workspace.objects.exists():
            workspace = Workspace.objects.create(name="Default", location_id="default")
            self.stdout.write(
                f"Created workspace {workspace.name!r} (CRM location id {workspace.location_id!r}"
                "; `manage.py workspaces add` adds more)."
            )

    def _ensure_user(self, username: str, email: str) -> None:
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Admin user {username!r} exists; log in with its password.")
            return
        password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email=email, password=password)
        if os.environ.get("ADMIN_PASSWORD"):
            self.stdout.write(f"Created admin user {username!r} with ADMIN_PASSWORD.")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created admin user {username!r} with password {password}\n"
                    "  (shown once: note it now; `manage.py changepassword admin` to change it)"
                )
            )
