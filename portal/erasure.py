"""Scrubbing personal values out of stored text (erasure of a person's data).

    scrub_text(text, values) -> str
    scrub_rows(queryset, fields, values) -> int        rows changed (text and JSON fields)

Erasure knows which rows are about the person (their audit entries, their pushes) and blanks
those whole; these helpers catch the rest — a value of the person quoted in a log excerpt of
another row (a backfill page, a lookup) — by scanning for the values themselves. A scan reads
the whole table: erasures are rare, and completeness matters more than speed here.
"""

import json
import re
from collections.abc import Iterable
from typing import Any

from django.db import models
from django.db.models import Q

ERASED = "[erased]"
MIN_LENGTH = 3  # shorter values would match inside unrelated words


def search_terms(values: Iterable[Any]) -> list[str]:
    """The values as they can appear in stored text: plain and JSON-escaped (é → \\u00e9)."""
    terms: set[str] = set()
    for value in values:
        text = str(value or "").strip()
        if len(text) >= MIN_LENGTH:
            terms.add(text)
            terms.add(json.dumps(text)[1:-1])
    return sorted(terms, key=len, reverse=True)  # longest first: "Ann Lee" before "Ann"


def scrub_text(text: str, terms: list[str]) -> str:
    for term in terms:
        text = re.sub(re.escape(term), ERASED, text, flags=re.IGNORECASE)
    return text


def _scrub_value(value: Any, terms: list[str], is_json: bool) -> Any:
    if not is_json:
        return scrub_text(value or "", terms)
    text = scrub_text(json.dumps(value, ensure_ascii=False), terms)
    try:
        return json.loads(text)
    except ValueError:
        return {"erased": True}


def scrub_rows(queryset: models.QuerySet, fields: Iterable[str], terms: list[str]) -> int:
    """Replace every term in these text or JSON fields of the queryset's rows."""
    fields = list(fields)
    if not terms or not fields:
        return 0
    condition = Q()
    for name in fields:
        for term in terms:
            condition |= Q(**{f"{name}__icontains": term})
    model = queryset.model
    json_fields = {n for n in fields if isinstance(model._meta.get_field(n), models.JSONField)}
    changed = 0
    for row in queryset.filter(condition).only("pk", *fields).iterator():
        updates = {n: _scrub_value(getattr(row, n), terms, n in json_fields) for n in fields}
        model.objects.filter(pk=row.pk).update(**updates)
        changed += 1
    return changed
