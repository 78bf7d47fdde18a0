"""rotate_fernet over every secret, prune_logs, setup_schedules and the alert check."""

from datetime import timedelta
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.utils import timezone
from django_q.models import Schedule

from ops.alerts import check_alerts
from ops.models import BackfillRun, RunStatus
from ops.schedules import setup_schedules
from portal.models import AuditEntry
from sync.models import ChangeStatus, Connection, DeliveryAttempt, OutboundChange
from sync.transport.crypto import encrypted_fields
from tests.factories import ContactFactory
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# --- rotate_fernet ------------------------------------------------------------------------


def test_after_rotate_fernet_every_secret_is_readable_with_the_new_key_alone(settings):
    first, second = settings.FERNET_KEYS[0], settings.FERNET_KEYS[1]
    secrets = {
        "a": {"token": "pit-a"},
        "b": {"access_token": "at-b", "refresh_token": "rt-b", "client_secret": "cs-b"},
        "c": {},
    }
    settings.FERNET_KEYS = [first]
    ConnectionFactory(slug="a", credentials=secrets["a"])
    settings.FERNET_KEYS = [second]  # rows written under different old keys
    ConnectionFactory(slug="b", credentials=secrets["b"])
    ConnectionFactory(slug="c", credentials=secrets["c"])
    new_key = Fernet.generate_key().decode()
    settings.FERNET_KEYS = [new_key, first, second]

    assert "Re-encrypted 3 secret(s)" in run("rotate_fernet")

    settings.FERNET_KEYS = [new_key]
    for slug, expected in secrets.items():
        assert Connection.objects.get(slug=slug).credentials == expected
    for model, field_name in encrypted_fields():  # every encrypted column of every model
        table, column = model._meta.db_table, model._meta.get_field(field_name).column
        with db.cursor() as cursor:
            cursor.execute(f"SELECT {column} FROM {table}")  # noqa: S608 - names from models
            for (ciphertext,) in cursor.fetchall():
                Fernet(new_key.encode()).decrypt(ciphertext.encode())


# --- prune_logs -----------------------------------------------------------------------------


def test_prune_logs_deletes_old_logs_and_keeps_audit_and_unresolved_work(workspace):
    conn = ConnectionFactory(workspace=workspace)
    old_attempt = DeliveryAttempt.objects.create(
        connection=conn, method="GET", path="/", outcome="ok"
    )
    DeliveryAttempt.objects.create(connection=conn, method="GET", path="/", outcome="ok")
    DeliveryAttempt.objects.filter(pk=old_attempt.pk).update(
        created_at=timezone.now() - timedelta(days=91)
    )
    contact = ContactFactory(workspace=workspace)
    rows = OutboundChange.objects.filter(object_id=contact.pk)
    done = rows.first()
    OutboundChange.objects.filter(pk=done.pk).update(status=ChangeStatus.DONE)
    dead = OutboundChange.objects.create(
        connection=conn, object_type="contact", object_id=contact.pk, status=ChangeStatus.DEAD
    )
    OutboundChange.objects.update(updated_at=timezone.now() - timedelta(days=100))
    run_row = BackfillRun.objects.create(connection=conn, status=RunStatus.DONE)
    BackfillRun.objects.filter(pk=run_row.pk).update(updated_at=timezone.now() - timedelta(days=95))
    AuditEntry.objects.update(created_at=timezone.now() - timedelta(days=200))

    out = run("prune_logs", "--older-than", "90d")

    assert "delivery attempts: 1 deleted" in out and "finished outbox rows: 1 deleted" in out
    assert DeliveryAttempt.objects.count() == 1
    assert list(OutboundChange.objects.values_list("pk", flat=True)) == [dead.pk]
    assert not BackfillRun.objects.exists()
    assert AuditEntry.objects.exists() and "audit" not in out
    out = run("prune_logs", "--older-than", "90d", "--include-audit")
    assert "audit entries:" in out and not AuditEntry.objects.exists()


@pytest.mark.parametrize("value", ["90", "0d", "ninety days", "-5d"])
def test_prune_logs_refuses_a_bad_age(value):
    with pytest.raises(CommandError, match="is not a duration like 90d"):
        run("prune_logs", f"--older-than={value}")


# --- setup_schedules ----------------------------------------------------------------------


def test_setup_schedules_is_idempotent_and_corrects_drifted_schedules():
    Schedule.objects.all().delete()
    run("setup_schedules")
    first = dict(Schedule.objects.values_list("name", "func"))
    Schedule.objects.filter(name="ops: alert check").update(minutes=60)
    out = run("setup_schedules")
    assert dict(Schedule.objects.values_list("name", "func")) == first
    assert Schedule.objects.count() == len(first)  # nothing duplicated
    assert set(first.values()) >= {
        "sync.tasks.sweep",
        "ops.tasks.poll_due",
        "ops.tasks.reconcile_due",
        "ops.tasks.prune_logs",
        "ops.tasks.check_alerts",
    }
    assert Schedule.objects.get(name="ops: alert check").minutes == 5
    reconcile = Schedule.objects.get(name="ops: reconcile due connections")
    assert (reconcile.schedule_type, reconcile.minutes) == (Schedule.MINUTES, 1)
    assert "every 5 min" in out


def test_scheduled_tasks_run(workspace):
    from ops import tasks

    ConnectionFactory(workspace=workspace, dry_run=True, reconcile_due_at=timezone.now())
    assert tasks.reconcile_due() == 0  # dry-run connections send nothing, so are skipped
    assert tasks.poll_due() == 0
    assert tasks.prune_logs()["delivery attempts"] == 0
    assert tasks.check_alerts() == 0
    assert len(setup_schedules()) == Schedule.objects.count()


# --- alerts -------------------------------------------------------------------------------


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")


def fail_calls(conn, n: int, ok: int = 0) -> None:
    for i in range(n + ok):
        DeliveryAttempt.objects.create(
            connection=conn, method="PUT", path="/x", outcome="ok" if i < ok else "retryable"
        )


def test_an_error_rate_over_the_threshold_emails_the_admins_once(admin_user, workspace):
    conn = ConnectionFactory(workspace=workspace, name="Main CRM")
    fail_calls(conn, 8, ok=4)
    assert check_alerts() == 1
    assert mail.outbox[0].to == ["boss@example.com"]
    assert "Main CRM" in mail.outbox[0].subject and "8 of 12 calls failed" in mail.outbox[0].body
    assert check_alerts() == 0  # not repeated within ALERT_REPEAT_MINUTES
    assert len(mail.outbox) == 1


def test_dead_letters_over_the_threshold_alert(admin_user, workspace, settings):
    settings.ALERT_DEAD_LETTERS = 2
    conn = ConnectionFactory(workspace=workspace)
    contact = ContactFactory(workspace=workspace)
    OutboundChange.objects.filter(object_id=contact.pk).update(status=ChangeStatus.DEAD)
    assert check_alerts() == 0  # one dead row: below the threshold
    OutboundChange.objects.create(
        connection=conn, object_type="contact", object_id=contact.pk, status=ChangeStatus.DEAD
    )
    assert check_alerts() == 1 and "2 dead outbox rows" in mail.outbox[0].body


def test_few_calls_or_a_low_error_rate_do_not_alert(admin_user, workspace):
    conn = ConnectionFactory(workspace=workspace)
    fail_calls(conn, 5)  # below ALERT_MIN_ATTEMPTS
    other = ConnectionFactory(workspace=workspace)
    fail_calls(other, 2, ok=20)
    assert check_alerts() == 0 and not mail.outbox
