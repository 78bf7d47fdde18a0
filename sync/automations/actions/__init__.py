"""The operations automations can run, per provider, and how one step calls its remote.

    load() -> {"<provider>": {"<operation>": ActionSpec}}  the modules connectors name
    action_spec(provider, operation) -> ActionSpec           ActionError if unknown
    StepCall(step, connector, dry_run).call(method, path, json=…, params=…) -> parsed body

An action is a function `run(call, inputs) -> output` (a JSON object the next steps read as
`{{ steps.<position>.<key> }}`). Every remote request goes through `StepCall`, which

- in a dry run records the request and sends nothing (the answer is `{}`);
- otherwise sends it through the connector (rate limit, timeouts, DeliveryAttempt row, error
  classification: sync/transport/http.py) and saves request and answer on the step at once, in its
  own statement. A step re-run after its worker died replays the answers it already has instead of
  calling again, so an action that finished its remote call has its effect once.
"""

from importlib import import_module
from typing import Any

from sync.automations.actions.base import ACTIONS, ActionError, ActionSpec
from sync.connectors import connector_classes


def load() -> dict[str, dict[str, ActionSpec]]:
    """Every connector's actions: the modules connectors name in `automation_actions`."""
    for cls in connector_classes():
        if cls.automation_actions:
            import_module(cls.automation_actions)
    return ACTIONS


def action_spec(provider: str, operation: str) -> ActionSpec:
    found = load().get(provider, {}).get(operation)
    if found is None and provider == "rest":
        from sync.automations.actions.partners import rest_operation

        return rest_operation(operation)
    if found is None:
        raise ActionError(f"The {provider} connector has no action {operation!r}.")
    return found


def catalog_entries(provider: str) -> list[dict[str, Any]]:
    """The provider's automation actions for the operations catalog (sync/catalog.py)."""
    entries = [
        {
            "kind": "action",
            "name": spec.name,
            "label": spec.label,
            "scopes": [spec.scope],
            "inputs": list(spec.inputs),
            "required": list(spec.required),
            "outputs": list(spec.outputs),
        }
        for spec in load().get(provider, {}).values()
    ]
    if provider == "rest":
        entries.append(
            {"kind": "action", "name": "<object type>.<operation>",
             "label": "Any operation the connection configures (see its actions)",
             "scopes": ["contacts.write"], "inputs": ["body", "id", "public_id", "contact_id"],
             "required": [], "outputs": ["id", "response"]}
        )  # fmt: skip
    return entries
