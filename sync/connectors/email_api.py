"""The e-mail sending API: our contacts are its users, per project.

Auth: `Authorization: Basic base64(clientId:apiKey)`; credentials {"client_id", "api_key"}.
There is no published spec, so the endpoints are defaults here, each overridable per connection
in `options["endpoints"]` (same keys):

    check         POST   /v1/email/check          {"email"} → {"email": normalised, "valid"}
    create        POST   /v1/projects/{project_id}/users                 → {"id": "<user id>"}
    update        PUT    /v1/projects/{project_id}/users/{user_id}
    by_email      GET    /v1/projects/{project_id}/users/by-email/{email} → {"id"} or 404
    update_email  PUT    /v1/projects/{project_id}/users/by-email/{email}
    delete        DELETE /v1/projects/{project_id}/users/{user_id}

Every address goes through `check` first and the normalised address is what we send (an invalid
one fails permanently). Its 200 means "accepted": delivery results come back by webhook.
Options: project_id (required), platform and list (sent with every user).
"""

from typing import Any
from urllib.parse import quote

from contacts.models import MirrorModel
from sync.connectors.base import TestResult
from sync.connectors.partner import CONTACTS_ONLY, PartnerConnector, basic_auth_header
from sync.http import RemoteError, Response
from sync.mapping_specs import FieldSpec

ENDPOINTS = {
    "check": ("POST", "/v1/email/check"),
    "create": ("POST", "/v1/projects/{project_id}/users"),
    "update": ("PUT", "/v1/projects/{project_id}/users/{user_id}"),
    "by_email": ("GET", "/v1/projects/{project_id}/users/by-email/{email}"),
    "update_email": ("PUT", "/v1/projects/{project_id}/users/by-email/{email}"),
    "delete": ("DELETE", "/v1/projects/{project_id}/users/{user_id}"),
}


class EmailApi(PartnerConnector):
    provider = "email_api"
    default_mappings = {
        "contact": [
            FieldSpec("email", "email", "out"),
            FieldSpec("first_name,last_name", "name", "out", "name"),
            FieldSpec("gender", "gender", "out"),
            FieldSpec("country", "country", "out"),
            FieldSpec("custom_fields.language", "language", "out"),
            FieldSpec("public_id", "client_user_id", "out"),
        ]
    }

    @classmethod
    def add_command_arguments(cls, parser: Any) -> None:
        super().add_command_arguments(parser)
        parser.add_argument("--client-id", required=True)
        parser.add_argument("--api-key", required=True)
        parser.add_argument("--project-id", required=True)
        parser.add_argument("--platform", default="")
        parser.add_argument("--list", dest="list_name", default="")

    @classmethod
    def fields_from_command(cls, options: dict[str, Any]) -> dict[str, Any]:
        return {
            "credentials": {"client_id": options["client_id"], "api_key": options["api_key"]},
            "options": {
                "project_id": options["project_id"],
                "platform": options["platform"],
                "list": options["list_name"],
            },
            **CONTACTS_ONLY,
        }

    def auth_headers(self) -> dict[str, str]:
        creds = self.connection.credentials
        return {"Authorization": basic_auth_header(creds["client_id"], creds["api_key"])}

    def test(self) -> TestResult:
        method, path = self.endpoint("check")
        return self.test_call(method, path, json={"email": "test@example.com"})

    def endpoint(self, name: str, **values: str) -> tuple[str, str]:
        method, template = (self.connection.options.get("endpoints") or {}).get(
            name, ENDPOINTS[name]
        )
        project = self.connection.options.get("project_id", "")
        quoted = {k: quote(str(v), safe="@") for k, v in values.items()}
        return method, template.format(project_id=quote(str(project), safe=""), **quoted)

    def send(self, name: str, json: Any = None, **values: str) -> Response:
        method, path = self.endpoint(name, **values)
        # Bodies are parsed only where read: its 200 to an update just means "accepted".
        return self.call(method, path, json=json)

    def user_body(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The mapped payload, its address normalised by the remote, plus platform and list."""
        body = dict(payload)
        if body.get("email"):
            body["email"] = self.normalised(body["email"])
        for key in ("platform", "list"):
            if self.connection.options.get(key):
                body[key] = self.connection.options[key]
        return body

    def normalised(self, email: str) -> str:
        """The address as the remote's check endpoint normalises it (refused: permanent)."""
        checked = self.send("check", json={"email": email}).json()
        if checked.get("valid") is False:
            raise RemoteError(f"The address {email!r} was refused.", permanent=True)
        return checked.get("email") or email

    def create_remote(self, object_type: str, payload: dict[str, Any], obj: MirrorModel) -> str:
        user = self.send("create", json=self.user_body(payload)).json()
        remote_id = user.get("id") or user.get("user_id")
        if not remote_id:
            raise RemoteError("The e-mail API's create response carried no id.", permanent=False)
        return str(remote_id)

    def update_remote(self, object_type: str, remote_id: str, payload: dict, obj) -> None:
        self.send("update", json=self.user_body(payload), user_id=remote_id)

    def delete_remote(self, object_type: str, remote_id: str, obj: MirrorModel) -> None:
        self.send("delete", user_id=remote_id)

    def find_remote(self, object_type: str, payload: dict, obj: MirrorModel) -> str | None:
        if not payload.get("email"):
            return None
        try:
            user = self.send("by_email", email=self.normalised(payload["email"])).json()
        except RemoteError as exc:
            if exc.status == 404:
                return None
            raise
        return str(user.get("id") or "") or None

    def update_by_email(self, email: str, payload: dict[str, Any]) -> None:
        """Update the user holding `email` (for records we have no user id for yet)."""
        self.send("update_email", json=self.user_body(payload), email=email)
