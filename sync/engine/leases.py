"""Leases that live as long as their worker: short, and renewed while the worker is alive.

A claimed outbox row or inbound event carries a lease (`lease_token`, `lease_until`). The lease
is short (SYNC_LEASE_SECONDS, 30 s) and a thread of the process holding it extends it every
third of that (`holding`), so a long push keeps its row while a worker that was killed (kill -9,
out of memory, a machine gone) stops renewing and loses it within one lease.

The same thread, in every process that has held a lease, also runs the reapers that the queues
register (`register_reaper`): they hand expired rows of dead workers back to the queue at once.
Recovery does not wait for the minutely sweeper, which stays as the backstop: a push whose worker
died runs again within about SYNC_LEASE_SECONDS + a third of it.
"""

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import Model
from django.utils import timezone

logger = logging.getLogger(__name__)

_reapers: list[Callable[[], Any]] = []


def lease_until(now=None):
    return (now or timezone.now()) + timedelta(seconds=settings.SYNC_LEASE_SECONDS)


def renew_every() -> float:
    return settings.SYNC_LEASE_SECONDS / 3


def register_reaper(reaper: Callable[[], Any]) -> None:
    """`reaper()` hands rows with an expired lease back to the queue; it must be idempotent."""
    if reaper not in _reapers:
        _reapers.append(reaper)


class Keeper:
    """The leases this process holds, renewed by one daemon thread.

    The thread starts with the first lease held, when SYNC_LEASE_RENEWAL is on (the test suite
    turns it off and calls `cycle` itself; `sleep` is injectable for the thread's own test).
    """

    def __init__(self, sleep: Callable[[float], Any] = time.sleep) -> None:
        # model → lease token → (how many holders, the rows' keys)
        self._held: dict[type[Model], dict[str, tuple[int, frozenset[int]]]] = defaultdict(dict)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._sleep = sleep

    def add(self, model: type[Model], token: str, pks: Iterable[int]) -> None:
        with self._lock:
            held = self._held[model]
            count, keys = held.get(token, (0, frozenset()))
            held[token] = (count + 1, keys | frozenset(pks))
            if not settings.SYNC_LEASE_RENEWAL:
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
                self._thread.start()

    def discard(self, model: type[Model], token: str) -> None:
        with self._lock:
            held = self._held[model]
            count, keys = held[token]
            if count > 1:
                held[token] = (count - 1, keys)
            else:
                del held[token]

    def leases(self) -> dict[type[Model], tuple[list[str], set[int]]]:
        """model → (the tokens held, the keys of their rows)."""
        with self._lock:
            return {
                model: (list(held), {pk for _count, keys in held.values() for pk in keys})
                for model, held in self._held.items()
                if held
            }

    def renew(self, now=None) -> int:
        """Extend every lease this process holds (never shorten one: a retry's "not before")."""
        until = lease_until(now)
        renewed = 0
        for model, (tokens, pks) in self.leases().items():
            # by key as well as token: the token has no index, and the table keeps its history
            held = model.objects.filter(pk__in=pks, lease_token__in=tokens, lease_until__lt=until)
            renewed += held.update(lease_until=until)
        return renewed

    def cycle(self) -> None:
        self.renew()
        for reaper in list(_reapers):
            reaper()

    def _run(self) -> None:
        while True:
            self._sleep(renew_every())
            try:
                self.cycle()
            except Exception:  # a database hiccup must not end renewals for good
                logger.exception("Renewing leases failed; trying again in %.0f s", renew_every())
            finally:
                connections.close_all()  # this thread's own: none is held while it waits


keeper = Keeper()


@contextmanager
def holding(model: type[Model], token: str, pks: Iterable[int]) -> Iterator[None]:
    """Keep the lease `token` of the `model` rows `pks` alive while the block runs."""
    keeper.add(model, token, pks)
    try:
        yield
    finally:
        keeper.discard(model, token)
