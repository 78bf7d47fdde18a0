"""The shipped REST presets gain their list and get reads and the store's webhook signature."""

from django.db import migrations


def load_shipped_presets(apps, schema_editor):
    from sync.presets import load_presets

    load_presets(apps.get_model("sync", "RestPreset"))


class Migration(migrations.Migration):
    dependencies = [("sync", "0010_connection_dry_run")]

    operations = [migrations.RunPython(load_shipped_presets, migrations.RunPython.noop)]
