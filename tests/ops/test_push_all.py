"""First sync outward (`push_all`) against the sandbox CRM: every record exactly once, also
after a kill while queuing and while pushing; records the CRM already has are updated."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from contacts.models import Contact
from contacts.services import NewRow, mirror_bulk_create
from ops.models import PushAllRun, RunStatus
from ops.push_all import PushAll, delivery
from sync.connectors import connector_for
from sync.engine.outbox import outbound_suppressed
from sync.engine.push import claim_batch, drain
from sync.models import ChangeStatus, DeliveryAttempt, Link, OutboundChange
from tests.factories import TEST_ACTOR
from tests.sync.factories import RuleFactory

pytestmark = pytest.mark.django_db
N = 2000


class Killed(BaseException):
    """Stands in for kill -9: nothing after it runs, the open transaction is lost."""


def mirror_contacts(workspace, n: int) -> list[Contact]:
    """Contacts that were in the mirror before the connection existed (no outbox rows)."""
    rows = [
        NewRow({"first_name": f"Mirror{i}", "email": f"seed{i}@example.com", "city": "Lisbon"})
        for i in range(n)
    ]
    with outbound_suppressed():
        return mirror_bulk_create(Contact, workspace=workspace, actor=TEST_ACTOR, rows=rows)


def push_all(*args: str) -> str:
    out = StringIO()
    call_command("push_all", "sandbox-crm", *args, stdout=out)
    return out.getvalue()


def crm_contacts_by_email(crm) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for record in crm.list("contact"):
        found.setdefault(record["email"], []).append(record)
    return found


def kill_on_checkpoint(monkeypatch, nth: int) -> None:
    original = PushAll._checkpoint
    calls = {"n": 0}

    def checkpoint(self, **kwargs):
        calls["n"] += 1
        if calls["n"] == nth:
            raise Killed  # inside the batch's transaction: the batch is rolled back
        return original(self, **kwargs)

    monkeypatch.setattr(PushAll, "_checkpoint", checkpoint)


def kill_workers_mid_push(conn, change_ids: list[int]) -> None:
    """Workers that claimed rows and called the CRM, then died before recording the outcome."""
    for change_id in change_ids:
        [change] = claim_batch([change_id])
        connector_for(conn, change=change).push(change)
    past = timezone.now() - timedelta(seconds=1)
    OutboundChange.objects.filter(pk__in=change_ids).update(lease_until=past)


def test_2000_contacts_reach_a_new_connection_exactly_once_after_kills(
    crm, conn, workspace, monkeypatch
):
    crm.seed_contacts(300)  # the CRM already holds seed0…seed299, with other names
    mirror_contacts(workspace, N)
    kill_on_checkpoint(monkeypatch, 2)
    with pytest.raises(Killed):
        push_all("--objects", "contacts")
    run = PushAllRun.objects.get()
    assert (run.status, run.queued) == (RunStatus.RUNNING, 500)
    monkeypatch.undo()
    out = push_all("--objects", "contacts")
    assert "Resuming first sync" in out and f"queued {N}" in out, out
    assert OutboundChange.objects.filter(connection=conn).count() == N

    first = list(OutboundChange.objects.order_by("id").values_list("id", flat=True)[:700])
    drain_some(first[:650])
    kill_workers_mid_push(conn, first[650:])
    assert drain()["left"] == 0

    remote = crm_contacts_by_email(crm)
    assert len(remote) == N and all(len(records) == 1 for records in remote.values())
    assert remote["seed7@example.com"][0]["firstName"] == "Mirror7"  # updated, not duplicated
    assert remote["seed7@example.com"][0]["city"] == "Lisbon"
    assert remote["seed1999@example.com"][0]["firstName"] == "Mirror1999"
    assert Link.objects.filter(connection=conn).exclude(remote_id="").count() == N
    posts = DeliveryAttempt.objects.filter(connection=conn, method="POST", path="/contacts/")
    assert posts.count() == N - 300
    assert delivery(PushAllRun.objects.get()) == {ChangeStatus.DONE: N}


def drain_some(change_ids: list[int]) -> None:
    from sync.engine.push import process_change

    for change_id in change_ids:
        assert process_change(change_id) in ("created", "found and updated")


def test_dry_run_counts_and_sends_nothing(crm, conn, workspace):
    mirror_contacts(workspace, 30)
    RuleFactory(
        connection=conn,
        conditions={"field": "email", "operator": "NOT_EQUAL", "value": "seed3@example.com"},
    )
    out = push_all("--dry-run")
    assert "would queue 29 (29 contact(s)), 29 of them looked up" in out, out
    assert "left out by rules 1" in out
    assert not OutboundChange.objects.exists() and not Link.objects.exists()
    assert not PushAllRun.objects.exists() and not DeliveryAttempt.objects.exists()
    assert crm.list("contact") == []


def test_filter_rules_apply_and_a_second_run_queues_only_what_changed_since(crm, conn, workspace):
    contacts = mirror_contacts(workspace, 5)
    RuleFactory(
        connection=conn,
        conditions={"field": "email", "operator": "NOT_EQUAL", "value": "seed0@example.com"},
    )
    assert "queued 4" in push_all()
    drain()
    assert sorted(r["email"] for r in crm.list("contact")) == [
        f"seed{i}@example.com" for i in range(1, 5)
    ]
    later = timezone.now()
    Contact.objects.filter(pk=contacts[4].pk).update(updated_at=later + timedelta(seconds=1))
    assert "queued 1" in push_all("--since", later.isoformat())
    assert drain()["processed"] == 1
    assert len(crm.list("contact")) == 4


def test_bad_options_are_clear_errors(conn):
    with pytest.raises(CommandError, match="Unknown object type"):
        push_all("--objects", "contacts,widgets")
    conn.users_direction = "in"
    conn.save()
    with pytest.raises(CommandError, match="does not receive users"):
        push_all("--objects", "users")
    with pytest.raises(CommandError, match="No connection"):
        call_command("push_all", "nope", stdout=StringIO())
