"""E-mail and phone normalisation: what the mirror stores, and what lookups compare."""

import collections
import contextlib
import functools

import idna
import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

INVALID_EMAIL = "Enter a valid e-mail address."
INVALID_PHONE = "Enter a valid phone number, ideally with its country code (+1 555 010 0000)."


def normalize_email(value: str | None) -> str:
    """Trimmed, domain lower-cased and IDNA-encoded; the local part is kept as given."""
    value = (value or "").strip()
    if not value:
        return ""
    return _normalized_email(value)


def is_valid_normalized_email(value: str) -> bool:
    """Whether `value` came out of normalize_email lately: it passed Django's validate_email
    as it is, so validating it again (the model field's check) would pass too."""
    return value in _VALIDATED_EMAILS


# normalize_email's latest results (bounded; read by contacts/plain_fields.py).
_VALIDATED_EMAILS: collections.OrderedDict[str, None] = collections.OrderedDict()
_VALIDATED_EMAILS_KEPT = 4096


def _remember_valid_email(email: str) -> None:
    _VALIDATED_EMAILS[email] = None
    if len(_VALIDATED_EMAILS) > _VALIDATED_EMAILS_KEPT:
        with contextlib.suppress(KeyError):  # another thread removed the oldest first
            _VALIDATED_EMAILS.popitem(last=False)


# A bulk write normalises each row's e-mail twice (the page's taken e-mails, then the row);
# refusals raise, so are not cached.
@functools.lru_cache(maxsize=1024)
def _normalized_email(value: str) -> str:
    local, sep, domain = value.rpartition("@")
    if not sep or not local or not domain:
        raise ValidationError(INVALID_EMAIL, code="invalid_email")
    try:
        ascii_domain = _ascii_domain(domain.rstrip("."))
    except idna.IDNAError as exc:
        raise ValidationError(INVALID_EMAIL, code="invalid_email") from exc
    email = f"{local}@{ascii_domain}"
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError(INVALID_EMAIL, code="invalid_email") from exc
    _remember_valid_email(email)
    return email


# Many addresses share a domain, and IDNA encoding is the costly part of a backfill's e-mail
# normalisation; refusals raise, so are not cached.
@functools.lru_cache(maxsize=4096)
def _ascii_domain(domain: str) -> str:
    return idna.encode(domain, uts46=True).decode("ascii").lower()


def email_key(email: str) -> str:
    """The case-insensitive form used to find a person by e-mail."""
    return email.lower()


def normalize_phone(value: str | None, region: str | None = None) -> str:
    """E.164 (`+15550100000`); numbers without a prefix are read in DEFAULT_PHONE_REGION."""
    value = (value or "").strip()
    if not value:
        return ""
    return _e164(value, region or settings.DEFAULT_PHONE_REGION)


# A record's phone is normalised more than once on its way in (mapping, then the write path) and
# parsing is the costly part of a backfill's per-record work; refusals raise, so are not cached.
@functools.lru_cache(maxsize=4096)
def _e164(value: str, region: str) -> str:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(INVALID_PHONE, code="invalid_phone") from exc
    if not phonenumbers.is_possible_number(number):
        raise ValidationError(INVALID_PHONE, code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
