"""Inbound events lose the (event_type, -received_at) index: one index fewer to write on every
delivery the intake stores.

Its only reader was the admin's "event type" filter, whose changelist is ordered by the newest
first: the planner reads `inbound_received` in that order and keeps the rows of the chosen type
(a page needs 100 of them; tests/sync/webhooks/test_event_indexes.py checks the plan).
Dropping an index is quick on PostgreSQL and SQLite alike; going back creates it again.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0015_connection_indexes_covered_by_composites"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="inboundevent", name="inbound_type"),
    ]
