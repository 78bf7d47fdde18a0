"""RedisScript: by SHA1 on a pooled connection, the text once after the server lost it, and an
error reply leaves the pool serving (runs with the suite's REDIS_URL)."""

import pytest
from django.conf import settings

from portal.redis_script import RedisScript

ECHO = RedisScript("return {KEYS[1], ARGV[1]}")


@pytest.fixture
def pool():
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client.connection_pool
    client.close()


# Redis only: a test of the suite's run with REDIS_URL (without it nothing runs scripts).
if settings.REDIS_URL:

    def test_a_script_runs_by_its_sha1_and_is_sent_again_once_after_a_flush(pool, monkeypatch):
        import redis

        sent = []
        original = redis.connection.AbstractConnection.send_command

        def counting(self, *args, **kwargs):
            sent.append(args[0])
            return original(self, *args, **kwargs)

        redis.Redis(connection_pool=pool).script_flush()
        monkeypatch.setattr(redis.connection.AbstractConnection, "send_command", counting)
        assert ECHO(pool, keys=["k"], args=["v"]) == [b"k", b"v"]
        assert ECHO(pool, keys=["k"], args=[7]) == [b"k", b"7"]
        assert sent == ["EVALSHA", "EVAL", "EVALSHA"]

    def test_after_an_error_reply_the_pool_still_serves(pool):
        from redis.exceptions import ResponseError

        broken = RedisScript("return redis.call('NOSUCHCOMMAND')")
        with pytest.raises(ResponseError):
            broken(pool, keys=[], args=[])
        assert ECHO(pool, keys=["k"], args=["v"]) == [b"k", b"v"]  # the pool still serves
