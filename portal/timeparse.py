"""Times and durations as operators type them: `2026-01-31T00:00:00Z`, `7d`, `12h`, `30m`."""

import re
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

_DURATION = re.compile(r"^\s*(\d+)\s*([dhm])\s*$", re.I)
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_duration(text: str) -> timedelta:
    """`90d`, `12h`, `30m` → timedelta; ValueError otherwise."""
    match = _DURATION.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration like 90d, 12h or 30m.")
    return timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})


def parse_since(text: str) -> datetime:
    """An aware time: ISO 8601 (naive = UTC), a date, or a duration back from now."""
    if _DURATION.match(text or ""):
        return timezone.now() - parse_duration(text)
    try:
        parsed = parse_datetime(text)
        if parsed is None and parse_date(text) is not None:
            parsed = datetime.combine(parse_date(text), datetime.min.time())
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError(f"{text!r} is not an ISO 8601 time (or a duration like 7d).")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
