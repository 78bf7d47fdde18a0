"""Operators per workspace (issue #15, row 6): an operator of workspace A sees none of B's rows
on any admin page, export, preview, timeline or dashboard, and cannot act on them by id; a
viewer changes nothing; a superuser sees everything.

The admin tests walk every registered ModelAdmin, so a new admin is checked without anyone
remembering to add it here.
"""

import pytest
from django.contrib import admin
from django.db.models import Model
from django.urls import reverse

from contacts.models import Contact
from portal.admin_scoping import WorkspaceScopedAdmin
from portal.csv_export import CsvExportMixin
from portal.models import AuditEntry
from sync.models import Connection, OutboundChange, Rule
from tests.portal.scoping_world import A_MARK, B_MARK, build_world

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
SCOPED = [(m, a) for m, a in REGISTERED if a.workspace_path and not a.agency_only]
AGENCY_ONLY = [(m, a) for m, a in REGISTERED if a.agency_only]
GLOBAL_CONFIG = [(m, a) for m, a in REGISTERED if a.workspace_path is None and not a.agency_only]


def _ids(pairs):
    return [model._meta.label for model, _ in pairs]


@pytest.fixture(autouse=True)
def _no_queue(monkeypatch):
    monkeypatch.setattr("sync.engine.queue.async_task", lambda *args, **kwargs: None)


@pytest.fixture
def world(db, django_user_model):
    return build_world(django_user_model)


def _url(model: type[Model], view: str, *args) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def _rows_of(model_admin, workspace):
    model = model_admin.model
    return model._default_manager.filter(**{model_admin.workspace_path: workspace.pk})


def _snapshot(model, pks):
    return sorted(model._default_manager.filter(pk__in=pks).values(), key=lambda r: r["id"])


def test_every_admin_is_scoped_or_agency_only():
    # The site wraps any admin registered without the mixin as agency-only (fail closed).
    assert all(isinstance(a, WorkspaceScopedAdmin) for _, a in REGISTERED)
    # Every admin over rows that belong to a workspace says how (not left agency-only).
    for model, model_admin in REGISTERED:
        names = {f.name for f in model._meta.get_fields()}
        if model._meta.app_label in {"contacts", "sync"} and names & {"workspace", "connection"}:
            assert model_admin.workspace_path, model._meta.label
    owned = {"portal.Workspace", "contacts.Contact", "sync.Connection", "sync.InboundEvent",
             "portal.ApiKey", "portal.AuditEntry", "sync.DeliveryAttempt"}  # fmt: skip
    assert owned <= set(_ids(SCOPED))
    assert {"auth.User", "auth.Group", "portal.WorkspaceMembership"} <= set(_ids(AGENCY_ONLY))


@pytest.mark.parametrize(("model", "model_admin"), SCOPED, ids=_ids(SCOPED))
def test_an_operator_sees_only_their_workspace_rows(client, world, model, model_admin):
    a_rows, b_rows = _rows_of(model_admin, world.a), _rows_of(model_admin, world.b)
    assert a_rows.exists() and b_rows.exists(), "the world lacks a row of this kind"
    client.force_login(world.operator)

    page = client.get(_url(model, "changelist"))
    assert page.status_code == 200
    listed = {obj.pk for obj in page.context["cl"].result_list}
    assert listed and listed <= set(a_rows.values_list("pk", flat=True))
    assert B_MARK not in page.content.decode()  # not in rows, filters or choices

    for row in b_rows:
        for view in ("change", "delete", "history"):
            assert client.get(_url(model, view, row.pk)).status_code == 404, view
        assert client.post(_url(model, "change", row.pk), {}).status_code == 404
        assert client.post(_url(model, "delete", row.pk), {"post": "yes"}).status_code == 404
    assert client.get(_url(model, "change", a_rows.first().pk)).status_code == 200

    if isinstance(model_admin, CsvExportMixin):
        export = b"".join(client.get(_url(model, "export_csv")).streaming_content).decode()
        assert A_MARK in export or str(a_rows.first().pk) in export
        assert B_MARK not in export


@pytest.mark.parametrize("who", ["operator", "mixed"])
@pytest.mark.parametrize(("model", "model_admin"), SCOPED, ids=_ids(SCOPED))
def test_an_operator_cannot_act_on_another_workspace_by_id(client, world, rf, model, model_admin,
                                                           who):  # fmt: skip
    # "mixed" operates A and views B: B's rows are listed, yet no action or form touches them.
    user = getattr(world, who)
    b_pks = list(_rows_of(model_admin, world.b).values_list("pk", flat=True))
    before = _snapshot(model, b_pks)
    request = rf.get("/")
    request.user = user
    client.force_login(user)
    for pk in b_pks:
        assert client.post(_url(model, "change", pk), {}).status_code in (403, 404)
        assert client.post(_url(model, "delete", pk), {"post": "yes"}).status_code in (403, 404)
    for action in model_admin.get_actions(request):
        data = {"action": action, "_selected_action": b_pks, "index": 0, "post": "yes"}
        assert client.post(_url(model, "changelist"), data).status_code in (200, 302)
    assert _snapshot(model, b_pks) == before


@pytest.mark.parametrize(("model", "model_admin"), SCOPED, ids=_ids(SCOPED))
def test_a_viewer_can_change_nothing(client, world, rf, model, model_admin):
    row = _rows_of(model_admin, world.a).first()
    client.force_login(world.viewer)
    request = rf.get("/")
    request.user = world.viewer
    assert model_admin.get_actions(request) == {}
    page = client.get(_url(model, "change", row.pk))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    before = _snapshot(model, [row.pk])
    assert client.post(_url(model, "change", row.pk), {}).status_code == 403
    assert client.post(_url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
    assert client.get(_url(model, "add")).status_code == 403
    assert _snapshot(model, [row.pk]) == before


@pytest.mark.parametrize(("model", "model_admin"), AGENCY_ONLY, ids=_ids(AGENCY_ONLY))
def test_agency_admin_pages_are_closed_to_workspace_operators(client, world, model, model_admin):
    client.force_login(world.operator)
    assert client.get(_url(model, "changelist")).status_code == 403
    assert client.get(_url(model, "add")).status_code == 403


@pytest.mark.parametrize(("model", "model_admin"), GLOBAL_CONFIG, ids=_ids(GLOBAL_CONFIG))
def test_agency_wide_configuration_is_read_only_for_operators(client, world, rf, model,
                                                              model_admin):  # fmt: skip
    request = rf.get("/")
    request.user = world.operator
    client.force_login(world.operator)
    assert client.get(_url(model, "changelist")).status_code == 200
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_a_superuser_sees_every_workspace(admin_client, world):
    page = admin_client.get(_url(Contact, "changelist")).content.decode()
    assert A_MARK in page and B_MARK in page


def test_a_staff_user_without_membership_sees_no_rows(client, world):
    client.force_login(world.nobody)
    page = client.get(_url(Contact, "changelist"))
    assert list(page.context["cl"].result_list) == []
    assert client.get(_url(Connection, "add")).status_code == 403


def test_the_dashboard_shows_only_the_operators_connections(client, world):
    client.force_login(world.operator)
    page = client.get(reverse("dashboard")).content.decode()
    assert f"{A_MARK} CRM" in page and B_MARK not in page


def test_preview_and_timeline_of_another_workspace_are_404(client, world):
    client.force_login(world.operator)
    b_conn = Connection.objects.get(workspace=world.b)
    b_contact = Contact.objects.get(workspace=world.b)
    a_conn = Connection.objects.get(workspace=world.a)
    a_contact = Contact.objects.get(workspace=world.a)
    assert client.get(reverse("admin:sync_connection_preview", args=[b_conn.pk])).status_code == 404
    timeline = reverse("record_timeline", args=["contact", b_contact.pk])
    assert client.get(timeline).status_code == 404
    preview = client.get(reverse("admin:sync_connection_preview", args=[a_conn.pk]),
                         {"object_type": "contact", "record": str(b_contact.pk)})  # fmt: skip
    assert preview.status_code == 200 and B_MARK not in preview.content.decode()
    own = client.get(reverse("record_timeline", args=["contact", a_contact.pk]))
    assert own.status_code == 200 and B_MARK not in own.content.decode()


def test_replay_offers_and_requeues_only_the_operators_rows(client, world):
    client.force_login(world.operator)
    url = reverse("admin:sync_outboundchange_replay")
    b_conn = Connection.objects.get(workspace=world.b)
    assert B_MARK not in client.get(url).content.decode()
    form = {"status": ["dead"], "since": "2000-01-01 00:00"}
    refused = client.post(url, {**form, "connection": b_conn.pk})
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert client.post(url, form).status_code == 302
    assert OutboundChange.objects.filter(connection__workspace=world.b, status="dead").exists()
    assert not OutboundChange.objects.filter(connection__workspace=world.a, status="dead")


def test_related_fields_offer_only_the_operators_workspaces(client, world):
    client.force_login(world.operator)
    form = client.get(_url(Connection, "add")).content.decode()
    assert A_MARK in form and B_MARK not in form
    sneaky = {"workspace": world.b.pk, "name": "Sneaky", "slug": "sneaky", "provider": "highlevel"}
    response = client.post(_url(Connection, "add"), sneaky)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Connection.objects.filter(name="Sneaky").exists()


def test_searching_a_phone_finds_no_other_workspaces_contact(client, world):
    client.force_login(world.operator)
    page = client.get(_url(Contact, "changelist"), {"q": "(555) 010-0022"})
    assert list(page.context["cl"].result_list) == []


def test_a_key_spanning_two_workspaces_is_not_an_operators(client, world):
    from portal.apikeys import apikey_create
    from tests.factories import TEST_ACTOR

    shared, _ = apikey_create(name="shared", scopes=["contacts.readonly"],
                              workspaces=[world.a, world.b], actor=TEST_ACTOR)  # fmt: skip
    client.force_login(world.operator)
    assert client.get(_url(type(shared), "change", shared.pk)).status_code == 404


def test_an_operator_reads_the_audit_of_their_mappings_and_rules(client, world):
    client.force_login(world.operator)
    rule = Rule.objects.get(connection__workspace=world.a)
    saved = client.post(_url(Rule, "change", rule.pk), {
        "connection": rule.connection_id, "name": f"{A_MARK} renamed", "object_type": "contact",
        "kind": rule.kind, "action": rule.action, "position": 0,
        "active": "on", "conditions": '{"field": "tags", "operator": "ANY_IN", "value": ["vip"]}',
    })  # fmt: skip
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    entry = AuditEntry.objects.get(object_type="sync.rule", object_id=str(rule.pk))
    assert entry.workspace == world.a
    page = client.get(_url(AuditEntry, "changelist"), {"object_type": "sync.rule"})
    assert [row.pk for row in page.context["cl"].result_list] == [entry.pk]
