from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0005_idempotency_per_workspace_allow_duplicate_contacts"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditentry",
            name="action",
            field=models.CharField(
                choices=[
                    ("create", "Create"),
                    ("update", "Update"),
                    ("delete", "Delete"),
                    ("refuse", "Refused"),
                    ("erase", "Erase personal data"),
                ],
                max_length=16,
            ),
        ),
    ]
