"""What every signed webhook we receive is checked against, whatever its signature scheme.

    SignatureError(code, message)       a delivery not proven to come from its sender (401)
    check_timestamp(moment)             within WEBHOOK_TOLERANCE_SECONDS, both ways
    parse_timestamp(value) -> datetime  ISO 8601 or Unix seconds/milliseconds; None if unreadable
    is_unix_digits(text) -> bool        1-12 ASCII digits

Every check works on the raw body bytes, exactly as received.
"""

import re
import time
from datetime import UTC, datetime

from django.conf import settings

# Unix seconds or milliseconds as sent: ASCII digits only ("²".isdigit() is True, and int() of
# thousands of digits raises), at most 12 so the number stays a plausible moment.
_UNIX_DIGITS = re.compile(r"[0-9]{1,12}", re.ASCII)


class SignatureError(Exception):
    """A delivery that is not proven to come from its sender (answered 401)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_timestamp(moment: datetime | None, *, now: float | None = None) -> None:
    """Refuse a missing timestamp, or one further than the tolerance in the past or future."""
    if moment is None:
        raise SignatureError("invalid_timestamp", "The delivery carries no valid timestamp.")
    skew = (now if now is not None else time.time()) - moment.timestamp()
    if abs(skew) > settings.WEBHOOK_TOLERANCE_SECONDS:
        direction = "old" if skew > 0 else "far in the future"
        raise SignatureError(
            "timestamp_out_of_tolerance",
            f"The delivery's timestamp is too {direction} ({abs(skew):.0f} s; "
            f"tolerance {settings.WEBHOOK_TOLERANCE_SECONDS} s).",
        )


def parse_timestamp(value: object) -> datetime | None:
    """ISO 8601 text or Unix seconds/milliseconds → aware datetime (None if unreadable)."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            seconds = value / 1000 if value > 1e11 else value
            return datetime.fromtimestamp(seconds, tz=UTC)
        if isinstance(value, str) and value.strip():
            text = value.strip()
            if text.isdigit():  # any Unicode digit: only 1-12 ASCII ones are a moment
                return parse_timestamp(int(text)) if is_unix_digits(text) else None
            parsed = datetime.fromisoformat(text)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def is_unix_digits(text: str) -> bool:
    return _UNIX_DIGITS.fullmatch(text) is not None
