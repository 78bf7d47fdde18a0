"""SQLite state of the sandbox CRM: one JSON document per record, plus indexed columns.

A single generic table keeps the schema trivial (the sandbox mirrors a JSON API, so the JSON
document *is* the record); the extra columns exist only so paging, duplicate lookups and
``query`` searches stay fast with hundreds of thousands of seeded contacts.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .util import digits, ms_from_iso

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    location_id TEXT,
    parent_id TEXT,
    added_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    email_lc TEXT,
    phone_digits TEXT,
    search TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS ix_added ON records (kind, location_id, added_ms, id);
CREATE INDEX IF NOT EXISTS ix_updated ON records (kind, location_id, updated_ms, id);
CREATE INDEX IF NOT EXISTS ix_parent ON records (kind, parent_id);
CREATE INDEX IF NOT EXISTS ix_email ON records (kind, location_id, email_lc);
CREATE INDEX IF NOT EXISTS ix_phone ON records (kind, location_id, phone_digits);
"""

# Whitelist: only these column names are ever interpolated into SQL.
SORT_COLUMNS = {"dateAdded": "added_ms", "dateUpdated": "updated_ms"}


@dataclass
class PageQuery:
    """A cursor/offset page over one location's records of one kind."""

    kind: str
    location_id: str
    limit: int
    sort: str = "dateAdded"  # key of SORT_COLUMNS
    desc: bool = False
    after: tuple[int, str] | None = None  # (sort value in ms, id) of the last row seen
    offset: int = 0
    text: str | None = None  # case-insensitive substring of name/email/phone
    ranges: list[tuple[str, str, int]] = field(default_factory=list)  # (field, op, ms)
    equals: dict[str, str] = field(default_factory=dict)  # email / phone / id


class Store:
    """Thread-safe JSON document store (one connection guarded by a lock; WAL mode)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        # A listing's counts (its total, the rows before a page's cursor) until the next write:
        # paging through 100,000 records counted them all again for every page, on the machine
        # whose portal a benchmark measures (a real CRM is another machine).
        self._counts: dict[tuple[Any, ...], int] = {}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writes ---------------------------------------------------------------------------
    def put(self, kind: str, record: dict[str, Any], parent_id: str | None = None) -> None:
        self.put_many(kind, [record], parent_id)

    def put_many(
        self, kind: str, records: Iterable[dict[str, Any]], parent_id: str | None = None
    ) -> None:
        rows = [self._row(kind, r, parent_id) for r in records]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO records VALUES (?,?,?,?,?,?,?,?,?,?)", rows
                )
            except Exception:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._counts.clear()

    @staticmethod
    def _row(kind: str, r: dict[str, Any], parent_id: str | None) -> tuple[Any, ...]:
        added = ms_from_iso(r.get("dateAdded")) or 0
        updated = ms_from_iso(r.get("dateUpdated")) or added
        email = r.get("email")
        search = " ".join(
            str(r.get(k) or "") for k in ("firstName", "lastName", "name", "email", "phone")
        ).lower()
        return (
            kind,
            r["id"],
            r.get("locationId"),
            parent_id,
            added,
            updated,
            email.lower() if isinstance(email, str) and email else None,
            digits(r.get("phone")) or None,
            search,
            json.dumps(r, separators=(",", ":")),
        )

    def delete(self, kind: str, record_id: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM records WHERE kind=? AND id=?", (kind, record_id))
            self._counts.clear()
            return cur.rowcount > 0

    def delete_children(self, parent_id: str, kinds: Iterable[str]) -> None:
        with self._lock:
            for kind in kinds:
                self._db.execute(
                    "DELETE FROM records WHERE kind=? AND parent_id=?", (kind, parent_id)
                )
            self._counts.clear()

    def wipe(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM records")
            self._counts.clear()

    # -- reads ----------------------------------------------------------------------------
    def _fetch(self, sql: str, args: Iterable[Any]) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(sql, tuple(args)).fetchall()
        return [json.loads(row[0]) for row in rows]

    def get(self, kind: str, record_id: str) -> dict[str, Any] | None:
        rows = self._fetch("SELECT data FROM records WHERE kind=? AND id=?", (kind, record_id))
        return rows[0] if rows else None

    def children(self, kind: str, parent_id: str) -> list[dict[str, Any]]:
        return self._fetch(
            "SELECT data FROM records WHERE kind=? AND parent_id=? ORDER BY added_ms, id",
            (kind, parent_id),
        )

    def all(self, kind: str, location_id: str | None = None) -> list[dict[str, Any]]:
        if location_id is None:
            return self._fetch(
                "SELECT data FROM records WHERE kind=? ORDER BY added_ms, id", (kind,)
            )
        return self._fetch(
            "SELECT data FROM records WHERE kind=? AND location_id=? ORDER BY added_ms, id",
            (kind, location_id),
        )

    def find_duplicate(
        self, location_id: str, email: str | None, phone: str | None
    ) -> tuple[dict[str, Any] | None, str | None]:
        """Contact matching ``email`` first, then ``phone`` (the CRM's default priority)."""
        probes = (
            ("email", "email_lc", (email or "").lower()),
            ("phone", "phone_digits", digits(phone)),
        )
        for field_name, column, value in probes:
            if not value:
                continue
            rows = self._fetch(
                f"SELECT data FROM records WHERE kind='contact' AND location_id=? "  # noqa: S608
                f"AND {column}=? ORDER BY added_ms, id LIMIT 1",
                (location_id, value),
            )
            if rows:
                return rows[0], field_name
        return None, None

    def page(self, q: PageQuery) -> tuple[list[dict[str, Any]], int, int]:
        """Return (rows, total matching, rows before the cursor) for ``q``."""
        col = SORT_COLUMNS[q.sort]
        where, args = self._filters(q)
        base = f"FROM records WHERE {' AND '.join(where)}"
        listing = (base, *args, q.desc)
        total = self._count(("total", *listing), f"SELECT COUNT(*) {base}", args)
        before = 0
        page_where, page_args = list(where), list(args)
        if q.after is not None:
            op = "<" if q.desc else ">"
            cursor = f"({col} {op} ? OR ({col} = ? AND id {op} ?))"
            page_where.append(cursor)
            page_args += [q.after[0], q.after[0], q.after[1]]
            before_sql = f"SELECT COUNT(*) {base} AND NOT {cursor}"
            key = ("before", *listing, col, *q.after)
            before = self._count(key, before_sql, [*args, *page_args[-3:]])
        direction = "DESC" if q.desc else "ASC"
        sql = (
            f"SELECT data, {col}, id FROM records WHERE {' AND '.join(page_where)} "  # noqa: S608
            f"ORDER BY {col} {direction}, id {direction} LIMIT ? OFFSET ?"
        )
        with self._lock:
            found = self._db.execute(sql, (*page_args, q.limit, q.offset)).fetchall()
            if found:  # the next page, after this one's last row, starts here
                last_sort, last_id = found[-1][1], found[-1][2]
                key = ("before", *listing, col, last_sort, last_id)
                self._counts[key] = before + q.offset + len(found)
        return [json.loads(row[0]) for row in found], total, before + q.offset

    def _count(self, key: tuple[Any, ...], sql: str, args: list[Any]) -> int:
        with self._lock:
            if key not in self._counts:
                if len(self._counts) > 10_000:  # a long walk with no write in between
                    self._counts.clear()
                self._counts[key] = self._db.execute(sql, args).fetchone()[0]
            return self._counts[key]

    @staticmethod
    def _filters(q: PageQuery) -> tuple[list[str], list[Any]]:
        where = ["kind = ?", "location_id = ?"]
        args: list[Any] = [q.kind, q.location_id]
        if q.text:
            where.append("search LIKE ?")
            args.append(f"%{q.text.lower()}%")
        ops = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
        for field_name, op, ms in q.ranges:
            where.append(f"{SORT_COLUMNS[field_name]} {ops[op]} ?")
            args.append(ms)
        columns = {"email": "email_lc", "phone": "phone_digits", "id": "id"}
        for field_name, value in q.equals.items():
            where.append(f"{columns[field_name]} = ?")
            args.append(value)
        return where, args

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT kind, COUNT(*) FROM records GROUP BY kind").fetchall()
        return {kind: n for kind, n in rows}
