import pytest
from django.core.exceptions import ValidationError

from contacts.normalize import normalize_email, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Jane.Doe@Example.COM ", "Jane.Doe@example.com"),
        ("info@Bücher.de", "info@xn--bcher-kva.de"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize_email(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw", ["not-an-email", "a@", "@example.com", "a b@example.com", "x@-.com"]
)
def test_invalid_email_is_refused(raw):
    with pytest.raises(ValidationError):
        normalize_email(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(555) 010-0000", "+15550100000"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+1-555-010-0000", "+15550100000"),
        ("", ""),
    ],
)
def test_normalize_phone_to_e164(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12", "phone", "+1 555"])
def test_invalid_phone_is_refused(raw):
    with pytest.raises(ValidationError):
        normalize_phone(raw)
