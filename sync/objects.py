"""The object types the sync layer moves, and how they map to the mirror models."""

from django.db import models

from contacts.models import Appointment, Contact, CrmUser, MirrorModel, Note, Task


class ObjectType(models.TextChoices):
    USER = "user", "User"
    CONTACT = "contact", "Contact"
    TASK = "task", "Task"
    NOTE = "note", "Note"
    APPOINTMENT = "appointment", "Appointment"


# Not a mirror record: an outbox row of this type forwards a partner's courses export to the
# CRM (sync/partner_api.py); its `action` holds the payload.
COURSES_IMPORT = "courses_import"


MODEL_BY_TYPE: dict[str, type[MirrorModel]] = {
    ObjectType.USER: CrmUser,
    ObjectType.CONTACT: Contact,
    ObjectType.TASK: Task,
    ObjectType.NOTE: Note,
    ObjectType.APPOINTMENT: Appointment,
}
TYPE_BY_MODEL: dict[type[MirrorModel], str] = {
    model: object_type for object_type, model in MODEL_BY_TYPE.items()
}


def object_type_of(instance: MirrorModel) -> str:
    """The ObjectType value of a mirror instance (KeyError for anything else)."""
    return TYPE_BY_MODEL[type(instance)]


def mirror_model(object_type: str) -> type[MirrorModel]:
    try:
        return MODEL_BY_TYPE[object_type]
    except KeyError:
        raise ValueError(f"Unknown object type {object_type!r}.") from None
