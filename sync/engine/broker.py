"""One django-q2 broker per process, reused by every enqueue.

`async_task` without `broker=` builds a new broker each call: with Redis that is a new client
and a new TCP connection per task (about a third of a webhook's intake time on loopback).
Reusing one is safe: redis-py's pool is thread-safe and re-opens its connections in a forked
child, and the ORM broker holds no connection of its own (Django's are per thread).
"""

from functools import cache

from django_q.brokers import Broker, get_broker


@cache
def shared_broker() -> Broker:
    return get_broker()
