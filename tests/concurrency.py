"""Running a function in several threads at once, each on its own database connection."""

import threading

from django.db import connections


def in_parallel(func, count: int = 2) -> list:
    """`func()` in `count` threads released together; their results in thread order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = func()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
