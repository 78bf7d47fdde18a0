"""The notification platform: our contacts are its subscribers (`Authorization: ApiKey <key>`).

    POST   /v1/subscribers                   create (subscriberId = our contact's public id)
    POST   /v1/subscribers/bulk              create up to 500 at once (backfills)
    PUT    /v1/subscribers/{subscriberId}    update
    DELETE /v1/subscribers/{subscriberId}    delete
    GET    /v1/subscribers/{subscriberId}    exists? (after a create whose outcome is unknown)

Because the subscriber id is ours, a create is idempotent by construction: the Link's remote id
is known before the call, and a retried create first looks the subscriber up.
Credentials: {"api_key": "…"}.
"""

from collections.abc import Iterable
from typing import Any

from contacts.models import Contact, MirrorModel
from sync.connectors.base import TestResult
from sync.connectors.partner import CONTACTS_ONLY, PartnerConnector
from sync.mapping.mapper import payload_hash, to_remote
from sync.mapping.specs import FieldSpec
from sync.models import Link
from sync.transport.http import RemoteError

BULK_LIMIT = 500
COLLECTION = "/v1/subscribers"


class Notifications(PartnerConnector):
    provider = "notifications"
    automation_actions = "sync.automations.actions.notify"
    default_mappings = {
        "contact": [
            FieldSpec("public_id", "subscriberId", "out"),
            FieldSpec("email", "email", "out"),
            FieldSpec("phone", "phone", "out"),
            FieldSpec("first_name", "firstName", "out"),
            FieldSpec("last_name", "lastName", "out"),
            FieldSpec("timezone", "timezone", "out"),
            FieldSpec("custom_fields.language", "locale", "out"),
            FieldSpec("tags", "tags", "out"),
        ]
    }

    @classmethod
    def add_command_arguments(cls, parser: Any) -> None:
        super().add_command_arguments(parser)
        parser.add_argument("--api-key", required=True)

    @classmethod
    def fields_from_command(cls, options: dict[str, Any]) -> dict[str, Any]:
        return {"credentials": {"api_key": options["api_key"]}, **CONTACTS_ONLY}

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"ApiKey {self.connection.credentials['api_key']}"}

    def test(self) -> TestResult:
        return self.test_call("GET", COLLECTION, params={"limit": 1})

    def create_remote(self, object_type: str, payload: dict[str, Any], obj: MirrorModel) -> str:
        self._only_contacts(object_type)
        self.call("POST", COLLECTION, json=payload)
        return obj.public_id

    def update_remote(self, object_type: str, remote_id: str, payload: dict, obj) -> None:
        self._only_contacts(object_type)
        self.call("PUT", f"{COLLECTION}/{remote_id}", json=payload)

    def delete_remote(self, object_type: str, remote_id: str, obj: MirrorModel) -> None:
        self._only_contacts(object_type)
        self.call("DELETE", f"{COLLECTION}/{remote_id}")

    def find_remote(self, object_type: str, payload: dict, obj: MirrorModel) -> str | None:
        try:
            self.call("GET", f"{COLLECTION}/{obj.public_id}")
        except RemoteError as exc:
            if exc.status == 404:
                return None
            raise
        return obj.public_id

    def create_many(self, contacts: Iterable[Contact]) -> int:
        """Bulk create (backfill): BULK_LIMIT per call; links each contact to its subscriber."""
        batch: list[Contact] = []
        sent = 0
        for contact in contacts:
            batch.append(contact)
            if len(batch) == BULK_LIMIT:
                sent += self._create_batch(batch)
                batch = []
        return sent + (self._create_batch(batch) if batch else 0)

    def _create_batch(self, contacts: list[Contact]) -> int:
        payloads = [to_remote(c, self.connection) for c in contacts]
        self.call("POST", f"{COLLECTION}/bulk", json={"subscribers": payloads})
        for contact, payload in zip(contacts, payloads, strict=True):
            Link.objects.update_or_create(
                connection=self.connection,
                object_type="contact",
                object_id=contact.pk,
                defaults={
                    "remote_id": contact.public_id,
                    "last_pushed_hash": payload_hash(payload),
                },
            )
        return len(contacts)

    def _only_contacts(self, object_type: str) -> None:
        if object_type != "contact":
            raise self.unsupported(f"{object_type}s (only contacts are subscribers)")
