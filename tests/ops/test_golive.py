"""The go-live check against the sandbox CRM: every object type passes and leaves nothing
behind; a mapping that loses a field is reported; a connector that cannot delete is refused."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from contacts.models import Appointment, Contact, CrmUser, Note, Task
from ops.golive import CannotCleanUp, go_live_check
from sync.connectors.highlevel.fields import CONTACT
from sync.models import FieldMapping, Link, OutboundChange
from tests.factories import TEST_ACTOR
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(conn):
    conn.company_id = "comp1"  # the CRM needs it to create users
    conn.options = {"go_live_calendar_id": "cal000000000000000001"}
    conn.save()
    return conn


def test_every_object_type_passes_and_nothing_is_left_behind(crm, ready):
    out = StringIO()
    call_command("go_live_check", "sandbox-crm", stdout=out)
    text = out.getvalue()
    assert "passed the go-live check" in text, text
    for object_type in ("user", "contact", "task", "note", "appointment"):
        for step in ("push", "read back", "compare", "delete"):
            assert any(
                line.split()[:1] == [object_type] and f" {step} " in line and " ok " in line
                for line in text.splitlines()
            ), (object_type, step, text)
    for model in (CrmUser, Contact, Task, Note, Appointment):
        assert not model.objects.exists()
    assert not Link.objects.exists() and not OutboundChange.objects.exists()
    assert crm.list("contact") == [] and crm.list("task") == []
    assert all("go-live" not in (u.get("lastName") or "") for u in crm.list("user"))


def test_a_mapping_that_loses_a_field_is_reported(crm, ready):
    for position, spec in enumerate(CONTACT):
        remote = "cityName" if spec.mirror_field == "city" else spec.remote_path
        FieldMapping.objects.create(
            connection=ready, object_type="contact", mirror_field=spec.mirror_field,
            remote_path=remote, direction=spec.direction, transform=spec.transform,
            argument=spec.argument, position=position,
        )  # fmt: skip
    report = go_live_check(ready, actor=TEST_ACTOR)
    assert not report.ok
    failed = [s for s in report.steps if s.outcome == "failed"]
    assert [(s.object_type, s.name) for s in failed] == [("contact", "compare")]
    assert "cityName ← city: sent 'Testville', the remote has nothing" in failed[0].detail
    assert not Contact.objects.exists() and crm.list("contact") == []
    with pytest.raises(CommandError, match="failed"):
        call_command("go_live_check", "sandbox-crm", stdout=StringIO())


def test_a_connection_that_cannot_delete_is_refused_unless_confirmed(workspace):
    hooks = ConnectionFactory(
        workspace=workspace, provider="webhook", base_url="https://partner.example/hooks"
    )  # outbound webhooks announce a delete; they cannot remove what a partner stored
    with pytest.raises(CannotCleanUp, match="Confirm to run it anyway"):
        go_live_check(hooks, actor=TEST_ACTOR)
    with pytest.raises(CommandError, match="cannot delete records"):
        call_command("go_live_check", hooks.slug, stdout=StringIO())
    assert not Contact.objects.exists()


def test_the_admin_action_opens_a_page_that_runs_the_check_and_shows_each_step(
    admin_client, crm, ready, workspace
):
    from django.urls import reverse

    picked = admin_client.post(
        reverse("admin:sync_connection_changelist"),
        {"action": "go_live", "_selected_action": [ready.pk]},
    )
    url = reverse("admin:ops_go_live", args=[ready.pk])
    assert picked.status_code == 302 and picked["Location"] == url
    assert b"Run the go-live check" in admin_client.get(url).content
    page = admin_client.post(url).content.decode()
    assert '<h2 id="go-live-result">Passed</h2>' in page
    assert page.count('class="step-ok"') >= 20 and 'class="step-failed"' not in page

    hooks = ConnectionFactory(
        workspace=workspace, provider="webhook", base_url="https://partner.example/hooks"
    )
    refused = admin_client.post(reverse("admin:ops_go_live", args=[hooks.pk])).content.decode()
    assert 'id="go-live-refusal"' in refused and "go-live-result" not in refused
