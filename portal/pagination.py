"""Admin pagination that stays fast on tables with millions of rows."""

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

# Below this many rows an exact count is cheap enough, and exactness is worth more.
ESTIMATE_ABOVE_ROWS = 50_000


def estimated_row_count(model, using: str) -> int | None:
    """PostgreSQL's planner estimate of a table's rows (kept fresh by autovacuum), or None."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
            [model._meta.db_table],
        )
        row = cursor.fetchone()
    return row[0] if row and row[0] >= 0 else None


class EstimatedCountPaginator(Paginator):
    """An unfiltered changelist of a large table shows an estimated total instead of counting.

    A filtered list is counted exactly: its indexes keep that cheap, and its number matters.
    """

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        query = getattr(queryset, "query", None)
        if query is not None and not query.where:
            estimate = estimated_row_count(queryset.model, queryset.db)
            if estimate is not None and estimate > ESTIMATE_ABOVE_ROWS:
                return estimate
        return super().count
