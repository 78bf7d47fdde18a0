"""E-mail sending API actions (tests/specs/email-api/README.md).

Sending a system or trigger e-mail creates the user there; an address never sent to before
goes through `email/check` first (refused: the step fails permanently with the reason; the
corrected address is what is sent). The user fields sent with a letter are the contact's,
mapped as the connector maps them (name, gender m|f, country, language, platform_id, list_id,
client_user_id, age), overridden by the action's inputs. `meta` carries the contact's public
id and the step's idempotency key: the API echoes it in its delivery-status webhooks, which is
how a bounce finds its contact.
"""

from typing import Any

from sync.automations.actions.base import ActionError, StepCall, action
from sync.connectors.email_api import CATEGORY, email_hash
from sync.models import Link

PROVIDER = "email_api"
USER_FIELDS = (
    "name",
    "gender",
    "platform_id",
    "country",
    "list_id",
    "client_user_id",
    "ak",
    "age",
    "photo",
    "language",
)


def _user_fields(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    contact = call.contact()
    fields = call.connector.user_fields(contact) if contact else {}
    fields.update({k: inputs[k] for k in USER_FIELDS if inputs.get(k) not in (None, "")})
    return fields


def _first_send(call: StepCall) -> bool:
    contact = call.contact()
    if contact is None:
        return True
    return (
        not Link.objects.filter(
            connection=call.connection, object_type="contact", object_id=contact.pk
        )
        .exclude(remote_id="")
        .exists()
    )


def checked_address(call: StepCall, email: str) -> dict[str, Any]:
    method, path = call.connector.endpoint("check")
    result = call.call(method, path, json={"email": email}) or {}
    if result.get("valid") is False:
        reason = result.get("reason") or "refused"
        raise ActionError(f"The e-mail API refused the address {email!r}: {reason}.")
    return {"email": result.get("email") or email, **result}


def _send(call: StepCall, inputs: dict[str, Any], kind: str) -> dict[str, Any]:
    email = str(inputs["email"]).strip()
    if _first_send(call):
        email = checked_address(call, email)["email"]
    contact = call.contact()
    meta = {"idempotency_key": call.idempotency_key, **(inputs.get("meta") or {})}
    if contact is not None:
        meta["contact"] = contact.public_id
    body = {
        "type_id": inputs["type_id"],
        "category": CATEGORY[kind],
        "client_id": call.connection.credentials.get("client_id"),
        "project_id": call.connector.project_id,
        "data": {
            **(inputs.get("data") or {}),
            "user": {"email": email, **_user_fields(call, inputs)},
        },
        "meta": meta,
    }
    method, path = call.connector.endpoint(f"send_{kind}")
    call.call(method, path, json=body)
    return {"email": email, "accepted": True}


SEND_INPUTS = ("email", "type_id", "data", "meta", *USER_FIELDS)


@action(
    PROVIDER,
    "email.send_system",
    "Send a system e-mail (creates the user)",
    inputs=SEND_INPUTS,
    required=("email", "type_id"),
    outputs=("email",),
)
def send_system(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    return _send(call, inputs, "system")


@action(
    PROVIDER,
    "email.send_trigger",
    "Send a trigger e-mail (creates the user)",
    inputs=SEND_INPUTS,
    required=("email", "type_id"),
    outputs=("email",),
)
def send_trigger(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    return _send(call, inputs, "trigger")


@action(
    PROVIDER,
    "user.update_by_email",
    "Update a user by project id and e-mail",
    inputs=("email", *USER_FIELDS),
    required=("email",),
    outputs=("email",),
)
def update_by_email(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    email = str(inputs["email"]).strip().lower()
    method, path = call.connector.endpoint("update_by_email", email_hash=email_hash(email))
    call.call(method, path, json=_user_fields(call, inputs))
    return {"email": email}


@action(
    PROVIDER,
    "user.update_by_id",
    "Update a user by user id",
    inputs=("user_id", *USER_FIELDS),
    required=("user_id",),
    outputs=("user_id",),
)
def update_by_id(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    method, path = call.connector.endpoint("update_by_id", user_id=inputs["user_id"])
    call.call(method, path, json=_user_fields(call, inputs))
    return {"user_id": inputs["user_id"]}


@action(
    PROVIDER,
    "email.check",
    "Check and normalise an address",
    scope="contacts.readonly",
    inputs=("email",),
    required=("email",),
    outputs=("email", "valid", "reason"),
)
def check_email(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    method, path = call.connector.endpoint("check")
    result = call.call(method, path, json={"email": str(inputs["email"]).strip()}) or {}
    return {k: result.get(k) for k in ("email", "valid", "reason")}
