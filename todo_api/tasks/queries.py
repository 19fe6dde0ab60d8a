"""The list query: filters, an allowlisted sort and paging, and the one statement that serves it.

`web.listing` builds a `ListQuery` from the URL; the repository runs `list_sql(query)`.
"""

# ruff: noqa: S608  (the SQL below is assembled from this module's constants, never from input)

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

# ISO 8601 in UTC with an explicit offset, microseconds always present (cursor keys).
_UTC = """to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
_SEARCHED = "(title || ' ' || coalesce(description, ''))"  # what the pg_trgm index covers


@dataclass(frozen=True)
class Sort:
    """An allowed `sort=` value: its key columns (id last, so keys are unique) and direction."""

    keys: tuple[str, ...]
    descending: bool

    @property
    def order_by(self) -> str:
        direction = " DESC" if self.descending else ""
        return ", ".join(f"{key}{direction}" for key in self.keys)

    def after(self) -> str:
        """Rows strictly after a cursor's key values, in this order (a row comparison)."""
        casts = {"id": "bigint", "updated_at": "timestamptz", "title": "text"}
        values = ", ".join(f"%(after_{n})s::{casts[key]}" for n, key in enumerate(self.keys))
        return f"({', '.join(self.keys)}) {'<' if self.descending else '>'} ({values})"


# The allowlist: never a column name taken from the client. "created_at" is creation order,
# which is id order (ids are assigned as tasks are created).
SORTS = {
    "created_at": Sort(("id",), descending=False),
    "-created_at": Sort(("id",), descending=True),
    "updated_at": Sort(("updated_at", "id"), descending=False),
    "-updated_at": Sort(("updated_at", "id"), descending=True),
    "title": Sort(("title", "id"), descending=False),
    "-title": Sort(("title", "id"), descending=True),
}
_KEY_TEXT = {"id": "id::text", "updated_at": _UTC.format(column="updated_at"), "title": "title"}


@dataclass(frozen=True)
class ListQuery:
    sort: str = "created_at"
    completed: bool | None = None
    search: str | None = None
    limit: int | None = None
    offset: int = 0
    after: Sequence[str] | None = None  # a cursor's key values


class Page(NamedTuple):
    json: str  # the page, a JSON array
    total: int  # tasks matching the filters, all pages
    next_after: list[str] | None  # key values of the page's last task when more follow


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_sql(query: ListQuery) -> str:
    """The statement for one combination of filters, sort and paging (a few dozen in all)."""
    sort = SORTS[query.sort]
    filters = ["user_id = %(user_id)s"]
    if query.completed is not None:
        filters.append("completed = %(completed)s")
    if query.search is not None:
        filters.append(f"{_SEARCHED} ILIKE %(pattern)s")
    matching = " AND ".join(filters)
    keyset = f" AND {sort.after()}" if query.after is not None else ""
    limit = (" LIMIT %(fetch)s" if query.limit is not None else "") + " OFFSET %(offset)s"
    keys = ", ".join(f"{key} AS k{n}" for n, key in enumerate(sort.keys))
    cursor = ", ".join(_KEY_TEXT[key] for key in sort.keys)
    direction = " DESC" if sort.descending else ""
    outer_order = ", ".join(f"t.k{n}{direction}" for n in range(len(sort.keys)))
    # The total and the page in one round trip: the LEFT JOIN yields the total even for an
    # empty page. The page is an index range scan (no sort) thanks to the (user_id, key, id)
    # indexes; the outer ORDER BY only re-sorts that page.
    return f"""SELECT c.total, t.task, t.cursor
        FROM (SELECT count(*) AS total FROM tasks WHERE {matching}) c
        LEFT JOIN LATERAL (
            SELECT document AS task, json_build_array({cursor})::text AS cursor, {keys}
            FROM tasks WHERE {matching}{keyset} ORDER BY {sort.order_by}{limit}
        ) t ON true
        ORDER BY {outer_order}"""
