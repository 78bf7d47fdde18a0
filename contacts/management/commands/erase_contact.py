"""`erase_contact ct_… --yes [--by WHO]`: erase a contact's personal data (contacts/erasure.py)."""

from django.core.management.base import BaseCommand, CommandError

from contacts.erasure import contact_erase
from contacts.models import Contact
from portal.actors import Actor


class Command(BaseCommand):
    help = (
        "Erase a contact's personal data from the portal (its row, tasks, notes, appointments, "
        "audit entries, delivery excerpts and webhook bodies) and delete it at every "
        "connection. A tombstone without personal data stays; the audit records the erasure."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("contact", help="the contact's public id (ct_…)")
        parser.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
        parser.add_argument("--by", default="", help="who asked for it (recorded in the audit)")

    def handle(self, *args, **options) -> None:
        contact = Contact.objects.filter(public_id=options["contact"]).first()
        if contact is None:
            raise CommandError(f"No contact {options['contact']!r}.")
        if not options["yes"]:
            raise CommandError(f"Erasing {contact.public_id} cannot be undone: add --yes.")
        label = "erase_contact" + (f" (for {options['by']})" if options["by"] else "")
        contact_erase(contact, actor=Actor.system(label[:200], source="command"))
        self.stdout.write(
            f"Erased {contact.public_id}: personal data scrubbed; deletes queued for every "
            "connection holding it."
        )
