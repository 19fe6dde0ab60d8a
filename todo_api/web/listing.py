"""Query parameters of the task list: filters, sort, offset or cursor paging, and the Link header.

Peers' frontends send the same filters under other names (`status_filter`, `search_query`, `sort_by`
with `sort_order`...): each is accepted as an alias of its parameter, and documented as one. A
parameter and its alias that disagree, or filters that contradict each other, are a 422.
"""

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, get_args
from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, Field, ValidationError, WithJsonSchema

from ..models import MAX_TAGS, PRIORITIES
from ..tasks.due import parse_due
from ..tasks.fields import NO_NUL, PRIORITY_LIST_PATTERN, TAG_FILTER_PATTERN, check_tag, split_tags, trim
from ..tasks.queries import SORTS, ListQuery, Page
from .cursors import decode_cursor, encode_cursor, invalid

SortParam = Literal[
    "created_at", "-created_at", "updated_at", "-updated_at", "title", "-title",
    "priority", "-priority", "due_date", "-due_date",
]  # fmt: skip
assert set(get_args(SortParam)) == set(SORTS)  # the documented values are exactly the allowlist
Status = Literal["all", "pending", "incomplete", "completed"]
SortBy = Literal["created_at", "updated_at", "title", "priority", "due_date"]
MAX_LIMIT = 500
_STATUS_COMPLETED = {"all": None, "pending": False, "incomplete": False, "completed": True}


def _priorities(value: str) -> tuple[int, ...]:
    names = [trim(name).lower() for name in value.split(",")]
    if not all(name in PRIORITIES for name in names):
        raise ValueError("must be one or more of low, medium, high, urgent, comma-separated")
    return tuple(sorted({PRIORITIES.index(name) for name in names}))


def _tag_filter(value: str) -> tuple[str, ...]:
    tags = [check_tag(tag).lower() for tag in split_tags(value)]
    if not 1 <= len(tags) <= MAX_TAGS:
        raise ValueError(f"must name 1-{MAX_TAGS} tags, comma-separated")
    return tuple(dict.fromkeys(tags))


def _bound(value: str) -> date | datetime:
    bound = parse_due(value)
    # A bound has no task to take a zone from: one without an offset is UTC.
    if isinstance(bound, datetime) and bound.tzinfo is None:
        return bound.replace(tzinfo=UTC)
    return bound


Search = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
PriorityFilter = Annotated[
    str,
    AfterValidator(_priorities),
    WithJsonSchema({"type": "string", "pattern": PRIORITY_LIST_PATTERN, "examples": ["high,urgent"]}),
]
TagFilter = Annotated[
    str,
    AfterValidator(_tag_filter),
    WithJsonSchema({"type": "string", "pattern": TAG_FILTER_PATTERN, "examples": ["work,home"]}),
]
DueBound = Annotated[
    str,
    AfterValidator(_bound),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}
    ),
]
_PRIORITIES = "Only tasks of these priorities (any of them), comma-separated."
_TAGS = "Only tasks with all of these tags (compared in any case), comma-separated."
_BOUND = (
    "Inclusive. A date compares each task's due date in its own zone (all-day tasks by their date); a"
    " date-time compares instants (UTC without an offset); an all-day task counts while its day lasts."
)


def _alias(of: str) -> str:
    return f"Alias of `{of}` (the name some frontends use)."


class ListParameters(BaseModel):
    """The list's query parameters, validated in one pass (FastAPI documents each field)."""

    limit: int | None = Field(
        default=None, ge=1, le=MAX_LIMIT, description="Page size. Without it: every task."
    )
    offset: int | None = Field(
        default=None, ge=0, le=10_000_000, description="Tasks to skip (or use `cursor`)."
    )
    cursor: str | None = Field(
        default=None, max_length=2048, description='Opaque: from the `Link: rel="next"` header.'
    )
    completed: bool | None = Field(default=None, description="Only done (`true`) or open (`false`) tasks.")
    status: Status | None = Field(
        default=None, description="`pending` (or `incomplete`): open tasks; `completed`: done; `all`: both."
    )
    status_filter: Status | None = Field(default=None, description=_alias("status"))
    q: Search | None = Field(default=None, description="Case-insensitive search in title and description.")
    search: Search | None = Field(default=None, description="The same as `q`.")
    search_query: Search | None = Field(default=None, description=_alias("search"))
    priority: PriorityFilter | None = Field(default=None, description=_PRIORITIES)
    priority_filter: PriorityFilter | None = Field(default=None, description=_alias("priority"))
    tag: TagFilter | None = Field(default=None, description=_TAGS)
    tags: TagFilter | None = Field(default=None, description=_alias("tag"))
    tag_filter: TagFilter | None = Field(default=None, description=_alias("tag"))
    tags_filter: TagFilter | None = Field(default=None, description=_alias("tag"))
    due_before: DueBound | None = Field(default=None, description=f"Due on or before this. {_BOUND}")
    due_after: DueBound | None = Field(default=None, description=f"Due on or after this. {_BOUND}")
    overdue: bool | None = Field(
        default=None,
        description="`true`: open tasks whose due time has passed (an all-day task once its day has ended"
        " in its zone); `false`: the others.",
    )
    sort: SortParam = Field(default="created_at", description=(
        "Order; `-` for descending. `created_at` is creation order; `priority` is low to urgent;"
        " `due_date` is soonest first, with tasks without a due date last in both directions."))  # fmt: skip
    sort_by: SortBy | None = Field(default=None, description="`sort` without the `-`; with `sort_order`.")
    sort_order: Literal["asc", "desc"] | None = Field(default=None, description="The direction of `sort_by`.")
    order: Literal["asc", "desc"] | None = Field(default=None, description=_alias("sort_order"))


# The parameters as the list operation documents them (its `openapi_extra`), field by field.
QUERY_PARAMETERS_OPENAPI = [
    {"name": name, "in": "query", "required": False, "schema": schema, "description": schema["description"]}
    for name, schema in ListParameters.model_json_schema()["properties"].items()
]
_PLAIN_LIST = ListParameters()


def list_query(request: Request) -> ListQuery | None:
    """The parsed query, or None for the plain list (no parameters: every task, creation order).

    Validated here rather than by declaring `ListParameters` as a FastAPI query model: FastAPI
    would validate the model on every list request, query string or not, and the plain list
    (most of the traffic) skips that work (docs/performance.md has the measured share).
    """
    if not request.scope["query_string"]:
        return None
    return parse_list_parameters(request.query_params)


def parse_list_parameters(params: Mapping[str, str]) -> ListQuery | None:
    """The query for these parameters (a 422 naming the first bad one), or None for the plain list."""
    try:
        parameters = ListParameters.model_validate(dict(params))
    except ValidationError as error:
        # FastAPI's own 422 shape: each error located in the query.
        errors = error.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in errors]) from None
    if parameters == _PLAIN_LIST:
        return None
    return _to_query(parameters)


def _to_query(p: ListParameters) -> ListQuery:
    if p.offset is not None and p.cursor is not None:
        raise invalid("cursor", "Use either offset or cursor, not both")
    if p.cursor is not None and p.limit is None:
        raise invalid("limit", "A cursor needs a limit")
    sort = _sort(p)
    status = _one(p, "status", "status_filter")
    completed = p.completed
    if status is not None and status != "all":
        if completed is not None and completed != _STATUS_COMPLETED[status]:
            raise invalid("status", "Contradicts `completed`: give one of them")
        completed = _STATUS_COMPLETED[status]
    return ListQuery(
        sort=sort,
        completed=completed,
        search=_one(p, "q", "search", "search_query"),
        priorities=_one(p, "priority", "priority_filter"),
        tags=_one(p, "tag", "tags", "tag_filter", "tags_filter"),
        due_before=p.due_before,  # type: ignore[arg-type]  # parsed by its AfterValidator
        due_after=p.due_after,  # type: ignore[arg-type]
        overdue=p.overdue,
        limit=p.limit,
        offset=p.offset or 0,
        after=decode_cursor(p.cursor, sort) if p.cursor is not None else None,
    )


def _one(parameters: ListParameters, *names: str) -> Any:
    """The value of a parameter given under any of its names; a 422 when two names disagree."""
    given = [(name, value) for name in names if (value := getattr(parameters, name)) is not None]
    for name, value in given[1:]:
        if value != given[0][1]:
            raise invalid(name, f"Disagrees with `{given[0][0]}`: give one of them")
    return given[0][1] if given else None


def _sort(p: ListParameters) -> str:
    """`sort`, or the same order from `sort_by` and `sort_order` (or `order`)."""
    direction = _one(p, "sort_order", "order")
    field = p.sort_by or p.sort.removeprefix("-")
    descending = direction == "desc" if direction is not None else p.sort.startswith("-")
    sort = f"-{field}" if descending else field
    if "sort" in p.model_fields_set and sort != p.sort:
        raise invalid(
            "sort_by" if p.sort_by else "sort_order", f"Disagrees with `sort={p.sort}`: give one of them"
        )
    return sort


def pagination_headers(request: Request, query: ListQuery | None, page: Page) -> dict[str, str]:
    """X-Total-Count, and an RFC 8288 Link to the next page when there is one (relative URL)."""
    headers = {"X-Total-Count": str(page.total)}
    if query is None or query.limit is None:
        return headers
    if page.next_after is not None:
        if "offset" in request.query_params:
            following = {"offset": str(query.offset + query.limit)}
        else:
            following = {"cursor": encode_cursor(query.sort, page.next_after)}
        params = dict(request.query_params) | following
        url = request.url.replace_query_params(**params)
        headers["Link"] = f'<{quote(url.path)}?{url.query}>; rel="next"'
    return headers
