"""Ready automations: the partners' own scenarios as templates an operator creates (disabled),
adjusts (e-mail template ids, workflow id) and enables — from the admin ("Create from
template") or `create_from_template(...)`.

Each template names the connections it needs by role: `crm` (the CRM connection),
`email` (the e-mail sending API), `source` (the partner the trigger comes from: the signage
app, the client-management app, the store).
"""

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from portal.models import Workspace
from sync.models import Automation, AutomationAction, Connection, Mode, Trigger

CONTACT_NAME = {
    "firstName": '{{ contact.first_name | default:"Unknown" }}',
    "lastName": '{{ contact.last_name | default:"-" }}',
}
CUSTOMER = {
    "email": "{{ data.customer.email }}",
    "firstName": "{{ data.customer.first_name }}",
    "lastName": "{{ data.customer.last_name }}",
    "source": "store",
}


@dataclass(frozen=True)
class Template:
    key: str
    name: str
    description: str
    trigger: dict[str, Any]
    actions: list[tuple[str, str, dict[str, Any]]]  # (connection role, operation, inputs)
    conditions: dict[str, Any] = field(default_factory=dict)

    @property
    def roles(self) -> list[str]:
        roles = [role for role, _op, _inputs in self.actions]
        if self.trigger.get("connection"):
            roles.append(self.trigger["connection"])
        return sorted(set(roles))


TEMPLATES = [
    Template(
        "signage_contact_created",
        "Signage contact added → CRM user created",
        "A contact the signage app adds becomes a CRM user (initial status: active account).",
        {"trigger": Trigger.RECORD_CREATED, "object_type": "contact", "connection": "source"},
        [("crm", "user.create", {"email": "{{ contact.email }}", **CONTACT_NAME})],
        {"op": "AND", "conditions": [{"field": "email", "operator": "NOT_EQUAL", "value": ""}]},
    ),
    Template(
        "signage_contact_updated",
        "Signage contact updated → CRM user updated",
        "Name and phone changes of a signage contact reach its CRM user (found by e-mail).",
        {"trigger": Trigger.RECORD_UPDATED, "object_type": "contact", "connection": "source"},
        [
            (
                "crm",
                "user.update",
                {"email": "{{ contact.email }}", **CONTACT_NAME, "phone": "{{ contact.phone }}"},
            )
        ],
    ),
    Template(
        "signage_contact_deleted",
        "Signage contact deleted → CRM user deleted",
        "Deleting a signage contact deletes its CRM user (found by e-mail).",
        {"trigger": Trigger.RECORD_DELETED, "object_type": "contact", "connection": "source"},
        [("crm", "user.delete", {"email": "{{ contact.email }}"})],
    ),
    Template(
        "milestone_email",
        "Milestone reached → trigger e-mail",
        "When a contact's custom field `milestone` changes, send the milestone e-mail "
        "(set type_id to the letter's id).",
        {
            "trigger": Trigger.FIELD_CHANGED,
            "object_type": "contact",
            "field": "custom_fields.milestone",
        },
        [
            (
                "email",
                "email.send_trigger",
                {
                    "email": "{{ contact.email }}",
                    "type_id": "",
                    "data": {"milestone": "{{ contact.custom_fields.milestone }}"},
                },
            )
        ],
    ),
    Template(
        "client_lead_onboarding",
        "New client-management lead → CRM contact, workflow, onboarding e-mail",
        "Set workflowId and the onboarding letter's type_id before enabling.",
        {"trigger": Trigger.RECORD_CREATED, "object_type": "contact", "connection": "source"},
        [
            (
                "crm",
                "contact.upsert",
                {
                    "email": "{{ contact.email }}",
                    **CONTACT_NAME,
                    "phone": "{{ contact.phone }}",
                    "source": "client-management",
                },
            ),
            ("crm", "workflow.add", {"contactId": "{{ steps.1.id }}", "workflowId": ""}),
            ("email", "email.send_system", {"email": "{{ contact.email }}", "type_id": ""}),
        ],
    ),
    Template(
        "store_purchase",
        "Store purchase → CRM follow-up task + welcome e-mail",
        "The store's `purchase.created` event: the customer becomes (or is found as) a CRM "
        "contact, gets a follow-up task, and the welcome e-mail (set its type_id).",
        {
            "trigger": Trigger.EVENT_RECEIVED,
            "event_type": "purchase.created",
            "connection": "source",
        },
        [
            ("crm", "contact.upsert", CUSTOMER),
            (
                "crm",
                "task.create",
                {
                    "contactId": "{{ steps.1.id }}",
                    "title": 'Follow up order {{ data.order_id | default:"(no id)" }}',
                    "body": "{{ data.product.name }}",
                    "dueInDays": 2,
                },
            ),
            (
                "email",
                "email.send_system",
                {
                    "email": "{{ data.customer.email }}",
                    "type_id": "",
                    "name": "{{ data.customer.first_name }}",
                    "data": {"product": "{{ data.product.name }}"},
                },
            ),
        ],
    ),
    Template(
        "email_bounced_tag",
        "E-mail bounced → tag the CRM contact",
        "A bounce reported by the e-mail API tags the contact in the CRM.",
        {"trigger": Trigger.EVENT_RECEIVED, "event_type": "email.bounced", "connection": "email"},
        [("crm", "tag.add", {"contactId": "{{ contact.crm_id }}", "tags": ["email-bounced"]})],
    ),
]
BY_KEY = {t.key: t for t in TEMPLATES}


def create_from_template(
    key: str, *, workspace: Workspace, connections: dict[str, Connection]
) -> Automation:
    """A disabled automation from the template; `connections` maps each role to a connection
    of the workspace (ValueError naming what is missing or foreign)."""
    template = BY_KEY.get(key)
    if template is None:
        raise ValueError(f"No automation template {key!r}.")
    missing = [role for role in template.roles if role not in connections]
    if missing:
        raise ValueError(f"{template.name}: choose a connection for {', '.join(missing)}.")
    foreign = [r for r, c in connections.items() if c.workspace_id != workspace.pk]
    if foreign:
        raise ValueError(f"Connections for {', '.join(foreign)} belong to another workspace.")
    trigger = template.trigger
    with transaction.atomic():
        automation = Automation.objects.create(
            workspace=workspace,
            name=template.name,
            description=template.description,
            mode=Mode.OFF,
            trigger=trigger["trigger"],
            object_type=trigger.get("object_type", ""),
            trigger_connection=connections.get(trigger.get("connection", "")),
            trigger_field=trigger.get("field", ""),
            event_type=trigger.get("event_type", ""),
            conditions=template.conditions,
            preset=template.key,
        )
        for position, (role, operation, inputs) in enumerate(template.actions, start=1):
            AutomationAction.objects.create(
                automation=automation,
                position=position,
                connection=connections[role],
                operation=operation,
                inputs=inputs,
            )
    return automation
