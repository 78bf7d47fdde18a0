"""`rotate_fernet`: re-encrypt every stored secret with the newest of FERNET_KEYS."""

from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction

from sync.transport.crypto import SecretDecryptionError, encrypted_fields


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first (newest) key of FERNET_KEYS."

    def handle(self, *args, **options) -> None:
        total = 0
        try:
            for model, field_name in encrypted_fields():
                total += rotate_column(model, field_name)
        except SecretDecryptionError as exc:
            raise CommandError(f"{exc} Nothing after that row was rotated.") from exc
        self.stdout.write(f"Re-encrypted {total} secret(s) with the newest key.")


def rotate_column(model: type[models.Model], field_name: str) -> int:
    """Each row is read (decrypted with any key) and written back (encrypted with the first)."""
    rotated = 0
    for pk in model.objects.values_list("pk", flat=True).iterator():
        with transaction.atomic():
            row = model.objects.select_for_update().only("pk", field_name).get(pk=pk)
            model.objects.filter(pk=pk).update(**{field_name: getattr(row, field_name)})
            rotated += 1
    return rotated
