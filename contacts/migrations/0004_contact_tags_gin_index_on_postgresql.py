"""The `tag` filter of the partner API (`tags @> '["vip"]'`) through a GIN index on PostgreSQL.

Without it each tag query read every contact of the workspace (≈ 20 ms at 100,000). GIN is
PostgreSQL's only: on SQLite the filter reads `json_each` and there is no index to create, so the
index is not in the models' state (a table rebuilt by a later SQLite migration would try to
create it there) and this migration does nothing elsewhere. `jsonb_path_ops` serves `@>` only,
which is all the filter uses, and is smaller and faster to update than the default opclass.
"""

from django.db import migrations

INDEX = "ct_tags"


def create_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON contacts_contact USING gin (tags jsonb_path_ops)"
        )


def drop_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0003_contact_business_id")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
