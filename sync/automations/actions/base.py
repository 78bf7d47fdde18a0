"""What an automation action is, and how one step calls its remote (see the package's doc)."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sync.models import AutomationStep
from sync.transport.http import RemoteError, Response, redact

RESPONSE_LIMIT = 20_000


class ActionError(ValueError):
    """An action that cannot run with these inputs (a permanent failure of the step)."""


@dataclass(frozen=True)
class ActionSpec:
    provider: str
    name: str
    label: str
    run: Callable[["StepCall", dict[str, Any]], dict[str, Any]]
    inputs: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    scope: str = "contacts.write"
    outputs: tuple[str, ...] = field(default_factory=tuple)


ACTIONS: dict[str, dict[str, ActionSpec]] = {}


def action(
    provider: str,
    name: str,
    label: str,
    *,
    inputs: tuple[str, ...] = (),
    required: tuple[str, ...] = (),
    scope: str = "contacts.write",
    outputs: tuple[str, ...] = (),
):
    def register(run: Callable[["StepCall", dict[str, Any]], dict[str, Any]]):
        ACTIONS.setdefault(provider, {})[name] = ActionSpec(
            provider, name, label, run, inputs, required, scope, outputs
        )
        return run

    return register


def check_required(spec: ActionSpec, inputs: dict[str, Any]) -> None:
    missing = [name for name in spec.required if inputs.get(name) in (None, "", [])]
    if missing:
        raise ActionError(f"{spec.name}: missing input(s) {', '.join(missing)}.")


class StepCall:
    def __init__(self, step: AutomationStep, connector: Any, *, dry_run: bool) -> None:
        self.step = step
        self.connector = connector
        self.dry_run = dry_run
        self.calls: list[dict[str, Any]] = list(step.calls or [])
        self.replayed: set[int] = set()

    @property
    def connection(self):
        return self.connector.connection

    @property
    def idempotency_key(self) -> str:
        return self.step.idempotency_key

    def contact(self):
        """The mirror contact the trigger is about (None for events without one)."""
        from contacts.models import Contact

        pk = (self.step.run.context.get("contact") or {}).get("pk")
        return Contact.objects.filter(pk=pk).first() if pk else None

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        request = {"method": method, "path": path}
        for key in ("params", "json"):
            if kwargs.get(key) is not None:
                request[key] = kwargs[key]
        return self.once(request, lambda: self.connector.call(method, path, **kwargs))

    def once(self, request: dict[str, Any], send: Callable[[], Response]) -> Any:
        """Send `request` (described for the record) unless this step already has its answer."""
        shown = redact(request)
        for index, saved in enumerate(self.calls):
            if index not in self.replayed and _same(saved, shown):
                self.replayed.add(index)
                return saved.get("response")
        if self.dry_run:
            self._save({**shown, "dry_run": True, "response": {}})
            return {}
        response = send()
        self._save({**shown, "status": response.status, "response": _parsed(response)})
        return self.calls[-1]["response"]

    def answered(self, method: str, path: str) -> bool:
        """Whether an earlier attempt of this step recorded the answer to such a request."""
        return any(c.get("method") == method and c.get("path") == path for c in self.calls)

    def _save(self, entry: dict[str, Any]) -> None:
        self.calls = [*self.calls, entry]
        self.replayed.add(len(self.calls) - 1)
        updated = AutomationStep.objects.filter(
            pk=self.step.pk, lease_token=self.step.lease_token
        ).update(calls=self.calls)
        if not updated:
            raise RemoteError("The step's lease was lost to another worker.", permanent=False)


def _same(saved: dict[str, Any], request: dict[str, Any]) -> bool:
    return all(saved.get(key) == request.get(key) for key in ("method", "path", "params", "json"))


def _parsed(response: Response) -> Any:
    if response.dry_run:
        return {"dry_run": True}
    try:
        body = response.json()
    except RemoteError:
        return {"text": response.text[:2000]}
    if len(json.dumps(body, default=str)) > RESPONSE_LIMIT:
        return {"text": response.text[:2000], "truncated": True}
    return redact(body)  # kept in the database and shown in the admin
