"""A Lua script run on a pooled Redis connection, by its SHA1, without redis-py's client layer.

    INCREMENT = RedisScript("return redis.call('INCR', KEYS[1])")
    INCREMENT(pool, keys=["counter"], args=[])      -> the script's reply

Hot paths run a script on every request (a webhook's rate-limit counter, a push's rate-limit
permit and its settling). Through redis-py's client, its command dispatch, retries and reply
callbacks cost about as much CPU as the round trip itself; sending the script's text each time
made Redis hash it again. Here the command goes straight to a connection of the pool as
EVALSHA; a server that lost its script cache (a restart) answers NOSCRIPT once and gets the
text (EVAL, which caches it again). The pool hands out a live connection (it replaces one the
server closed); one that fails mid-call is dropped, never handed out again half-read.
"""

import hashlib
from collections.abc import Sequence
from typing import Any

from redis.exceptions import NoScriptError


class RedisScript:
    def __init__(self, lua: str) -> None:
        self.lua = lua
        self.sha = hashlib.sha1(lua.encode()).hexdigest()  # noqa: S324 - Redis names scripts so

    def __call__(self, pool, *, keys: Sequence[str], args: Sequence[Any]) -> Any:
        connection = pool.get_connection()
        try:
            try:
                connection.send_command("EVALSHA", self.sha, len(keys), *keys, *args)
                return connection.read_response()
            except NoScriptError:
                connection.send_command("EVAL", self.lua, len(keys), *keys, *args)
                return connection.read_response()
        except BaseException:
            connection.disconnect()
            raise
        finally:
            pool.release(connection)
