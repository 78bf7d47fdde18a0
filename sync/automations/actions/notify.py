"""Notification platform actions (tests/specs/notifications/README.md).

Triggering an event sends our step's idempotency key as `transactionId`: the platform ignores
a repeated one, so a retried step notifies once even when its first answer was lost.
"""

from typing import Any

from sync.automations.actions.base import ActionError, StepCall, action
from sync.connectors.notifications import BULK_LIMIT, COLLECTION

PROVIDER = "notifications"
SUBSCRIBER_FIELDS = (
    "subscriberId",
    "email",
    "firstName",
    "lastName",
    "phone",
    "avatar",
    "locale",
    "data",
)


def _subscriber(inputs: dict[str, Any]) -> dict[str, Any]:
    return {k: inputs[k] for k in SUBSCRIBER_FIELDS if inputs.get(k) not in (None, "")}


@action(
    PROVIDER,
    "subscriber.create",
    "Create (or update) a subscriber",
    inputs=SUBSCRIBER_FIELDS,
    required=("subscriberId",),
    outputs=("subscriberId",),
)
def create_subscriber(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    call.call("POST", COLLECTION, json=_subscriber(inputs))
    return {"subscriberId": inputs["subscriberId"]}


@action(
    PROVIDER,
    "subscriber.update",
    "Update a subscriber",
    inputs=SUBSCRIBER_FIELDS,
    required=("subscriberId",),
    outputs=("subscriberId",),
)
def update_subscriber(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    body = _subscriber(inputs)
    subscriber_id = body.pop("subscriberId")
    call.call("PUT", f"{COLLECTION}/{subscriber_id}", json=body)
    return {"subscriberId": subscriber_id}


@action(
    PROVIDER,
    "subscriber.bulk_create",
    "Create up to 500 subscribers at once",
    inputs=("subscribers",),
    required=("subscribers",),
    outputs=("count",),
)
def bulk_create(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    subscribers = inputs["subscribers"]
    if not isinstance(subscribers, list) or len(subscribers) > BULK_LIMIT:
        raise ActionError(f"subscribers: give a list of at most {BULK_LIMIT} subscribers.")
    call.call("POST", f"{COLLECTION}/bulk", json={"subscribers": subscribers})
    return {"count": len(subscribers)}


@action(
    PROVIDER,
    "event.trigger",
    "Trigger a workflow for a subscriber",
    inputs=("name", "subscriberId", "email", "firstName", "lastName", "payload"),
    required=("name", "subscriberId"),
    outputs=("transactionId",),
)
def trigger_event(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    # The subscriber inline: the platform creates or updates it before notifying.
    to = _subscriber({k: v for k, v in inputs.items() if k not in ("name", "payload")})
    body = {
        "name": inputs["name"],
        "to": to,
        "payload": inputs.get("payload") or {},
        "transactionId": call.idempotency_key,
    }
    data = call.call("POST", "/v1/events/trigger", json=body) or {}
    return {"transactionId": call.idempotency_key, **(data.get("data") or {})}
