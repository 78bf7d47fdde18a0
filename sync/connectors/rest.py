"""A generic REST partner, configured as data (presets: sync/models/presets.py).

`options` of the connection:

    {"auth": {"type": "bearer" | "api_key" | "basic" | "oauth2", …},     (see rest_auth.py)
     "objects": {"contact": {
         "create": {"method": "POST", "path": "/users", "id_path": "data.id",
                    "defaults": {"leadStatus": "new"}, "body_key": ""},
         "update": {"method": "PUT", "path": "/users/{id}"},       ("partial": true, or
                                                                    PATCH: changed fields only)
         "delete": {"method": "DELETE", "path": "/users/{id}"},
         "find":   {"method": "GET", "path": "/users", "params": {"externalId": "{public_id}"},
                    "id_path": "0.id"}},                                  (optional)
       "task": {…"path": "/customers/{contact_id}/tasks"…}, …},
       (reads: "list" and "get" per object type, see rest_reads.py)
     "webhooks": {…},                 (the partner's webhook format: inbound/partner_formats.py)
     "test": {"method": "GET", "path": "/me"},
     "paths_to_confirm": ["contact.create", …]}                         (from the preset)

Path and parameter templates take {id} (the remote id), {public_id} (ours) and {contact_id}
(the parent contact's remote id in this connection). Field mapping: the connection's
FieldMapping rows (a preset creates them). `defaults` are merged into the create body only;
`body_key` wraps the body ({"user": {...}}). Object types without a config are not supported.
"""

from typing import Any

from contacts.models import MirrorModel
from sync.catalog import partner_triggers
from sync.connectors.base import TestResult
from sync.connectors.partner import PartnerConnector
from sync.connectors.rest_auth import AUTH_TYPES, auth_headers, oauth_token
from sync.connectors.rest_reads import RestReads
from sync.inbound.partner_formats import format_of
from sync.inbound.partner_source import MappedPartnerSource
from sync.inbound.sources import PartnerSource
from sync.mapping.paths import dig
from sync.objects import object_type_of
from sync.transport.http import RemoteError, Response


class Rest(RestReads, PartnerConnector):
    provider = "rest"
    automation_actions = "sync.automations.actions.partners"

    @classmethod
    def add_command_arguments(cls, parser: Any) -> None:
        from sync.presets import add_preset_arguments

        super().add_command_arguments(parser)
        add_preset_arguments(parser, AUTH_TYPES)

    @classmethod
    def fields_from_command(cls, options: dict[str, Any]) -> dict[str, Any]:
        from sync.presets import connection_fields_from_preset

        return connection_fields_from_preset(options)

    @classmethod
    def after_command_create(cls, connection, options: dict[str, Any]) -> str:
        from sync.presets import apply_preset_mappings

        return apply_preset_mappings(connection, options)

    @classmethod
    def inbound_source(cls, connection) -> PartnerSource | MappedPartnerSource:
        """Webhooks in the partner's own format are mapped like its listings; others carry
        records in the partner API's shape."""
        if format_of(connection).own:
            return MappedPartnerSource(connection)
        return PartnerSource(connection)

    @classmethod
    def catalog_triggers(cls) -> list[dict[str, Any]]:
        return partner_triggers()

    @classmethod
    def catalog_actions(cls) -> list[dict[str, Any]]:
        """Every operation some preset configures; a connection's own paths may differ."""
        from sync.catalog import operation
        from sync.models import RestPreset
        from sync.models.presets import operations

        fields: dict[str, set[str]] = {}
        names: set[str] = set()
        for preset in RestPreset.objects.all():
            names |= {f"{t}.{name}" for t, name, _op in operations(preset.config)}
            for t, rows in preset.mappings.items():
                fields.setdefault(t, set()).update(r["remote_path"] for r in rows)
        return [
            operation(
                "action",
                name,
                f"{name.split('.')[0]}s.write",
                sorted(fields.get(name.split(".")[0], [])),
            )
            for name in sorted(names)
        ]

    def auth_headers(self) -> dict[str, str]:
        return auth_headers(self.connection)

    def refresh_auth(self) -> bool:
        if (self.connection.options.get("auth") or {}).get("type") != "oauth2":
            return False
        oauth_token(self.connection, renew=True)
        return True

    def test(self) -> TestResult:
        test = self.connection.options.get("test") or {}
        if not test.get("path"):
            return TestResult(False, 'No test request configured (options["test"]).')
        return self.test_call(test.get("method", "GET"), test["path"])

    def create_remote(self, object_type: str, payload: dict[str, Any], obj: MirrorModel) -> str:
        op = self.operation(object_type, "create")
        body = {**op.get("defaults", {}), **payload}
        data = self.send(op, obj, "", body).json()
        remote_id = dig(data, op.get("id_path", "id"))
        if remote_id in (None, ""):
            where = op.get("id_path", "id")
            raise RemoteError(f"The create response has no id at {where!r}.", permanent=False)
        return str(remote_id)

    def update_remote(self, object_type: str, remote_id: str, payload: dict, obj) -> None:
        self.send(self.operation(object_type, "update"), obj, remote_id, payload)

    def delete_remote(self, object_type: str, remote_id: str, obj: MirrorModel) -> None:
        self.send(self.operation(object_type, "delete"), obj, remote_id, None)

    def updates_partially(self, object_type: str) -> bool:
        """A PATCH (or an update marked `"partial": true`) changes only what it carries."""
        update = self.config(object_type).get("update") or {}
        return bool(update.get("partial", str(update.get("method", "")).upper() == "PATCH"))

    def find_remote(self, object_type: str, payload: dict, obj: MirrorModel) -> str | None:
        op = self.config(object_type).get("find")
        if not op:
            return None
        found = dig(self.send(op, obj, "", None).json(), op.get("id_path", "id"))
        return str(found) if found not in (None, "") else None

    def config(self, object_type: str) -> dict[str, Any]:
        return (self.connection.options.get("objects") or {}).get(object_type) or {}

    def operation(self, object_type: str, name: str) -> dict[str, Any]:
        op = self.config(object_type).get(name)
        if not op or not op.get("path"):
            raise self.unsupported(f"{name} of {object_type}s (no path configured)")
        return op

    def send(self, op: dict[str, Any], obj: MirrorModel, remote_id: str, body: Any) -> Response:
        values = self.template_values(obj, remote_id)
        if "{contact_id}" in op["path"] and not values["contact_id"]:
            # The parent contact's own push has not finished yet: try again later.
            raise RemoteError("The parent contact is not linked yet.", permanent=False)
        path = op["path"].format(**values)
        params = {k: str(v).format(**values) for k, v in (op.get("params") or {}).items()}
        if body is not None and op.get("body_key"):
            body = {op["body_key"]: body}
        method = op.get("method") or ("DELETE" if body is None else "POST")
        # Bodies are parsed only where an id is read: a 2xx "OK" to an update is success.
        return self.call(method, path, json=body, params=params or None)

    def template_values(self, obj: MirrorModel, remote_id: str) -> dict[str, str]:
        contact = getattr(obj, "contact", None) if object_type_of(obj) != "contact" else None
        return {
            "id": remote_id,
            "public_id": obj.public_id,
            "contact_id": self.remote_id_of(contact, "contact"),
        }
