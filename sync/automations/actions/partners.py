"""REST partners (any operation their connection configures) and outbound webhooks.

A REST action is named like the catalog names the configured operations:
`<object type>.<operation>` (e.g. `contact.create`, `task.create`, `contact.find`). Its inputs:
`body` (an object; a create gets the operation's `defaults` under it), and the path values
`id`, `public_id`, `contact_id`. The output is the parsed answer plus `id` (at the operation's
`id_path`).

A webhook action delivers `{"type", "timestamp", "data"}` signed per Standard Webhooks, with
the step's idempotency key as `webhook-id` (stable across retries: receivers drop repeats).
"""

from typing import Any

from sync.automations.actions.base import ActionError, ActionSpec, StepCall, action
from sync.mapping.paths import dig

PATH_VALUES = ("id", "public_id", "contact_id")


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        raise ActionError(f"The path needs {{{key}}}: give it as an input.")


def rest_operation(operation: str) -> ActionSpec:
    object_type, _, name = operation.partition(".")
    if not object_type or not name:
        raise ActionError(f"A REST action is <object type>.<operation>, not {operation!r}.")

    def run(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
        op = call.connector.operation(object_type, name)
        values = _Blank({k: str(inputs[k]) for k in PATH_VALUES if inputs.get(k)})
        path = op["path"].format_map(values)
        params = {k: str(v).format_map(values) for k, v in (op.get("params") or {}).items()}
        body = inputs.get("body")
        if name == "create":
            body = {**op.get("defaults", {}), **(body or {})}
        if body is not None and op.get("body_key"):
            body = {op["body_key"]: body}
        method = op.get("method") or ("GET" if body is None else "POST")
        data = call.call(method, path, json=body, params=params or None)
        return {"id": dig(data, op.get("id_path", "id")), "response": data}

    return ActionSpec("rest", operation, f"REST {operation}", run, ("body", *PATH_VALUES))


@action(
    "webhook",
    "event.send",
    "Send a signed event to the partner's endpoint",
    inputs=("type", "data"),
    required=("type",),
    scope="contacts.readonly",
)
def send_event(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    event, data = str(inputs["type"]), inputs.get("data") or {}
    msg_id = f"msg_{call.idempotency_key}"
    request = {"method": "POST", "path": "", "json": {"type": event, "data": data}}
    at = call.step.run.created_at
    call.once(request, lambda: call.connector.deliver(event, data, msg_id, at))
    return {"webhook_id": msg_id}
