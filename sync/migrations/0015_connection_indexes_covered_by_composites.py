"""Outbox rows and delivery attempts lose the index Django gives a foreign key by default.

Each is covered by composite indexes leading with the connection (outbox: obx_conn_id,
obx_conn_status, obx_record; attempts: att_conn_created), and every index is one more to write
on each insert, claim and outcome. Only the index is dropped: Django's AlterField would also
drop and re-add the foreign key, validating the whole table under lock.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {
    "sync_outboundchange": "sync_outboundchange_connection_id_d8cd5f69",
    "sync_deliveryattempt": "sync_deliveryattempt_connection_id_c7fc494b",
}


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0014_link_snapshot_stored_form_help"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="deliveryattempt",
                    name="connection",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="attempts",
                        to="sync.connection",
                    ),
                ),
                migrations.AlterField(
                    model_name="outboundchange",
                    name="connection",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="outbound_changes",
                        to="sync.connection",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{index}"',
                    reverse_sql=f'CREATE INDEX "{index}" ON "{table}" ("connection_id")',
                )
                for table, index in INDEXES.items()
            ],
        )
    ]
