"""A task's JSON shapes: what clients may send, and what they get back."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from ..models import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH
from .fields import Description, Title


class TaskCreate(BaseModel):
    """Body of `POST`. Unknown fields (`id`, `user_id`, timestamps...) are ignored: the server owns them."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"title": "Buy groceries", "description": "Milk, eggs"}]}
    )

    title: Title
    description: Description | None = None
    completed: StrictBool = False


class TaskUpdate(BaseModel):
    """Body of `PUT`: `title` is required; `description` and `completed` change only when sent.

    An omitted field keeps its value (a frontend that sends just the title loses nothing);
    `"description": null` clears the description.
    """

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"title": "Buy organic groceries", "completed": True}]}
    )

    title: Title
    description: Description | None = None
    completed: StrictBool | None = None

    def changes(self) -> dict[str, Any]:
        """The fields sent; a `null` for `completed` means "leave it"."""
        values = self.model_dump(include=self.model_fields_set)
        if values.get("completed", False) is None:
            del values["completed"]
        return values


class TaskPatch(TaskUpdate):
    """Body of `PATCH`: any of `title`, `description`, `completed`; `{}` changes nothing."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"completed": True}]})

    title: Title = None  # type: ignore[assignment]  # optional here, but never null


class TaskRead(BaseModel):
    """A task, as every endpoint returns it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 42,
                    "user_id": "user123",
                    "title": "Buy groceries",
                    "description": "Milk, eggs",
                    "completed": False,
                    "created_at": "2026-11-27T15:13:39.139968+00:00",
                    "updated_at": "2026-11-27T15:13:39.139968+00:00",
                }
            ]
        }
    )

    id: int
    user_id: str
    title: str = Field(max_length=TITLE_MAX_LENGTH)
    description: str | None = Field(max_length=DESCRIPTION_MAX_LENGTH)
    completed: bool
    created_at: datetime = Field(description="ISO 8601, UTC, with an explicit +00:00 offset")
    updated_at: datetime = Field(description="Strictly increases with every change")
