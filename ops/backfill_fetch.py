"""Backfill's reads: what each page needs from the remote, fetched one page ahead.

    plan = FetchPlan(connector, objects, since=..., notes_known_until=..., sleep=...)
    plan.batch(phase, cursor) -> Batch         one page and what it needs (HTTP only)
    with Prefetcher(connection, plan, start) as pages:
        for batch in pages: ...               the next page is fetched while this one is written

The Prefetcher's thread does HTTP and nothing else: no database work (SQLite has one writer,
and the page's transaction is the main thread's). What a call needs from the database is done
by the main thread, which waits for the next page anyway: it grants rate-limit permits from the
shared limiter (a few ahead, so the thread seldom waits), settles them, applies the remote's
pauses (429, X-RateLimit-Remaining: 0), and saves the calls' DeliveryAttempt rows with the page
they fetched. The bounded queue holds one page: at most one page waits while one is written.
"""

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime

from sync.connectors import connector_for
from sync.connectors.base import Connector, Page
from sync.models import Connection, DeliveryAttempt
from sync.transport.http import HttpClient, RemoteError, Response
from sync.transport.ratelimit import Limiter, RateLimited, limiter_for

PHASES = ("user", "contact", "task", "appointment")  # notes come with their contacts' page
CALL_ATTEMPTS = 6
MAX_RETRY_WAIT = 60.0
POLL_SECONDS = 0.05  # how often a waiting thread checks that it is still wanted


def phases_for(objects: list[str] | set[str]) -> list[str]:
    wanted = set(objects)
    if "note" in wanted:
        wanted.add("contact")  # notes are listed per contact: the contacts are paged for them
    return [phase for phase in PHASES if phase in wanted]


@dataclass
class Batch:
    """One page of a phase, with the notes of a contacts page; `position` is where the run
    goes on once it is written; `calls` are the DeliveryAttempt rows of its requests."""

    phase: str
    page: Page
    notes: list[tuple[str, dict[str, Any]]]
    position: tuple[str, Any]
    calls: list[DeliveryAttempt] = field(default_factory=list)
    prepared: dict[str, Any] = field(default_factory=dict)  # the Prefetcher's `prepare`


class FetchPlan:
    def __init__(
        self,
        connector: Connector,
        objects: list[str],
        *,
        since: datetime | None,
        notes_known_until: datetime | None,
        business: str = "",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.connector = connector
        self.objects = set(objects)
        self.phases = phases_for(objects)
        self.since = since
        self.business = business
        self.notes_known_until = notes_known_until
        self.sleep = sleep

    def batch(self, phase: str, cursor: Any) -> Batch:
        if phase == "task" and self.business:
            cursor = {"businessId": self.business, **(cursor or {})}
        if phase != "contact":
            page = self._fetch(phase, cursor)
            if phase != "user":
                page.items = [item for item in page.items if self._is_recent(phase, item)]
            return Batch(phase, page, [], self._next_position(phase, page))
        page = self._fetch("contact", self._contact_cursor(cursor))
        notes = []
        if "note" in self.objects:
            for contact in page.items:
                if self._notes_may_have_changed(contact):
                    listed = self._fetch("note", {"contactId": contact["id"]}).items
                    notes.extend((contact["id"], n) for n in listed if self._is_recent("note", n))
        return Batch(phase, page, notes, self._next_position(phase, page))

    def _contact_cursor(self, cursor: Any) -> Any:
        if self.business:
            return {"businessId": self.business, **(cursor or {})}
        if self.since is None:
            return cursor
        return {"updatedSince": self.since.isoformat(), **(cursor or {})}

    def _notes_may_have_changed(self, contact: dict[str, Any]) -> bool:
        """A contact the CRM reports unchanged since the last complete run has no new notes to
        list (a note written since reaches the portal by its NoteCreate webhook)."""
        if self.notes_known_until is None:
            return True
        updated = _when(contact.get("dateUpdated"))
        return updated is None or updated >= self.notes_known_until

    def _is_recent(self, object_type: str, item: dict[str, Any]) -> bool:
        when = self.connector.remote_updated_at(object_type, item)
        return self.since is None or when is None or when >= self.since

    def _next_position(self, phase: str, page: Page) -> tuple[str, Any]:
        if page.next_cursor is not None:
            return phase, page.next_cursor
        later = self.phases[self.phases.index(phase) + 1 :]
        return (later[0], None) if later else ("", None)

    def _fetch(self, object_type: str, cursor: Any) -> Page:
        for attempt in range(1, CALL_ATTEMPTS + 1):
            try:
                return self.connector.fetch_page(object_type, cursor)
            except RemoteError as exc:
                if exc.permanent or attempt == CALL_ATTEMPTS:
                    raise
                self.sleep(min(exc.retry_after or 2.0**attempt, MAX_RETRY_WAIT))
        raise AssertionError("unreachable")


def _when(value: Any) -> datetime | None:
    try:
        return parse_datetime(str(value)) if value else None
    except ValueError:
        return None


# --- the fetch thread ------------------------------------------------------------------------


class _Stopped(Exception):
    """The main thread no longer wants pages."""


class _DeferredHttp(HttpClient):
    """The fetch thread's HTTP client: the database work of a call is the main thread's.

    Before a call it takes a permit the main thread granted from the shared limiter; after it,
    the limiter is settled and the remote's limit headers honoured by the main thread; the
    call's DeliveryAttempt row is kept in memory and saved by the main thread with its page.
    """

    def __init__(self, prefetcher: "Prefetcher", http: HttpClient) -> None:
        super().__init__(
            http.connection, auth=prefetcher.auth_headers, headers=http.headers, change=None
        )
        self.prefetcher = prefetcher

    def request(self, method: str, path: str, **kwargs: Any) -> Response:
        limiter = self.prefetcher.permit()
        try:
            return super().request(method, path, **kwargs, rate_limited=False)
        finally:
            self.prefetcher.to_main("settle", limiter)

    def _honour_limits(self, response: Response, limiter: Limiter | None) -> None:
        self.prefetcher.to_main("honour", Response(response.status, dict(response.headers)))

    def _record(self, *args: Any, **kwargs: Any) -> DeliveryAttempt:
        attempt = self._attempt(*args, **kwargs)  # masked as any; the main thread saves it
        self.prefetcher.calls.append(attempt)
        return attempt


class Prefetcher:
    """Yields the run's batches from `start` on; fetches the next while one is written.

    `prepare(batch)`, if given, runs on the fetch thread once a batch is fetched (no database
    work): what it returns is the batch's `prepared`, so that work too overlaps the write of
    the page before."""

    def __init__(
        self,
        connection: Connection,
        plan_for: Callable[[Connector], FetchPlan],
        start: tuple[str, Any],
        prepare: Callable[[Batch], dict[str, Any]] | None = None,
    ) -> None:
        self.connection = connection
        self.main_connector = connector_for(connection)
        connector = connector_for(connection)
        connector.http = _DeferredHttp(self, connector.http)
        connector.refresh_auth = lambda: False  # a 401 is the main thread's to refresh
        self.plan = plan_for(connector)
        self.start = start
        self.prepare = prepare
        self.calls: list[DeliveryAttempt] = []  # the thread's, for the batch being fetched
        self._inbox: queue.Queue = queue.Queue()  # thread → main: batches, permit requests…
        self._permits: queue.Queue = queue.Queue()  # main → thread: granted limiters
        self._slot = threading.Semaphore(1)  # one page may wait while one is written
        self._stop = threading.Event()
        self._finish = threading.Event()
        self._auth: dict[str, str] = {}
        self._ahead = 1  # permits granted ahead: as many as the last page used
        self._wanted_since: float | None = None  # the thread waits for a permit (monotonic)
        self._retry_at = 0.0  # when the limiter may grant it
        self._thread: threading.Thread | None = None
        self.database_used_by_thread = False

    # --- main thread -------------------------------------------------------------------

    def __enter__(self) -> "Prefetcher":
        self._auth = self.main_connector.auth_headers()
        self._grant_ahead()  # the first page's call
        self._thread = threading.Thread(target=self._run, name="backfill-fetch", daemon=True)
        self._thread.start()
        return self

    def __iter__(self) -> Iterator[Batch]:
        return self._batches()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._slot.release()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def finish_after_current(self) -> None:
        """Fetch no further page: the run stops after the page in flight (nothing wasted)."""
        self._finish.set()

    def _batches(self) -> Iterator[Batch]:
        while True:
            try:
                kind, value = self._inbox.get(timeout=self._until_retry())
            except queue.Empty:  # the limiter's wait for the thread's permit is over
                self._grant_wanted()
                continue
            if kind == "batch":
                # The next page of the same phase makes about as many calls as this one; a new
                # phase or the end needs few (unused permits still count in the window).
                # Granted before the page is written, so that the next is fetched meanwhile.
                same_phase = value.position[0] == value.phase
                self._ahead = max(1, len(value.calls)) if same_phase else 1
                self._grant_ahead()
                yield value
                self._auth = self.main_connector.auth_headers()  # refreshed here if due
                self._slot.release()
            elif kind == "permit":
                self._want_permit()
            elif kind == "settle":
                value.settle()
            elif kind == "honour":
                HttpClient(self.connection)._honour_limits(value, limiter_for(self.connection))
            elif kind == "error":
                exc, calls = value
                DeliveryAttempt.objects.bulk_create(calls)
                raise exc
            elif kind == "end":
                return

    def _grant_ahead(self) -> None:
        """Permits for the next page's calls, as far as the limiter allows them now."""
        while self._permits.qsize() < self._ahead and self._grant_now() <= 0:
            pass
        if not self._permits.empty():
            self._wanted_since = None  # the thread, if it waits, takes one of these

    def _grant_now(self) -> float:
        """A permit for the thread if the limiter allows one now; else the seconds to wait."""
        limiter = limiter_for(self.connection)
        wait = limiter.try_acquire()
        if wait <= 0:
            self._permits.put(limiter)
        return wait

    def _want_permit(self) -> None:
        """The thread waits for a permit: granted once the limiter allows it. Meanwhile this
        thread goes on reading the inbox: a call answered before is settled now, not after the
        wait (a settle counts its call from the moment it is handled, so one handled a whole
        interval late held the next interval's calls back: one interval in four or five went
        idle), and a permit granted ahead since the thread asked is the one it takes."""
        if not self._permits.empty():
            return
        self._wanted_since = time.monotonic()
        self._grant_wanted()

    def _grant_wanted(self) -> None:
        """Grant the thread's permit if the limiter allows it now; past SYNC_RATE_LIMIT_WAIT_SECONDS
        of waiting, hand it RateLimited instead (its call fails as retryable, as acquire's)."""
        if self._wanted_since is None:
            return
        wait = self._grant_now()
        if wait > 0:
            retry_at = time.monotonic() + wait
            if retry_at - self._wanted_since <= settings.SYNC_RATE_LIMIT_WAIT_SECONDS:
                self._retry_at = retry_at
                return
            self._permits.put(RateLimited(wait))
        self._wanted_since = None  # granted, or told it will not be

    def _until_retry(self) -> float | None:
        """How long the inbox may be waited on: until the limiter's wait is over, if the
        thread waits for a permit; else until the next message."""
        if self._wanted_since is None:
            return None
        return max(self._retry_at - time.monotonic(), 0.0)

    # --- fetch thread ------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        return dict(self._auth)

    def to_main(self, kind: str, value: Any) -> None:
        self._inbox.put((kind, value))

    def permit(self) -> Limiter:
        try:
            granted = self._permits.get_nowait()
        except queue.Empty:
            self.to_main("permit", None)
            granted = self._wait(self._permits.get)
        if isinstance(granted, RateLimited):
            raise RemoteError(str(granted), permanent=False, retry_after=granted.retry_after)
        return granted

    def _wait(self, get: Callable[..., Any]) -> Any:
        while not self._stop.is_set():
            try:
                return get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
        raise _Stopped

    def _run(self) -> None:
        from django.db import connections

        phase, cursor = self.start
        try:
            while phase and not self._stop.is_set():
                self.calls = []
                batch = self.plan.batch(phase, cursor)
                batch.calls, self.calls = self.calls, []
                if self.prepare is not None:
                    batch.prepared = self.prepare(batch)
                while not self._slot.acquire(timeout=POLL_SECONDS):
                    if self._stop.is_set():
                        return
                if self._stop.is_set():
                    return
                self.to_main("batch", batch)
                phase, cursor = batch.position
                if self._finish.is_set():
                    break
            self.to_main("end", None)
        except _Stopped:
            return
        except BaseException as exc:  # handed to the main thread, which raises it
            self.to_main("error", (exc, self.calls))
        finally:
            self.database_used_by_thread = connections["default"].connection is not None
