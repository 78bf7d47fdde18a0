"""One timer thread per process: callbacks at their time, without a thread (or a worker) each.

The push debounce holds rows here until their record is quiet (sync/engine/debounce.py); the
queue defers wake-ups of a busy intake here (sync/engine/queue.py: wake_soon). A timer dies with
its process: what it held is picked up by the sweepers; a process that exits normally runs
what is still waiting (`_start`).
"""

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from multiprocessing.util import Finalize
from typing import Any

from django.db import close_old_connections, connections

logger = logging.getLogger(__name__)

# The timer thread lets its database connection go when nothing is due for this long.
IDLE_SECONDS = 1.0


class Timer:
    """One thread per process running callbacks at their time (a heap, not a thread each)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[..., Any], tuple[Any, ...]]] = []
        self._order = itertools.count()
        self._wakeup = threading.Condition()
        self._thread: threading.Thread | None = None

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> None:
        with self._wakeup:
            entry = (time.monotonic() + delay, next(self._order), callback, args)
            heapq.heappush(self._heap, entry)
            if self._thread is None or not self._thread.is_alive():  # none yet, or forked
                self._start()
            self._wakeup.notify()

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sync-timer", daemon=True)
        self._thread.start()
        # Whatever is still waiting runs when this process exits normally. A multiprocessing
        # finalizer, not atexit: multiprocessing runs its finalizers at a normal interpreter exit
        # (from atexit) and also in a multiprocessing child, which leaves through os._exit and
        # skips atexit — a task worker that django-q2 ends after a number of tasks (its recycle
        # setting). With atexit alone, what such a worker's timer held (pushes waiting for their
        # quiet period) waited for the sweeper, up to a minute.
        Finalize(None, self.flush, exitpriority=0)

    def flush(self) -> None:
        """Run everything still waiting, now (the process is exiting)."""
        with self._wakeup:
            entries, self._heap = sorted(self._heap), []
        for _due, _order, callback, args in entries:
            try:
                callback(*args)
            except Exception:
                logger.exception("A timed callback failed at exit; the sweepers take over.")

    def pending(self) -> int:
        with self._wakeup:
            return len(self._heap)

    def _run(self) -> None:
        while True:
            callback, args = self._next_due()
            close_old_connections()  # this thread's own connection may have gone stale
            try:
                callback(*args)
            except Exception:
                logger.exception("A timed callback failed; the sweepers take over.")

    def _next_due(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        with self._wakeup:
            while True:
                wait = self._heap[0][0] - time.monotonic() if self._heap else None
                if wait is not None and wait <= 0:
                    _due, _order, callback, args = heapq.heappop(self._heap)
                    return callback, args
                if wait is None or wait > IDLE_SECONDS:
                    connections.close_all()  # idle for a while: hold no database connection
                self._wakeup.wait(wait)


shared_timer = Timer()
