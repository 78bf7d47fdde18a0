"""Rate-limit state for the database-backed limiter (used when there is no Redis)."""

from django.db import models


class RateLimitBucket(models.Model):
    """Recent request times of one limiter key; updated only under a row lock."""

    key = models.CharField(max_length=200, unique=True)
    hits = models.JSONField(default=list, help_text="Epoch seconds of requests in the window.")
    day = models.CharField(max_length=10, blank=True, help_text="UTC day of day_count.")
    day_count = models.PositiveIntegerField(default=0)
    paused_until = models.FloatField(
        default=0, help_text="Epoch seconds; the remote asked us to wait."
    )

    def __str__(self) -> str:
        return self.key
