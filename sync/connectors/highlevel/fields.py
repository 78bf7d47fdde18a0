"""Default field maps of the CRM (HighLevel API v2), per object type (see
sync/mapping/mapper.py)."""

from sync.mapping.specs import CUSTOM_FIELDS, REFERENCE, FieldSpec

DATE_ONLY = "%Y-%m-%d"

CONTACT = [
    FieldSpec("first_name", "firstName"),
    FieldSpec("last_name", "lastName"),
    FieldSpec("email", "email", transform="strip"),
    FieldSpec("phone", "phone", transform="e164"),
    FieldSpec("gender", "gender"),
    FieldSpec("company_name", "companyName"),
    FieldSpec("address1", "address1"),
    FieldSpec("city", "city"),
    FieldSpec("state", "state"),
    FieldSpec("postal_code", "postalCode"),
    FieldSpec("country", "country"),
    FieldSpec("website", "website"),
    FieldSpec("timezone", "timezone"),
    FieldSpec("dnd", "dnd"),
    FieldSpec("source", "source"),
    FieldSpec("date_of_birth", "dateOfBirth", transform="date", argument=DATE_ONLY),
    FieldSpec("tags", "tags"),
    FieldSpec("custom_fields", "customFields", transform=CUSTOM_FIELDS),
    FieldSpec("assigned_user", "assignedTo", transform=REFERENCE),
    # Not in the create/update DTOs: sent with POST /contacts/bulk/business (highlevel.py).
    FieldSpec("business_id", "businessId"),
]
USER = [
    FieldSpec("first_name", "firstName"),
    FieldSpec("last_name", "lastName"),
    FieldSpec("email", "email"),
    FieldSpec("phone", "phone", transform="e164"),
    # The users API answers role, type and location ids nested under `roles` (UserSchema) and
    # takes them at the top level (CreateUserDto, UpdateUserDto): read there, write here.
    FieldSpec("type", "roles.type", direction="in"),
    FieldSpec("role", "roles.role", direction="in"),
    FieldSpec("location_ids", "roles.locationIds", direction="in"),
    FieldSpec("type", "type", direction="out"),
    FieldSpec("role", "role", direction="out"),
    FieldSpec("location_ids", "locationIds", direction="out"),
]
TASK = [
    FieldSpec("title", "title"),
    FieldSpec("body", "body"),
    FieldSpec("due_date", "dueDate", transform="date"),
    FieldSpec("completed", "completed"),
    FieldSpec("assigned_user", "assignedTo", transform=REFERENCE),
]
NOTE = [
    FieldSpec("body", "body"),
    FieldSpec("author", "userId", transform=REFERENCE),
]
APPOINTMENT = [
    FieldSpec("calendar_id", "calendarId"),
    FieldSpec("title", "title"),
    FieldSpec("status", "appointmentStatus"),
    FieldSpec("start_time", "startTime", transform="date"),
    FieldSpec("end_time", "endTime", transform="date"),
    FieldSpec("address", "address"),
    FieldSpec("notes", "description"),
    FieldSpec("assigned_user", "assignedUserId", transform=REFERENCE),
    FieldSpec("contact", "contactId", transform=REFERENCE),
]

DEFAULT_MAPPINGS = {
    "contact": CONTACT,
    "user": USER,
    "task": TASK,
    "note": NOTE,
    "appointment": APPOINTMENT,
}

# How the CRM's update DTOs take "empty" (tests/specs/highlevel/apps/*.json): null where the
# property is nullable (UpdateContactDto; companyName is nullable in CreateContactDto and
# absent from the update schema), [] for lists, "" for every other string (tasks, notes,
# appointments and users declare no nullable property).
NULLABLE_ON_UPDATE = {
    "contact": frozenset(
        {
            "firstName",
            "lastName",
            "email",
            "phone",
            "companyName",
            "address1",
            "city",
            "state",
            "website",
            "timezone",
            "source",
            "dateOfBirth",
            "assignedTo",
        }
    ),
}
LIST_FIELDS = frozenset({"tags", "locationIds", "customFields"})


def clear_value(object_type: str, remote_path: str) -> str | list | None:
    if remote_path in NULLABLE_ON_UPDATE.get(object_type, ()):
        return None
    return [] if remote_path in LIST_FIELDS else ""
