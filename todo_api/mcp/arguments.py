"""What the MCP tools take and give back, built from the REST schemas' own field types.

So the trimming, limits and messages are the REST API's. The descriptions are written for a model:
they say how to turn what a user says ("high priority, due Friday 5 pm") into arguments.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field

from ..models import DESCRIPTION_MAX_LENGTH
from ..reminders.schemas import NotificationRead
from ..tasks.fields import Description, Priority, Tags, Title
from ..tasks.schemas import TaskRead
from ..tasks.time_fields import DueDate, Recurrence, RemindAt, ReminderMinutes, zone_name
from ..web.listing import DueBound, PriorityFilter, Search, SortParam, TagFilter

UserId = Annotated[
    str | None,
    Field(
        description=(
            "Optional, and best left out. The tools always act for the signed-in user; if given,"
            " it must be that user's id, or the call is refused."
        )
    ),
]
TaskId = Annotated[
    int,
    Field(ge=1, le=2**63 - 1, description="The task's id, as returned by add_task or list_tasks."),
]
_DUE = (
    "When it is due. For a time, give the user's wall-clock time without an offset and their"
    ' time_zone: "due Friday 5 pm" in Berlin is due_date "2026-12-04T17:00" with time_zone'
    ' "Europe/Berlin". For a whole day, give just the date: "2026-12-04". null: no due date.'
)
# A plain string here (validated against the same IANA list): the list itself would be hundreds of
# values in every tool's schema.
ZoneName = Annotated[
    str,
    BeforeValidator(zone_name),
    Field(description='The user\'s IANA time zone, e.g. "Europe/Berlin" or "America/New_York".'),
]
_PRIORITY = 'One of "low", "medium" (the default), "high", "urgent".'
_RECURRENCE = (
    'How it repeats, if it does: "daily", "weekly", "monthly", "yearly", or an RRULE such as'
    ' "FREQ=WEEKLY;BYDAY=MO" (every Monday) or "FREQ=MONTHLY;BYMONTHDAY=-1" (the last day of each month).'
    " Needs a due_date: the first occurrence. Completing it creates the next one."
)
_REMIND_AT = "When to remind the user, as a date-time (without an offset: in time_zone); null: no reminder."
_MINUTES = (
    "Or: remind this many minutes before the due date (30 for half an hour); it moves with the due date."
)
_TAGS = 'Labels such as ["work", "errands"] (up to 20).'


class AddTaskArguments(BaseModel):
    title: Title
    description: Annotated[
        Description | None, Field(description=f"Optional details, up to {DESCRIPTION_MAX_LENGTH} characters.")
    ] = None
    priority: Annotated[Priority, Field(description=_PRIORITY)] = "medium"
    tags: Annotated[Tags, Field(description=_TAGS)] = []
    due_date: Annotated[DueDate, Field(description=_DUE)] = None
    time_zone: ZoneName = "UTC"
    recurrence: Annotated[Recurrence, Field(description=_RECURRENCE)] = None
    remind_at: Annotated[RemindAt, Field(description=_REMIND_AT)] = None
    reminder_minutes_before: Annotated[ReminderMinutes, Field(description=_MINUTES)] = None
    user_id: UserId = None
    idempotency_key: Annotated[
        str | None,
        Field(
            pattern=r"^[\x21-\x7e]{1,255}$",
            description="Optional, any 1-255 visible ASCII characters: calling again with the same key"
            " and arguments within 24 h returns the task the first call created, never a second one.",
        ),
    ] = None

    def values(self) -> dict[str, Any]:
        return self.model_dump(exclude={"user_id", "idempotency_key"})


class ListTasksArguments(BaseModel):
    status: Annotated[
        Literal["all", "pending", "completed"],
        Field(description='"pending": not done yet; "completed": done; "all" (the default): both.'),
    ] = "all"
    priority: Annotated[PriorityFilter | None, Field(description='Only these, e.g. "high,urgent".')] = None
    tag: Annotated[TagFilter | None, Field(description='Only tasks with all these tags: "work".')] = None
    due_before: Annotated[DueBound | None, Field(description="Due on or before this date or time.")] = None
    due_after: Annotated[DueBound | None, Field(description="Due on or after this date or time.")] = None
    overdue: Annotated[bool | None, Field(description="true: only open tasks past their due time.")] = None
    search: Annotated[Search | None, Field(description="Words in the title or description.")] = None
    sort: Annotated[
        SortParam,
        Field(description='"created_at" (default), "due_date" (soonest first), "-priority" (urgent first)'),
    ] = "created_at"
    user_id: UserId = None


class TaskIdArguments(BaseModel):
    task_id: TaskId
    user_id: UserId = None


class UpdateTaskArguments(BaseModel):
    task_id: TaskId
    title: Annotated[Title, Field(description="The new title, if it changes.")] = None  # type: ignore[assignment]  # optional, never null
    description: Annotated[
        Description | None, Field(description="The new description, if it changes; null removes it.")
    ] = None
    priority: Annotated[Priority, Field(description=_PRIORITY)] = None  # type: ignore[assignment]
    tags: Annotated[Tags, Field(description=f"{_TAGS} Replaces the task's tags.")] = None  # type: ignore[assignment]
    due_date: Annotated[DueDate, Field(description=_DUE)] = None
    time_zone: ZoneName = None  # type: ignore[assignment]
    recurrence: Annotated[Recurrence, Field(description=f"{_RECURRENCE} null stops it.")] = None
    remind_at: Annotated[RemindAt, Field(description=_REMIND_AT)] = None
    reminder_minutes_before: Annotated[ReminderMinutes, Field(description=_MINUTES)] = None
    user_id: UserId = None

    def changes(self) -> dict[str, Any]:
        """Only the fields sent, as PATCH does: an omitted field keeps its value."""
        return self.model_dump(include=self.model_fields_set - {"task_id", "user_id"})


class TaskChange(BaseModel):
    """What a change did, in the shape the task-chatbot specs use; each tool has its own `status`."""

    task_id: int
    status: str
    title: str


class TaskCreated(TaskChange):
    status: Literal["created"]


class TaskCompleted(TaskChange):
    status: Literal["completed"]


class TaskDeleted(TaskChange):
    status: Literal["deleted"]


class TaskUpdated(TaskChange):
    status: Literal["updated"]


class NotificationsArguments(BaseModel):
    user_id: UserId = None


class NotificationList(BaseModel):
    """The unread notifications (reminders that fired), newest first."""

    notifications: list[NotificationRead]


class ListedTask(TaskRead):
    time_zone: str  # the same names, without listing them all


class TaskList(BaseModel):
    """The tasks, each in the REST API's JSON shape, in the order asked for (creation order by default)."""

    tasks: list[ListedTask]
