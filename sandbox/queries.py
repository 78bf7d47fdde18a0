"""Contact listing: ``GET /contacts/`` cursor paging and ``POST /contacts/search``.

Ordering is (dateAdded, id) ascending for ``GET /contacts/`` so that the cursor
``startAfter`` (dateAdded in epoch ms) + ``startAfterId`` returns every contact exactly
once, even when many share the same millisecond (ties are broken by id).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from . import contacts
from .core import Core
from .store import SORT_COLUMNS, PageQuery
from .util import ApiError, check_body, digits, ms_from_iso

MAX_LIST_LIMIT = 100
MAX_SEARCH_LIMIT = 500


def _int_param(value: Any, name: str, default: int | None) -> int | None:
    if value is None or value == "":
        return default
    try:
        return int(float(value))
    except (TypeError, ValueError):
        raise ApiError(422, [f"{name} must be a number"]) from None


def list_contacts(core: Core, params: dict[str, str], base_url: str) -> dict[str, Any]:
    """``GET /contacts/``: ``{"contacts": [...], "meta": {...}}`` with cursor paging."""
    location_id = params.get("locationId")
    if not location_id:
        raise ApiError(422, ["locationId should not be empty"])
    limit = _int_param(params.get("limit"), "limit", 20) or 20
    if limit > MAX_LIST_LIMIT or limit < 1:
        raise ApiError(422, [f"limit must not be greater than {MAX_LIST_LIMIT}"])
    after = _cursor(core, params)
    q = PageQuery(contacts.KIND, location_id, limit, after=after, text=params.get("query"))
    rows, total, before = core.store.page(q)
    current = before // limit + 1
    has_more = before + len(rows) < total
    # As the CRM does: a field with no value is left out (only prevPage is nullable in the
    # spec), so an empty page has no startAfterId and the last page no nextPage/nextPageUrl.
    meta: dict[str, Any] = {
        "total": total,
        "currentPage": current,
        "prevPage": current - 1 if current > 1 else None,
    }
    if rows:
        last = rows[-1]
        meta["startAfter"] = ms_from_iso(last["dateAdded"])
        meta["startAfterId"] = last["id"]
    if has_more:
        query = {k: v for k, v in params.items() if k not in ("startAfter", "startAfterId")}
        query |= {"startAfter": meta["startAfter"], "startAfterId": meta["startAfterId"]}
        meta["nextPage"] = current + 1
        meta["nextPageUrl"] = f"{base_url}/contacts/?{urlencode(query)}"
    return {"contacts": [contacts.serialize(r) for r in rows], "meta": meta}


def _cursor(core: Core, params: dict[str, str]) -> tuple[int, str] | None:
    start_after = _int_param(params.get("startAfter"), "startAfter", None)
    start_after_id = params.get("startAfterId") or ""
    if start_after is None and start_after_id:
        # Only an id given: continue after that contact's own position.
        record = core.store.get(contacts.KIND, start_after_id)
        if record is None:
            raise ApiError(400, "startAfterId is not a valid contact id")
        start_after = ms_from_iso(record["dateAdded"])
    if start_after is None:
        return None
    return start_after, start_after_id


def search_contacts(core: Core, body: Any) -> dict[str, Any]:
    """``POST /contacts/search``: ``{"contacts": [...], "total": n}``.

    Supports ``pageLimit``, ``page``, ``searchAfter`` (from the last contact's
    ``searchAfter``), ``query``, ``sort`` on dateAdded/dateUpdated and ``filters`` of the
    forms ``{"field": "dateUpdated", "operator": "range", "value": {"gte": iso}}``,
    ``{"field": "dateAdded", "operator": "gte", "value": iso}`` and
    ``{"field": "email"|"phone"|"id", "operator": "eq", "value": ...}``.
    """
    body = check_body(body, {"locationId": "str"}, {"filters": "list", "sort": "list"})
    limit = _int_param(body.get("pageLimit"), "pageLimit", 20) or 20
    if limit > MAX_SEARCH_LIMIT or limit < 1:
        raise ApiError(422, [f"pageLimit must not be greater than {MAX_SEARCH_LIMIT}"])
    page = _int_param(body.get("page"), "page", 1) or 1
    sort, desc = _sort(body.get("sort") or [])
    q = PageQuery(contacts.KIND, body["locationId"], limit, sort=sort, desc=desc)
    q.text = body.get("query") or None
    _apply_filters(q, body.get("filters") or [])
    search_after = body.get("searchAfter")
    if search_after:
        if not isinstance(search_after, list) or len(search_after) != 2:
            raise ApiError(422, ["searchAfter must be an array of [sortValue, id]"])
        q.after = (_int_param(search_after[0], "searchAfter", 0) or 0, str(search_after[1]))
    else:
        q.offset = (page - 1) * limit
    rows, total, _ = core.store.page(q)
    out = []
    for row in rows:
        item = contacts.serialize(row)
        item["searchAfter"] = [ms_from_iso(row[sort]), row["id"]]
        out.append(item)
    return {"contacts": out, "total": total}


def _sort(sort: list[Any]) -> tuple[str, bool]:
    if not sort:
        return "dateAdded", False
    first = sort[0] if isinstance(sort[0], dict) else {}
    field_name = first.get("field")
    if field_name not in SORT_COLUMNS:
        raise ApiError(422, [f"sort field must be one of {sorted(SORT_COLUMNS)}"])
    return field_name, str(first.get("direction", "asc")).lower() == "desc"


def _apply_filters(q: PageQuery, filters: list[Any]) -> None:
    for i, item in enumerate(filters):
        if not isinstance(item, dict):
            raise ApiError(422, [f"filters.{i} must be an object"])
        field_name, op, value = item.get("field"), item.get("operator"), item.get("value")
        if field_name in SORT_COLUMNS and op == "range" and isinstance(value, dict):
            for sub_op, sub_value in value.items():
                _add_range(q, i, field_name, sub_op, sub_value)
        elif field_name in SORT_COLUMNS and op in ("gt", "gte", "lt", "lte"):
            _add_range(q, i, field_name, op, value)
        elif field_name in ("email", "phone", "id") and op == "eq" and isinstance(value, str):
            normal = {"email": value.lower(), "phone": digits(value), "id": value}
            q.equals[field_name] = normal[field_name]
        else:
            raise ApiError(422, [f"filters.{i}: unsupported filter {field_name} {op}"])


def _add_range(q: PageQuery, i: int, field_name: str, op: str, value: Any) -> None:
    ms = ms_from_iso(value)
    if op not in ("gt", "gte", "lt", "lte") or ms is None:
        raise ApiError(422, [f"filters.{i}: value must be a date for {op}"])
    q.ranges.append((field_name, op, ms))


def find_duplicate(core: Core, params: dict[str, str]) -> dict[str, Any]:
    """``GET /contacts/search/duplicate``: ``{"contact": {...}}`` or ``{"contact": null}``."""
    location_id = params.get("locationId")
    if not location_id:
        raise ApiError(422, ["locationId should not be empty"])
    record, _ = core.store.find_duplicate(location_id, params.get("email"), params.get("number"))
    return {"contact": contacts.serialize(record) if record else None}
