"""The poll and reconcile on the connection page: their intervals (editable) and due times,
and the connection's poll checkpoints (one per polled type). The dashboard's "Polls failing"
panel is ops/dashboard.py's."""

from datetime import timedelta

from django.template.loader import render_to_string
from django.utils import timezone

from ops.models import PollCheckpoint
from sync.admin import ConnectionForm
from sync.models import Connection

SCHEDULE_FIELDS = ("poll_interval_minutes", "reconcile_interval_hours")


class ConnectionScheduleForm(ConnectionForm):
    """The connection form with its intervals; left out of a submission, they keep their value
    (the connection's, or the defaults for a new one)."""

    class Meta(ConnectionForm.Meta):
        fields = (*ConnectionForm.Meta.fields, *SCHEDULE_FIELDS)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in SCHEDULE_FIELDS:
            if name in self.fields:  # a viewer's form has none (read-only)
                self.fields[name].required = False

    def clean_poll_interval_minutes(self) -> int:
        return self._kept("poll_interval_minutes")

    def clean_reconcile_interval_hours(self) -> int:
        return self._kept("reconcile_interval_hours")

    def _kept(self, name: str) -> int:
        value = self.cleaned_data.get(name)
        return getattr(self.instance, name) if value is None else value


def reschedule(connection: Connection, changed: list[str]) -> None:
    """A change takes effect now: any change makes the poll due at once (what it may read may
    have changed); a new reconcile interval counts from now (not at once: it lists all)."""
    now = timezone.now()
    if changed:
        connection.poll_due_at = now
    if "reconcile_interval_hours" in changed:
        connection.reconcile_due_at = now + timedelta(hours=connection.reconcile_interval_hours)


def poll_status_html(connection: Connection) -> str:
    checkpoints = list(PollCheckpoint.objects.filter(connection=connection))
    return render_to_string(
        "admin/ops/poll_status.html", {"connection": connection, "checkpoints": checkpoints}
    )
