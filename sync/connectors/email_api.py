"""The e-mail sending API (Sendios/Mailfire-style, tests/specs/email-api/README.md).

A user exists there only once the first system/trigger e-mail has been sent to them; after
that its fields are updated by project id and e-mail hash or by user id. So a contact push
never creates anything: it finds the user by e-mail (linking the user id) and updates its
fields, or reports that the first e-mail will create it. Sending e-mails, checking addresses
and updating by e-mail are automation actions (sync/automations/actions/email.py).

Auth: `Authorization: Basic base64(clientId:apiKey)`; credentials {"client_id", "api_key",
"webhook_token"}. Base URL with its version: `https://api.sendios.io/v1`. Every path is
overridable per connection in `options["endpoints"]` (same keys as ENDPOINTS).

Options: project_id (required); platform_id (0 unknown, 1 desktop, 3 mobile, 4 Android app,
5 iOS app) or platform_by_source ({contact source: platform id}); list_id;
unsubscribe_source_id (a deleted contact is unsubscribed with it; without it nothing is sent).

Delivery statuses arrive by webhook at /webhooks/email/<slug>/<webhook_token>/ (the API does
not sign them, so the URL carries a per-connection secret): sync/inbound/email_status.py.
"""

import base64
import secrets
from datetime import date
from typing import Any
from urllib.parse import quote

from contacts.models import Contact, MirrorModel
from sync.connectors.base import TestResult
from sync.connectors.partner import CONTACTS_ONLY, PartnerConnector, basic_auth_header
from sync.mapping.mapper import payload_hash, to_remote
from sync.mapping.specs import FieldSpec
from sync.models import Link, Operation, OutboundChange
from sync.transport.http import RemoteError

ENDPOINTS = {
    "check": ("POST", "/email/check"),
    "send_system": ("POST", "/push/system"),
    "send_trigger": ("POST", "/push/trigger"),
    "user_by_email": ("GET", "/user/project/{project_id}/email/{email}"),
    "user_by_id": ("GET", "/user/id/{user_id}"),
    "update_by_email": ("PUT", "/userfields/project/{project_id}/emailhash/{email_hash}"),
    "update_by_id": ("PUT", "/userfields/user/{user_id}"),
    "unsubscribe": ("POST", "/unsub/{user_id}/source/{source_id}"),
}
CATEGORY = {"system": 1, "trigger": 2}
PLATFORMS = {"unknown": 0, "desktop": 1, "mobile": 3, "android": 4, "ios": 5}
GENDERS = {"male": "m", "female": "f", "m": "m", "f": "f"}


def email_hash(email: str) -> str:
    return base64.b64encode(email.encode()).decode()


def platform_id(value: Any) -> int:
    """A platform code from a number or a name (desktop, mobile, android, ios, unknown)."""
    text = str(value if value is not None else "").strip().lower()
    if text.isdigit() and int(text) in PLATFORMS.values():
        return int(text)
    if text in PLATFORMS:
        return PLATFORMS[text]
    raise ValueError(f"Unknown platform {value!r}: use 0, 1, 3, 4, 5 or {', '.join(PLATFORMS)}.")


class EmailApi(PartnerConnector):
    provider = "email_api"
    automation_actions = "sync.automations.actions.email"
    default_mappings = {
        "contact": [
            FieldSpec("first_name,last_name", "name", "out", "name"),
            FieldSpec("gender", "gender", "out", "value_map", GENDERS),
            FieldSpec("country", "country", "out"),
            FieldSpec("custom_fields.language", "language", "out", "lower"),
            FieldSpec("public_id", "client_user_id", "out"),
        ]
    }

    @classmethod
    def add_command_arguments(cls, parser: Any) -> None:
        super().add_command_arguments(parser)
        parser.add_argument("--client-id", required=True)
        parser.add_argument("--api-key", required=True)
        parser.add_argument("--project-id", required=True)
        parser.add_argument("--platform", default="0", help="0/1/3/4/5 or desktop, ios, …")
        parser.add_argument("--list-id", default="")

    @classmethod
    def fields_from_command(cls, options: dict[str, Any]) -> dict[str, Any]:
        extra = {"list_id": options["list_id"]} if options["list_id"] else {}
        return {
            "credentials": {
                "client_id": options["client_id"],
                "api_key": options["api_key"],
                "webhook_token": secrets.token_urlsafe(24),
            },
            "options": {
                "project_id": options["project_id"],
                "platform_id": platform_id(options["platform"]),
                **extra,
            },
            **CONTACTS_ONLY,
        }

    @classmethod
    def after_command_create(cls, connection, options: dict[str, Any]) -> str:
        token = connection.credentials["webhook_token"]
        return (
            "Delivery-status webhook URL (give it to the e-mail API's project settings; "
            f"shown once): /webhooks/email/{connection.slug}/{token}/"
        )

    def auth_headers(self) -> dict[str, str]:
        creds = self.connection.credentials
        return {"Authorization": basic_auth_header(creds["client_id"], creds["api_key"])}

    def test(self) -> TestResult:
        method, path = self.endpoint("check")
        return self.test_call(method, path, json={"email": "test@example.com"})

    @property
    def project_id(self) -> str:
        return str(self.connection.options.get("project_id", ""))

    def endpoint(self, name: str, **values: Any) -> tuple[str, str]:
        method, template = (self.connection.options.get("endpoints") or {}).get(
            name, ENDPOINTS[name]
        )
        quoted = {k: quote(str(v), safe="@") for k, v in values.items()}
        return method, template.format(project_id=quote(self.project_id, safe=""), **quoted)

    # --- our fields → its user fields --------------------------------------------------

    def user_fields(self, obj: MirrorModel) -> dict[str, Any]:
        """The mapped fields plus platform_id, list_id and age (its documented parameters)."""
        fields = to_remote(obj, self.connection)
        options = self.connection.options
        by_source = options.get("platform_by_source") or {}
        source = str(getattr(obj, "source", "") or "").lower()
        fields["platform_id"] = platform_id(by_source.get(source, options.get("platform_id", 0)))
        if options.get("list_id"):
            fields["list_id"] = options["list_id"]
        born = getattr(obj, "date_of_birth", None)
        if isinstance(born, date):
            today = date.today()
            fields["age"] = (
                today.year - born.year - ((today.month, today.day) < (born.month, born.day))
            )
        return fields

    # --- reads ---------------------------------------------------------------------------

    def find_user_id(self, email: str) -> str | None:
        method, path = self.endpoint("user_by_email", email=email.strip().lower())
        try:
            user = self.call(method, path).json()
        except RemoteError as exc:
            if exc.status == 404:
                return None
            raise
        return str(user.get("id") or "") or None

    def update_by_email(self, email: str, fields: dict[str, Any]) -> None:
        method, path = self.endpoint("update_by_email", email_hash=email_hash(email))
        self.call(method, path, json=fields)

    # --- push: update users that exist there; never create -------------------------------

    def push(self, change: OutboundChange) -> str:
        obj = change.mirror_object()
        if change.operation == Operation.ACTION or not isinstance(obj, Contact):
            raise self.unsupported("rule actions and records other than contacts")
        link = Link.objects.filter(
            connection=self.connection, object_type="contact", object_id=obj.pk
        ).first()
        if obj.is_deleted:
            return self._unsubscribe(link)
        user_id = link.remote_id if link and link.remote_id else None
        if user_id is None and obj.email:
            user_id = self.find_user_id(obj.email)
        if not user_id:
            return "not a user there yet: the first e-mail sent to it creates it"
        fields = self.user_fields(obj)
        digest = payload_hash(fields)
        if link and link.remote_id == user_id and link.last_pushed_hash == digest:
            return "unchanged"
        self.update_remote("contact", user_id, fields, obj)
        Link.objects.update_or_create(
            connection=self.connection,
            object_type="contact",
            object_id=obj.pk,
            defaults={"remote_id": user_id, "last_pushed_hash": digest},
        )
        return "updated"

    def update_remote(self, object_type: str, remote_id: str, payload: dict, obj) -> None:
        method, path = self.endpoint("update_by_id", user_id=remote_id)
        self.call(method, path, json=payload)

    def _unsubscribe(self, link: Link | None) -> str:
        source = self.connection.options.get("unsubscribe_source_id")
        if not (link and link.remote_id and source):
            return "the e-mail API deletes no users: nothing sent"
        method, path = self.endpoint("unsubscribe", user_id=link.remote_id, source_id=source)
        self.call(method, path, json={})
        return "unsubscribed"
