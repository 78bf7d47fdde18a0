"""What an automation's templates see, snapshotted when the trigger fires.

    record_context(obj, action, changes, actor) -> {"record", "<type>", "contact", "event"}
    event_context(event, payload, contact) -> {"event", "data", "contact"?}
    with_links(context) -> context plus each record's remote ids (read when a step runs,
                           because a record created in this very transaction has none yet)

Records appear in the partner API's shape (sync/mapping/representation.py): public ids, ISO dates.
"""

from typing import Any

from contacts.models import Contact, MirrorModel
from portal.actors import Actor
from sync.mapping.representation import represent
from sync.models import Connection, Link
from sync.objects import object_type_of


def jsonable(value: Any) -> Any:
    if isinstance(value, MirrorModel):
        return value.public_id
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    return value.isoformat() if hasattr(value, "isoformat") else value


def record_context(
    obj: MirrorModel, action: str, changes: dict[str, list[Any]], actor: Actor
) -> dict[str, Any]:
    object_type = object_type_of(obj)
    record = {**represent(obj), "pk": obj.pk}
    context: dict[str, Any] = {
        "record": record,
        object_type: record,
        "event": {
            "type": f"{object_type}.{action}",
            "action": action,
            "changes": jsonable(changes),
            "source": actor.label,
            "origin_connection_id": actor.origin_connection_id,
        },
    }
    contact = obj if isinstance(obj, Contact) else getattr(obj, "contact", None)
    if isinstance(contact, Contact) and contact is not obj:
        context["contact"] = {**represent(contact), "pk": contact.pk}
    return context


def event_context(
    event_type: str, payload: Any, contact: Contact | None, **extra: Any
) -> dict[str, Any]:
    data = payload.get("data") if isinstance(payload, dict) else None
    context: dict[str, Any] = {
        "event": {"type": event_type, "payload": payload, **extra},
        "data": data if isinstance(data, dict) else payload,
    }
    if contact is not None:
        context["contact"] = {**represent(contact), "pk": contact.pk}
        context["record"] = context["contact"]
    return context


def with_links(context: dict[str, Any], workspace_id: int) -> dict[str, Any]:
    """Each record gets `links` ({connection slug: remote id}) and `crm_id` (primary CRM)."""
    result = dict(context)
    for key, value in context.items():
        if isinstance(value, dict) and value.get("pk") and value.get("object"):
            result[key] = {**value, **_links(value["object"], value["pk"], workspace_id)}
    return result


def _links(object_type: str, pk: int, workspace_id: int) -> dict[str, Any]:
    links = Link.objects.filter(object_type=object_type, object_id=pk).exclude(remote_id="")
    by_slug = {slug: rid for slug, rid in links.values_list("connection__slug", "remote_id")}
    primary = (
        Connection.objects.live()
        .crm()
        .filter(workspace_id=workspace_id)
        .order_by("-primary", "id")
        .values_list("slug", flat=True)
        .first()
    )
    return {"links": by_slug, "crm_id": by_slug.get(primary or "", "")}
