"""The operations catalog: generated from the registry; admin page and /api/v1/catalog/."""

import pytest
from django.urls import reverse

from sync.catalog import catalog
from sync.connectors import CONNECTORS
from tests.api_fixtures import client_for

pytestmark = pytest.mark.django_db


def entry(provider: str) -> dict:
    return next(p for p in catalog()["providers"] if p["provider"] == provider)


def names(ops: list[dict]) -> set[str]:
    return {op["name"] for op in ops}


def test_every_registered_provider_is_listed_plus_the_portal_itself():
    providers = [p["provider"] for p in catalog()["providers"]]
    assert providers == ["portal", *CONNECTORS]


def test_portal_triggers_are_the_mirror_changes_with_fields_and_scopes():
    portal = entry("portal")
    assert {"contact.created", "task.deleted", "appointment.updated"} <= names(portal["triggers"])
    created = next(t for t in portal["triggers"] if t["name"] == "contact.created")
    assert created["scopes"] == ["contacts.readonly"] and "email" in created["fields"]


def test_connector_actions_come_from_their_hooks_and_mappings():
    notify = entry("notifications")
    assert names(notify["actions"]) == {"contact.create", "contact.update", "contact.delete"}
    assert notify["triggers"] == []
    create = next(a for a in notify["actions"] if a["name"] == "contact.create")
    assert create["scopes"] == ["contacts.write"] and "subscriberId ← public_id" in create["fields"]
    mailer = next(a for a in entry("email_api")["actions"] if a["name"] == "contact.update")
    assert "client_user_id ← public_id" in mailer["fields"]
    crm = entry("highlevel")
    assert {"task.create", "rule.add_to_workflow"} <= names(crm["actions"])
    assert "contact.updated" in names(crm["triggers"])


def test_rest_actions_are_what_the_presets_configure_and_webhooks_deliver_events():
    rest = names(entry("rest")["actions"])
    assert {"contact.create", "task.create", "appointment.delete", "contact.find"} <= rest
    hooks = entry("webhook")["actions"]
    assert "deliver note.deleted" in names(hooks) and len(hooks) == 15


def test_catalog_json_is_for_partner_keys_and_staff(
    client, admin_client, django_user_model, make_key
):
    url = "/api/v1/catalog/"
    assert reverse("sync:catalog") == url
    response = client.get(url)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated"
    user = django_user_model.objects.create_user("partner", password="pw-12345678")
    client.force_login(user)
    assert client.get(url).status_code == 403
    response = admin_client.get(url)
    assert response.status_code == 200 and response.json() == catalog()
    assert admin_client.post(url).status_code == 405
    _key, token = make_key(scopes=["contacts.readonly"])
    partner = client_for(token)
    assert partner.get(url).status_code == 200
    assert partner.get(url).json() == catalog()
    assert client_for(token + "x").get(url).status_code == 401


def test_catalog_admin_page_is_linked_from_the_index(admin_client):
    index = admin_client.get(reverse("admin:index")).content.decode()
    page_url = reverse("admin:sync_operationscatalog_changelist")
    assert page_url in index
    page = admin_client.get(page_url).content.decode()
    assert "Operations catalog" in page and "deliver contact.created" in page
    assert "subscriberId ← public_id" in page


def test_crm_triggers_are_its_webhook_events_and_its_reconciled_changes():
    from tests.specs import HIGHLEVEL_SPECS

    crm = entry("highlevel")["triggers"]
    documented = {p.stem for p in (HIGHLEVEL_SPECS / "webhooks").glob("*.json")}
    real_time = [t for t in crm if t["mode"] == "real-time"]
    assert {t["event"] for t in real_time} == documented
    assert {"user.updated", "user.deleted", "task.updated"}.isdisjoint(names(crm))
    assert {"task.completed", "contact.tag_updated", "user.created"} <= names(crm)
    polled = {t["name"]: t["interval_seconds"] for t in crm if t["mode"] == "polled"}
    assert polled == {
        "contact.changed": 300,  # the poll
        "user.changed": 86400,  # the reconcile
        "task.changed": 86400,
        "note.changed": 86400,
        "appointment.changed": 86400,
    }


def test_partner_triggers_are_marked_and_outbound_only_providers_emit_none():
    assert all(t["mode"] == "real-time" for t in entry("portal")["triggers"])
    rest = entry("rest")["triggers"]
    assert "contact.updated" in names(rest) and all(t["mode"] == "real-time" for t in rest)
    for provider in ("notifications", "email_api", "webhook"):
        assert entry(provider)["triggers"] == []


def test_every_connector_offers_its_automation_actions():
    crm = names(entry("highlevel")["automation_actions"])
    assert {"user.create", "user.update", "user.delete", "task.create", "note.create",
            "tag.add", "tag.remove", "workflow.add", "workflow.remove",
            "appointment.book"} <= crm  # fmt: skip
    mailer = names(entry("email_api")["automation_actions"])
    assert {"email.send_system", "email.send_trigger", "user.update_by_email",
            "user.update_by_id", "email.check"} <= mailer  # fmt: skip
    notify = names(entry("notifications")["automation_actions"])
    assert {"subscriber.create", "subscriber.update", "subscriber.bulk_create",
            "event.trigger"} <= notify  # fmt: skip
    assert "event.send" in names(entry("webhook")["automation_actions"])
    assert "<object type>.<operation>" in names(entry("rest")["automation_actions"])
    send = next(a for a in entry("email_api")["automation_actions"]
                if a["name"] == "email.send_system")  # fmt: skip
    assert send["required"] == ["email", "type_id"] and "platform_id" in send["inputs"]


def test_each_provider_declares_what_it_can_do_both_ways():
    crm = entry("highlevel")["capabilities"]
    assert crm["push"] == ["create", "update", "delete"]
    assert crm["webhook_endpoint"] == "/webhooks/highlevel/"
    assert crm["lists"] == ["appointment", "contact", "task", "user"]
    assert crm["lists_per_contact"] == ["appointment", "note", "task"]
    assert crm["lists_changed_since"] == ["contact"] and crm["reads_one"] is True
    rest = entry("rest")["capabilities"]
    assert rest["lists"] == "per connection" and rest["webhook_endpoint"] is None
    assert entry("email_api")["capabilities"]["lists"] == []
