"""Outbox rows learn when their change reached the portal (`changed_at`): the push's quiet period
counts from it (sync/engine/outbox.py)."""

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F


def waiting_rows_changed_when_created(apps, schema_editor):
    """Rows still waiting count their quiet period from their creation, as before. Finished
    rows keep the migration's time: nothing reads it of them (no rewrite of a long history)."""
    OutboundChange = apps.get_model("sync", "OutboundChange")
    waiting = OutboundChange.objects.filter(status__in=["pending", "retrying", "in_flight"])
    waiting.update(changed_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0016_inbound_event_without_event_type_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboundchange",
            name="changed_at",
            field=models.DateTimeField(
                default=django.utils.timezone.now,
                help_text="When the change reached the portal; the push's quiet period counts from it.",
            ),
        ),
        migrations.RunPython(waiting_rows_changed_when_created, migrations.RunPython.noop),
    ]
