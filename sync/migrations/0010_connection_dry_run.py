"""The connection flag `sandbox` means "record what would be sent, send nothing": it is now
called `dry_run` (the sandbox is the stand-in CRM). Attempts recorded as "sandbox" become
"dry_run"; the column keeps its values across the rename."""

from django.db import migrations, models


def outcome_renamed(old: str, new: str):
    def run(apps, schema_editor):
        apps.get_model("sync", "DeliveryAttempt").objects.filter(outcome=old).update(outcome=new)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0009_automations"),
    ]

    operations = [
        migrations.RenameField(model_name="connection", old_name="sandbox", new_name="dry_run"),
        migrations.AlterField(
            model_name="connection",
            name="dry_run",
            field=models.BooleanField(
                default=False,
                help_text="Record what would be sent and send nothing.",
                verbose_name="dry run",
            ),
        ),
        migrations.AlterField(
            model_name="deliveryattempt",
            name="outcome",
            field=models.CharField(
                choices=[
                    ("ok", "OK"),
                    ("retryable", "Retryable error"),
                    ("permanent", "Permanent error"),
                    ("dry_run", "Dry run (not sent)"),
                ],
                max_length=16,
            ),
        ),
        migrations.RunPython(
            outcome_renamed("sandbox", "dry_run"), outcome_renamed("dry_run", "sandbox")
        ),
    ]
