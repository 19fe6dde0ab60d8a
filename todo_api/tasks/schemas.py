"""A task's JSON shapes: what clients may send, and what they get back."""

from datetime import date, datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StrictBool

from ..models import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH
from .fields import Description, Priority, PriorityName, Tags, Title
from .time_fields import DueDate, Recurrence, RemindAt, ReminderMinutes, StoredRecurrence, TimeZone
from .zones import TimeZoneName

# Peers send the rule under these names too.
_RECURRENCE_NAMES = AliasChoices("recurrence", "recurrence_pattern", "recurrence_rule")

_EXAMPLE_TASK: dict[str, Any] = {
    "id": 42,
    "user_id": "user123",
    "title": "Pay rent",
    "description": "Transfer to the landlord",
    "completed": False,
    "priority": "high",
    "tags": ["home", "money"],
    "due_date": "2026-12-04T16:00:00.000000+00:00",
    "time_zone": "Europe/Berlin",
    "recurrence": "monthly",
    "remind_at": "2026-12-04T15:30:00.000000+00:00",
    "reminder_minutes_before": 30,
    "parent_task_id": None,
    "completed_at": None,
    "created_at": "2026-11-27T15:13:39.139968+00:00",
    "updated_at": "2026-11-27T15:13:39.139968+00:00",
}


class TaskCreate(BaseModel):
    """Body of `POST`. Unknown fields (`id`, `user_id`, timestamps...) are ignored: the server owns them."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"title": "Buy groceries", "description": "Milk, eggs"},
                {"title": "Pay rent", "priority": "high", "tags": ["home"], "due_date": "2026-12-04T17:00",
                 "time_zone": "Europe/Berlin"},
            ]
        }
    )  # fmt: skip

    title: Title
    description: Description | None = None
    completed: StrictBool = False
    priority: Priority = "medium"
    tags: Tags = []
    due_date: DueDate = None
    time_zone: TimeZone = TimeZoneName("UTC")
    recurrence: Recurrence = Field(default=None, validation_alias=_RECURRENCE_NAMES)
    remind_at: RemindAt = None
    reminder_minutes_before: ReminderMinutes = None


class TaskUpdate(BaseModel):
    """Body of `PUT`: `title` is required; every other field changes only when sent.

    An omitted field keeps its value (a frontend that sends just the title loses nothing);
    `"description": null` clears the description, `"due_date": null` the due date.
    """

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"title": "Buy organic groceries", "completed": True}]}
    )

    title: Title
    description: Description | None = None
    completed: StrictBool | None = None
    # Optional, but never null: each has a value on every task.
    priority: Priority = None  # type: ignore[assignment]
    tags: Tags = None  # type: ignore[assignment]
    due_date: DueDate = None
    time_zone: TimeZone = None  # type: ignore[assignment]
    recurrence: Recurrence = Field(default=None, validation_alias=_RECURRENCE_NAMES)
    remind_at: RemindAt = None
    reminder_minutes_before: ReminderMinutes = None

    def changes(self) -> dict[str, Any]:
        """The fields sent; a `null` for `completed` means "leave it"."""
        values = self.model_dump(include=self.model_fields_set)
        if values.get("completed", False) is None:
            del values["completed"]
        return values


class TaskPatch(TaskUpdate):
    """Body of `PATCH`: any of the fields of `PUT`; `{}` changes nothing."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"completed": True}, {"priority": "urgent"}]})

    title: Title = None  # type: ignore[assignment]  # optional here, but never null


class TaskRead(BaseModel):
    """A task, as every endpoint returns it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE_TASK]})

    id: int
    user_id: str
    title: str = Field(max_length=TITLE_MAX_LENGTH)
    description: str | None = Field(max_length=DESCRIPTION_MAX_LENGTH)
    completed: bool
    priority: PriorityName
    tags: list[str] = Field(description="In the order given, without duplicates")
    due_date: date | datetime | None = Field(
        description="A date for an all-day task, else a date-time in UTC (+00:00); null: none"
    )
    time_zone: TimeZoneName = Field(description="The zone of wall-clock due times and of all-day tasks")
    recurrence: StoredRecurrence
    remind_at: datetime | None = Field(description="When the reminder fires (UTC); null: no reminder")
    reminder_minutes_before: int | None = Field(description="null for a reminder at a fixed time")
    parent_task_id: int | None = Field(
        description="The occurrence of a recurring series this one follows; null for a first or plain task"
    )
    completed_at: datetime | None = Field(description="When the task was last completed; null while open")
    created_at: datetime = Field(description="ISO 8601, UTC, with an explicit +00:00 offset")
    updated_at: datetime = Field(description="Strictly increases with every change")


class TagCount(BaseModel):
    """A tag of the user's, and how many of their tasks carry it."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "work", "count": 3}]})

    name: str = Field(description="As most of those tasks spell it")
    count: int
