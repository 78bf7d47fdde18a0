"""Rows that point at a mirror record by (object_type, object_id) — outbox rows, delivery
attempts — named in the changelists by the record itself: its name, public id, a link to it
and to its timeline. One query per object type on the page, never one per row."""

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from sync.objects import mirror_model


def attach_records(rows: Iterable[Any], key=lambda row: row) -> None:
    """Set `row.record` (the mirror object, tombstones included; None if gone) on each row;
    `key(row)` gives the object carrying object_type and object_id (or None)."""
    rows = list(rows)
    wanted: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        ref = key(row)
        if ref is not None:
            wanted[ref.object_type].add(ref.object_id)
    found = {
        (object_type, obj.pk): obj
        for object_type, ids in wanted.items()
        for obj in mirror_model(object_type).objects.filter(pk__in=ids)
    }
    for row in rows:
        ref = key(row)
        row.record = found.get((ref.object_type, ref.object_id)) if ref is not None else None


def record_cell(record, object_type: str = "", object_id: int | None = None) -> SafeString | str:
    """“Contact Ada Lovelace · ct_… · timeline”, linked; a missing record by its number."""
    if record is None:
        return f"{object_type} #{object_id} (gone)" if object_id else "-"
    opts = record._meta
    change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[record.pk])
    timeline = reverse("record_timeline", args=[opts.model_name, record.pk])
    deleted = " (deleted)" if record.deleted_at else ""
    return format_html(
        '<span class="record-cell"><a href="{}">{} {}</a>{}<br><span class="muted">{}</span>'
        '<br><a href="{}" class="muted">timeline</a></span>',
        change, opts.verbose_name.capitalize(), record, deleted, record.public_id, timeline,
    )  # fmt: skip
