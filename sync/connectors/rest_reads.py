"""What the generic REST connector reads from a partner: list pages and one record.

Configured per object type in the connection's options (validated when saved:
sync/models/presets.py `validate_reads`):

    "contact": {
      "list": {"path": "/api/contacts", "params": {"limit": "100"},
               "cursor_param": "cursor", "next_cursor_path": "meta.next",      (cursor paging)
               "updated_since_param": "updatedSince",                         (incremental)
               "items_path": "data", "id_path": "id", "updated_at_path": "updatedAt"},
      "get":  {"path": "/api/contacts/{id}", "record_path": "data"}}

Our cursor (`fetch_page(type, cursor)`) is a dict: {"cursor": <the partner's next cursor>}
and/or {"updatedSince": "<ISO 8601>"}. Without a cursor parameter the listing pages by time:
the next page asks for records updated since the page's newest one (inclusive, so the records
at that moment come again and are unchanged), and the listing ends when a page adds no newer
record. Items are returned raw; their mirror values come from the connection's FieldMapping
rows (direction in/both), applied by the one inbound path.
"""

from datetime import datetime
from typing import Any

from sync.connectors.base import Page
from sync.mapping.paths import dig
from sync.transport.http import RemoteError
from sync.transport.webhook_checks import parse_timestamp

LIST, GET = "list", "get"
DEFAULT_ID_PATH = "id"


class RestReads:
    """Mixed into the REST connector (it provides `config`, `call` and `unsupported`)."""

    @property
    def listable_types(self) -> frozenset[str]:
        return frozenset(t for t in self._objects() if self._read_op(t, LIST))

    @property
    def incremental_types(self) -> frozenset[str]:
        return frozenset(
            t for t in self.listable_types if self._read_op(t, LIST).get("updated_since_param")
        )

    @property
    def readable_types(self) -> frozenset[str]:
        return frozenset(t for t in self._objects() if self._read_op(t, GET))

    def fetch_page(self, object_type: str, cursor: Any = None) -> Page:
        op = self._read_op(object_type, LIST)
        if not op:
            raise self.unsupported(f"listing {object_type}s (no list path configured)")
        cursor = dict(cursor or {})
        data = self.call("GET", op["path"], params=self._list_params(op, cursor)).json()
        items = dig(data, op.get("items_path", ""))
        if not isinstance(items, list):
            where = op.get("items_path") or "the body"
            raise RemoteError(f"The list response has no list at {where!r}.", permanent=True)
        items = [item for item in items if isinstance(item, dict)]
        return Page(items, self._next_cursor(object_type, op, cursor, data, items))

    def fetch_record(
        self, object_type: str, remote_id: str, contact_id: str = ""
    ) -> dict[str, Any] | None:
        op = self._read_op(object_type, GET)
        if not op:
            raise self.unsupported(f"reading {object_type}s (no get path configured)")
        try:
            data = self.call("GET", op["path"].format(id=remote_id)).json()
        except RemoteError as exc:
            if exc.status in (404, 410):
                return None  # gone at the partner
            raise
        record = dig(data, op.get("record_path", ""))
        return record if isinstance(record, dict) else None

    def remote_id(self, object_type: str, item: dict[str, Any]) -> str:
        op = self._read_op(object_type, LIST) or self._read_op(object_type, GET)
        found = dig(item, op.get("id_path") or DEFAULT_ID_PATH)
        return "" if found in (None, "") else str(found)

    def remote_updated_at(self, object_type: str, item: dict[str, Any]) -> datetime | None:
        path = self._read_op(object_type, LIST).get("updated_at_path")
        return parse_timestamp(dig(item, path)) if path else None

    # --- internals ----------------------------------------------------------------------

    def _objects(self) -> dict[str, Any]:
        return self.connection.options.get("objects") or {}

    def _read_op(self, object_type: str, name: str) -> dict[str, Any]:
        op = self.config(object_type).get(name)
        return op if isinstance(op, dict) and op.get("path") else {}

    @staticmethod
    def _list_params(op: dict[str, Any], cursor: dict[str, Any]) -> dict[str, str]:
        params = {key: str(value) for key, value in (op.get("params") or {}).items()}
        if cursor.get("updatedSince") and op.get("updated_since_param"):
            params[op["updated_since_param"]] = str(cursor["updatedSince"])
        if cursor.get("cursor") not in (None, "") and op.get("cursor_param"):
            params[op["cursor_param"]] = str(cursor["cursor"])
        return params

    def _next_cursor(
        self,
        object_type: str,
        op: dict[str, Any],
        cursor: dict[str, Any],
        data: Any,
        items: list[dict[str, Any]],
    ) -> dict[str, Any] | None:
        if op.get("cursor_param"):
            following = dig(data, op.get("next_cursor_path", ""))
            if following in (None, "", False) or not items:
                return None
            return {**cursor, "cursor": following}
        return self._next_by_time(object_type, cursor, items)

    def _next_by_time(
        self, object_type: str, cursor: dict[str, Any], items: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """Paging by updated-since: go on from the page's newest record while time advances."""
        times = [t for t in (self.remote_updated_at(object_type, i) for i in items) if t]
        if not times:
            return None
        newest = max(times)
        since = parse_timestamp(cursor.get("updatedSince"))
        if since is not None and newest <= since:
            return None
        return {**cursor, "updatedSince": newest.isoformat()}
