"""Which connection a provider-wide delivery names (its routing key), cached.

    route(provider, key, event_type) -> Connection|None         read afresh (reprocessing)
    cached_route(provider, key, event_type) -> Route|None       (connection_id, workspace_id)
    routing_changed()                            after a change that sends no post_save

What a key means is the provider's (sync/connectors/receiving.py: candidates, route_scope); the
cache is the same for every provider. Every delivery needs this answer and it changes rarely,
so each process keeps the answers it looked up instead of querying for every delivery.
Nothing assumes a single process: the answers are only trusted under a version token kept in
the shared cache (Redis, or the database cache), which every change to a connection or a
workspace replaces, once at once and once more after its commit (so no process can re-cache
the old state under the new token). A process reads the token at most every
VERSION_CHECK_SECONDS (a read per delivery would cost more than it saves) and forgets all its
answers when it changed, so a change reaches every process within that second. Queryset
`.update()`s that change routing (Connection.soft_delete) call routing_changed(); anything else
(raw SQL) is bounded by ROUTING_CACHE_SECONDS. If the shared cache cannot be read, the
database is asked.
"""

import logging
import time
import uuid
from typing import NamedTuple

from django.core.cache import cache
from django.db import transaction

from sync.connectors import webhook_receiver
from sync.models import Connection

logger = logging.getLogger(__name__)

VERSION_KEY = "sync:webhook-routing:version"
VERSION_CHECK_SECONDS = 1.0  # how soon every process sees a change
ROUTING_CACHE_SECONDS = 60.0  # the most a change outside the ORM can go unseen
MAX_ENTRIES = 10_000  # routing keys per process; past it, start over (bounded memory)


class Route(NamedTuple):
    connection_id: int
    workspace_id: int


class _LocalRoutes:
    """This process's answers and the token they were looked up under."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str, str], tuple[Route | None, float]] = {}
        self.version: str | None = None
        self.checked_until = 0.0  # monotonic time of the next token read


_local = _LocalRoutes()


def forget_routes() -> None:
    """Drop this process's answers (tests: the shared cache was cleared under them)."""
    _local.__init__()


def route(provider: str, routing_key: str, event_type: str) -> Connection | None:
    """The connection a delivery names, read afresh (None: none, or not a provider endpoint)."""
    receiver = webhook_receiver(provider)
    if receiver is None or not routing_key:
        return None
    return receiver.candidates(routing_key, event_type).select_related("workspace").first()


def cached_route(provider: str, routing_key: str, event_type: str) -> Route | None:
    """The connection and workspace ids for the key (None: no live connection has it)."""
    now = time.monotonic()
    if now >= _local.checked_until:
        version = _shared_version()
        if version is None:  # the shared cache is unreachable: no way to know answers hold
            return _lookup(provider, routing_key, event_type)
        if version != _local.version:
            _local.entries.clear()
            _local.version = version
        _local.checked_until = now + VERSION_CHECK_SECONDS
    key = (provider, _scope(provider, event_type), routing_key)
    entry = _local.entries.get(key)
    if entry is not None and entry[1] > now:
        return entry[0]
    found = _lookup(provider, routing_key, event_type)
    if len(_local.entries) >= MAX_ENTRIES:
        _local.entries.clear()
    _local.entries[key] = (found, now + ROUTING_CACHE_SECONDS)
    return found


def routing_changed(**_signal_kwargs: object) -> None:
    """A connection or workspace changed: every process must look its routes up again."""
    _new_version()
    # Again after commit: a process that read the old rows before the commit may have cached
    # them under the first new token.
    transaction.on_commit(_new_version)


def _scope(provider: str, event_type: str) -> str:
    receiver = webhook_receiver(provider)
    return receiver.route_scope(event_type) if receiver else ""


def _lookup(provider: str, routing_key: str, event_type: str) -> Route | None:
    receiver = webhook_receiver(provider)
    if receiver is None or not routing_key:
        return None
    row = receiver.candidates(routing_key, event_type).values_list("id", "workspace_id").first()
    return Route(*row) if row else None


def _shared_version() -> str | None:
    try:
        version = cache.get(VERSION_KEY)
        if version is None:  # never set, evicted or flushed: a fresh token invalidates all
            cache.add(VERSION_KEY, uuid.uuid4().hex, None)
            version = cache.get(VERSION_KEY)
    except Exception:
        logger.warning("Shared cache unreadable; routing webhooks from the database.")
        return None
    return version


def _new_version() -> None:
    _local.checked_until = 0.0  # this process sees its own change at once
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, None)
    except Exception:
        # Routes cached elsewhere stay until ROUTING_CACHE_SECONDS pass.
        logger.exception("Could not publish a webhook routing change to the shared cache.")
