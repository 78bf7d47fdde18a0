import pytest
from django.contrib import admin
from django.urls import reverse

from contacts.models import Contact, Note, Task
from portal.models import AuditEntry
from tests.factories import ContactFactory, NoteFactory, TaskFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def _registered_models():
    return [model for model in admin.site._registry]


@pytest.mark.parametrize("model", _registered_models(), ids=lambda m: m._meta.label_lower)
def test_every_changelist_and_add_page_renders(admin_client, admin_user, rf, model, workspace):
    opts = model._meta
    changelist = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    add = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
    request = rf.get("/")
    request.user = admin_user
    # Append-only models (the audit trail, task results) have no add page.
    expected = 200 if admin.site._registry[model].has_add_permission(request) else 403
    assert add.status_code == expected


def _contact_form(workspace, **fields):
    data = {
        "workspace": workspace.pk,
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane@example.com",
        "phone": "",
        "tags": "[]",
        "custom_fields": "{}",
        "country": "",
        "dnd": "",
    }
    for prefix in ("tasks", "notes", "appointments"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    data.update(fields)
    return data


def test_create_contact_with_task_and_note_is_audited_with_operator(
    admin_client, admin_user, workspace
):
    data = _contact_form(
        workspace,
        **{
            "tasks-TOTAL_FORMS": "1",
            "tasks-0-title": "Call back",
            "tasks-0-due_date_0": "2026-12-01",
            "tasks-0-due_date_1": "10:00:00",
            "notes-TOTAL_FORMS": "1",
            "notes-0-body": "Met at the fair",
        },
    )
    response = admin_client.post(reverse("admin:contacts_contact_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    contact = Contact.objects.get(email_key="jane@example.com")
    assert Task.objects.get(contact=contact).title == "Call back"
    assert Note.objects.get(contact=contact).body == "Met at the fair"
    entries = AuditEntry.objects.filter(actor_label=admin_user.username, action="create")
    assert set(entries.values_list("object_type", flat=True)) == {
        "contacts.contact",
        "contacts.task",
        "contacts.note",
    }
    assert all(e.actor_kind == "operator" and e.source == "admin" for e in entries)


def test_edit_contact_records_change(admin_client, admin_user, workspace):
    contact = ContactFactory(workspace=workspace, first_name="Jane", email="jane@example.com")
    url = reverse("admin:contacts_contact_change", args=[contact.pk])
    data = _contact_form(workspace, first_name="Janet", last_name=contact.last_name)
    response = admin_client.post(url, data)
    assert response.status_code == 302
    entry = AuditEntry.objects.get(object_id=contact.public_id, action="update")
    assert entry.changes == {"first_name": ["Jane", "Janet"]}
    assert entry.actor_label == admin_user.username


@pytest.mark.parametrize(
    ("field", "value"), [("email", "not-an-email"), ("phone", "12345678901234567")]
)
def test_invalid_input_is_a_form_error_and_saves_nothing(admin_client, workspace, field, value):
    response = admin_client.post(
        reverse("admin:contacts_contact_add"), _contact_form(workspace, **{field: value})
    )
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert Contact.objects.count() == 0


def test_delete_in_admin_is_a_tombstone(admin_client, workspace):
    task = TaskFactory(workspace=workspace, title="Call back")
    NoteFactory(workspace=workspace, contact=task.contact)
    url = reverse("admin:contacts_contact_delete", args=[task.contact.pk])
    confirm = admin_client.get(url)
    assert confirm.status_code == 200
    # The confirmation lists what is tombstoned with the contact, not just "Contacts: 1".
    assert dict(confirm.context["model_count"]) == {"contacts": 1, "tasks": 1, "notes": 1}
    assert f"Task: Call back ({task.public_id})" in confirm.content.decode()
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    task.contact.refresh_from_db()
    task.refresh_from_db()
    assert task.contact.deleted_at is not None and task.deleted_at is not None


def test_changelist_filters_by_workspace(admin_client):
    first, second = WorkspaceFactory(name="First"), WorkspaceFactory(name="Second")
    ContactFactory(workspace=first, email="same@example.com", first_name="InFirst")
    ContactFactory(workspace=second, email="same@example.com", first_name="InSecond")
    url = reverse("admin:contacts_contact_changelist")
    response = admin_client.get(url, {"workspace__id__exact": second.pk})
    names = [c.first_name for c in response.context["cl"].result_list]
    assert names == ["InSecond"]


def test_search_by_phone_in_any_format(admin_client, workspace):
    ContactFactory(workspace=workspace, phone="+15550100000", first_name="Phoned")
    ContactFactory(workspace=workspace, phone="+15550100001", first_name="Other")
    response = admin_client.get(
        reverse("admin:contacts_contact_changelist"), {"q": "(555) 010-0000"}
    )
    assert [c.first_name for c in response.context["cl"].result_list] == ["Phoned"]


def test_audit_trail_is_read_only(admin_client, workspace, actor):
    ContactFactory(workspace=workspace)
    entry = AuditEntry.objects.first()
    change_url = reverse("admin:portal_auditentry_change", args=[entry.pk])
    response = admin_client.get(change_url)
    assert response.status_code == 200
    assert b'name="_save"' not in response.content
    assert admin_client.post(change_url, {"action": "delete"}).status_code == 403
    delete_url = reverse("admin:portal_auditentry_delete", args=[entry.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_contact_changelist_query_count_does_not_grow_with_rows(
    admin_client, workspace, django_assert_max_num_queries
):
    ContactFactory.create_batch(3, workspace=workspace)
    url = reverse("admin:contacts_contact_changelist")
    admin_client.get(url)  # warm the session and content-type caches
    with django_assert_max_num_queries(12) as small:
        admin_client.get(url)
    ContactFactory.create_batch(30, workspace=workspace)
    with django_assert_max_num_queries(len(small.captured_queries)):
        admin_client.get(url)


def test_a_deleted_contact_is_read_only_and_an_edit_is_refused(admin_client, workspace, actor):
    from contacts.services import mirror_delete

    contact = ContactFactory(workspace=workspace, first_name="Jane")
    mirror_delete(contact, actor=actor)
    url = reverse("admin:contacts_contact_change", args=[contact.pk])
    page = admin_client.get(url).content.decode()
    assert 'id="deleted-banner"' in page and 'name="_save"' not in page
    response = admin_client.post(url, _contact_form(workspace, first_name="Janet"), follow=True)
    assert "deleted records are read-only, so nothing was saved" in response.content.decode()
    contact.refresh_from_db()
    assert contact.first_name == "Jane"
    assert not AuditEntry.objects.filter(object_id=contact.public_id, action="update").exists()


def test_deleted_records_are_hidden_until_the_filter_shows_them(admin_client, workspace, actor):
    from contacts.services import mirror_delete

    live = TaskFactory(workspace=workspace, title="Live task")
    gone = TaskFactory(workspace=workspace, title="Gone task")
    mirror_delete(gone, actor=actor)
    url = reverse("admin:contacts_task_changelist")
    default = admin_client.get(url).content.decode()
    assert live.title in default and gone.title not in default
    assert "column-deleted" in default
    deleted = admin_client.get(url, {"state": "deleted"}).content.decode()
    assert gone.title in deleted and live.title not in deleted
    both = admin_client.get(url, {"state": "all"}).content.decode()
    assert gone.title in both and live.title in both
