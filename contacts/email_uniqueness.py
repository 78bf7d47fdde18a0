"""E-mail uniqueness per workspace (Workspace.allow_duplicate_contacts, mirroring the CRM's
"Allow duplicate contact"): a live contact of a workspace without duplicates holds its e-mail
key in `Contact.unique_email_key`, and a unique index on it is the rule — also when two writers
race. The write path (contacts.services) derives the column and calls these helpers."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from contacts.models import Contact, MirrorModel
from contacts.normalize import email_key, normalize_email
from portal.models import Workspace


def unique_email_key(contact: Contact) -> str | None:
    """What the unique index holds for this contact: its e-mail key, or NULL (no rule)."""
    unique = not contact.is_deleted and not contact.workspace.allow_duplicate_contacts
    return contact.email_key if unique and contact.email_key else None


DUPLICATE_EMAIL = "Another contact of this workspace has this e-mail (duplicates are not allowed)."


class DuplicateEmail(ValidationError):
    """A second live contact with an e-mail its workspace allows once (the database said so)."""

    def __init__(self, existing_id: str | None = None) -> None:
        super().__init__({"email": [DUPLICATE_EMAIL]}, code="duplicate")
        self.existing_id = existing_id


@contextmanager
def duplicate_email_refused(instance: MirrorModel) -> Iterator[None]:
    """The unique index on `unique_email_key` is the rule; this turns its refusal (also of a
    concurrent create) into a DuplicateEmail naming the contact that holds the e-mail."""
    try:
        yield
    except IntegrityError as exc:
        if not isinstance(instance, Contact) or "unique_email" not in str(exc):
            raise
        if transaction.get_connection().needs_rollback:
            # Refused in a caller's transaction, without a savepoint to roll back to: nothing
            # more can be asked in it (`refuse_taken_email` asked first; a writer just won).
            raise DuplicateEmail() from exc
        raise DuplicateEmail(_holder(instance, email_key(instance.email))) from exc


def refuse_taken_email(contact: MirrorModel, *, held: str | None) -> None:
    """For a write without a savepoint (in a caller's transaction): whether the e-mail the
    contact is about to take, if it is not the one it `held`, is another contact's — asked
    before the unique index refuses it, since afterwards the transaction answers nothing."""
    key = getattr(contact, "unique_email_key", None)
    if key and key != held and (holder := _holder(contact, key)):
        raise DuplicateEmail(holder)


def _holder(contact: MirrorModel, key: str) -> str | None:
    """The public id of the contact of `contact`'s workspace holding the e-mail key."""
    holders = Contact.objects.filter(workspace_id=contact.workspace_id, unique_email_key=key)
    return holders.values_list("public_id", flat=True).first()


def taken_email_keys(model: type[MirrorModel], workspace: Workspace, rows: Sequence) -> set[str]:
    """The e-mail keys already held in the workspace, among those of `rows` (one query)."""
    if model is not Contact or workspace.allow_duplicate_contacts:
        return set()
    keys = set()
    for row in rows:
        try:
            keys.add(email_key(normalize_email(row.data.get("email"))))
        except ValidationError:
            continue
    existing = Contact.objects.filter(workspace=workspace, unique_email_key__any_of=keys - {""})
    return set(existing.values_list("unique_email_key", flat=True))


def claim_email_key(instance: MirrorModel, taken: set[str]) -> None:
    """A bulk row whose e-mail is taken (in the database or earlier in the batch) is refused
    alone, instead of failing the whole INSERT."""
    key = getattr(instance, "unique_email_key", None)
    if key is None:
        return
    if key in taken:
        raise DuplicateEmail()
    taken.add(key)


def workspace_set_allow_duplicate_contacts(*, workspace: Workspace, allow: bool) -> None:
    """Switch the workspace's e-mail uniqueness. Turning it on is refused (ValidationError,
    listing the e-mails) while live contacts share an e-mail: merge or delete them first."""
    with transaction.atomic():
        locked = Workspace.objects.select_for_update().get(pk=workspace.pk)
        contacts = Contact.objects.filter(workspace=locked)
        if allow:
            contacts.update(unique_email_key=None)
        else:
            live = contacts.live().exclude(email_key="")
            shared = (
                live.values("email_key")
                .annotate(n=models.Count("id"))
                .filter(n__gt=1)
                .values_list("email_key", flat=True)
            )
            if shared:
                raise ValidationError(
                    {"allow_duplicate_contacts": [f"Shared e-mails: {', '.join(shared[:20])}."]}
                )
            live.update(unique_email_key=models.F("email_key"))
        Workspace.objects.filter(pk=locked.pk).update(allow_duplicate_contacts=allow)
    workspace.allow_duplicate_contacts = allow
