"""The list query: filters, an allowlisted sort and paging, and the one statement that serves it.

`web.listing` builds a `ListQuery` from the URL; the repository runs `list_sql(query)`. Every filter
is a condition on the owner's rows, backed by an index that starts with `user_id` (or, for tags, a
GIN index whose keys carry the owner); every sort is an index order, so a page is a range scan.
"""

# ruff: noqa: S608  (the SQL below is assembled from this module's constants, never from input)

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

# The stored JSON of a task, or (for a row written before the document had its current fields, until
# storage/backfill.py re-renders it) the same JSON rendered now.
DOCUMENT_VERSION = 5
TASK_JSON = f"CASE WHEN document_version >= {DOCUMENT_VERSION} THEN document ELSE task_document(tasks) END"

# ISO 8601 in UTC with an explicit offset, microseconds always present (cursor keys).
_UTC = """to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
_SEARCHED = "(title || ' ' || coalesce(description, ''))"  # what the pg_trgm index covers


@dataclass(frozen=True)
class Key:
    """A sort key: the expression an index orders by, its type, and its text in a cursor."""

    sql: str
    cast: str
    text: str


_DUE_FIRST, _DUE_LAST = (
    "coalesce(due_at, 'infinity'::timestamptz)",
    "coalesce(due_at, '-infinity'::timestamptz)",
)
KEYS = {
    "id": Key("id", "bigint", "id::text"),
    "updated_at": Key("updated_at", "timestamptz", _UTC.format(column="updated_at")),
    "title": Key("title", "text", "title"),
    "priority": Key("priority", "smallint", "priority::text"),
    # Tasks without a due date last, in both directions: "infinity" ascending, "-infinity" descending.
    "due_first": Key(_DUE_FIRST, "timestamptz", f"coalesce({_UTC.format(column='due_at')}, 'infinity')"),
    "due_last": Key(_DUE_LAST, "timestamptz", f"coalesce({_UTC.format(column='due_at')}, '-infinity')"),
}


@dataclass(frozen=True)
class Sort:
    """An allowed `sort=` value: its keys (id last, so keys are unique) and direction."""

    keys: tuple[str, ...]
    descending: bool

    @property
    def order_by(self) -> str:
        direction = " DESC" if self.descending else ""
        return ", ".join(f"{KEYS[key].sql}{direction}" for key in self.keys)

    def after(self) -> str:
        """Rows strictly after a cursor's key values, in this order (a row comparison)."""
        values = ", ".join(f"%(after_{n})s::{KEYS[key].cast}" for n, key in enumerate(self.keys))
        columns = ", ".join(KEYS[key].sql for key in self.keys)
        return f"({columns}) {'<' if self.descending else '>'} ({values})"


# The allowlist: never a column name taken from the client. "created_at" is creation order,
# which is id order (ids are assigned as tasks are created).
SORTS = {
    "created_at": Sort(("id",), descending=False),
    "-created_at": Sort(("id",), descending=True),
    "updated_at": Sort(("updated_at", "id"), descending=False),
    "-updated_at": Sort(("updated_at", "id"), descending=True),
    "title": Sort(("title", "id"), descending=False),
    "-title": Sort(("title", "id"), descending=True),
    "priority": Sort(("priority", "id"), descending=False),
    "-priority": Sort(("priority", "id"), descending=True),
    "due_date": Sort(("due_first", "id"), descending=False),
    "-due_date": Sort(("due_last", "id"), descending=True),
}


@dataclass(frozen=True)
class ListQuery:
    sort: str = "created_at"
    completed: bool | None = None
    search: str | None = None
    priorities: tuple[int, ...] | None = None  # stored values, any of them
    tags: tuple[str, ...] | None = None  # lower case, all of them
    due_before: date | datetime | None = None  # a date compares local dates, a date-time instants
    due_after: date | datetime | None = None
    overdue: bool | None = None
    now: datetime | None = None  # for `overdue`: the clock's time unless given (tests give one)
    limit: int | None = None
    offset: int = 0
    after: Sequence[str] | None = None  # a cursor's key values


class Page(NamedTuple):
    json: str  # the page, a JSON array
    total: int  # tasks matching the filters, all pages
    next_after: list[str] | None  # key values of the page's last task when more follow


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filters(query: ListQuery) -> list[str]:
    filters = ["user_id = %(user_id)s"]
    if query.completed is not None:
        filters.append("completed = %(completed)s")
    if query.search is not None:
        filters.append(f"{_SEARCHED} ILIKE %(pattern)s")
    if query.priorities is not None:
        filters.append("priority = ANY(%(priorities)s::smallint[])")
    if query.tags is not None:
        filters.append("task_tag_keys(user_id, tags) @> %(tag_keys)s::text[]")
    if query.overdue is not None:
        overdue = "(NOT completed AND overdue_at <= %(now)s::timestamptz)"
        filters.append(overdue if query.overdue else f"NOT coalesce({overdue}, false)")
    # All-day tasks by their date: a date bound compares local dates; a date-time bound takes a task
    # whose day overlaps it.
    if isinstance(query.due_after, datetime):
        filters.append(
            "CASE WHEN due_all_day THEN overdue_at > %(due_after)s ELSE due_at >= %(due_after)s END"
        )
    elif query.due_after is not None:
        filters.append("due_day >= %(due_after)s::date")
    if isinstance(query.due_before, datetime):
        filters.append(f"{_DUE_FIRST} <= %(due_before)s::timestamptz")
    elif query.due_before is not None:
        filters.append("due_day <= %(due_before)s::date")
    return filters


def list_sql(query: ListQuery) -> str:
    """The statement for one combination of filters, sort and paging."""
    sort = SORTS[query.sort]
    matching = " AND ".join(_filters(query))
    keyset = f" AND {sort.after()}" if query.after is not None else ""
    limit = (" LIMIT %(fetch)s" if query.limit is not None else "") + " OFFSET %(offset)s"
    keys = ", ".join(f"{KEYS[key].sql} AS k{n}" for n, key in enumerate(sort.keys))
    cursor = ", ".join(KEYS[key].text for key in sort.keys)
    direction = " DESC" if sort.descending else ""
    outer_order = ", ".join(f"t.k{n}{direction}" for n in range(len(sort.keys)))
    # The total and the page in one round trip: the LEFT JOIN yields the total even for an
    # empty page. The page is an index range scan (no sort) thanks to the (user_id, key, id)
    # indexes; the outer ORDER BY only re-sorts that page.
    return f"""SELECT c.total, t.task, t.cursor
        FROM (SELECT count(*) AS total FROM tasks WHERE {matching}) c
        LEFT JOIN LATERAL (
            SELECT {TASK_JSON} AS task, json_build_array({cursor})::text AS cursor, {keys}
            FROM tasks WHERE {matching}{keyset} ORDER BY {sort.order_by}{limit}
        ) t ON true
        ORDER BY {outer_order}"""


def list_params(user_id: str, query: ListQuery) -> dict[str, Any]:
    """The parameters of `list_sql(query)` for this user."""
    params: dict[str, Any] = {
        "user_id": user_id,
        "completed": query.completed,
        "offset": query.offset,
        "priorities": None if query.priorities is None else list(query.priorities),
        "due_before": query.due_before,
        "due_after": query.due_after,
        "now": query.now or datetime.now(UTC),
    }
    if query.search is not None:
        params["pattern"] = f"%{escape_like(query.search)}%"
    if query.tags is not None:
        params["tag_keys"] = [f"{user_id}\x1f{tag}" for tag in query.tags]  # as task_tag_keys() makes them
    if query.limit is not None:
        params["fetch"] = query.limit + 1  # one more than asked: tells whether more follow
    for n, value in enumerate(query.after or ()):
        params[f"after_{n}"] = value
    return params
