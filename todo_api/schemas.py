"""The API's JSON shapes: what clients may send, and what they get back."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_serializer,
)

from .models import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH


def _storable(value: str) -> str:
    # PostgreSQL text cannot hold NUL; say so instead of failing at the database.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Title = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=TITLE_MAX_LENGTH),
    AfterValidator(_storable),
]
Description = Annotated[
    str, StringConstraints(strict=True, max_length=DESCRIPTION_MAX_LENGTH), AfterValidator(_storable)
]


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

    def changes(self) -> dict[str, object]:
        values = self.model_dump(include=self.model_fields_set | {"title"})
        if values.get("completed", False) is None:  # `null` for a boolean means "leave it"
            del values["completed"]
        return values


class TaskRead(BaseModel):
    id: int
    user_id: str
    title: str
    description: str | None
    completed: bool
    created_at: datetime
    updated_at: datetime

    @field_serializer("created_at", "updated_at")
    def _as_utc(self, value: datetime) -> str:
        return value.astimezone(UTC).isoformat()


class ErrorResponse(BaseModel):
    """Every error body: `detail` is a message, or a list of field errors for 422."""

    detail: str | list[dict[str, object]] = Field(examples=["Task not found"])
