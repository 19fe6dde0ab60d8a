"""The API's JSON shapes: what clients may send, and what they get back."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
)

from .models import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH

# PostgreSQL text cannot hold NUL.
NO_NUL = r"^[^\x00]*$"


def _encodable(value: str) -> str:
    # JSON may escape half a surrogate pair ("\ud800"); such a string has no UTF-8 form to store.
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


# The title rule as one JSON Schema pattern, so the OpenAPI document states it exactly: any
# surrounding whitespace, then 1-200 characters without NUL that begin and end with a non-space
# (a plain maxLength would count the whitespace that is trimmed away). "Whitespace" is spelled
# out as Unicode's White_Space, which is what pydantic trims; regex engines disagree on `\s`.
_WHITE_SPACE = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_SPACE, _VISIBLE = f"[{_WHITE_SPACE}]", f"[^\\x00{_WHITE_SPACE}]"
TITLE_PATTERN = rf"^{_SPACE}*(?:{_VISIBLE}|{_VISIBLE}[^\x00]{{0,{TITLE_MAX_LENGTH - 2}}}{_VISIBLE}){_SPACE}*$"

Title = Annotated[
    str,
    StringConstraints(
        strict=True, strip_whitespace=True, min_length=1, max_length=TITLE_MAX_LENGTH, pattern=NO_NUL
    ),
    AfterValidator(_encodable),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": TITLE_PATTERN,
            "description": "Trimmed, then 1-200 characters",
            "examples": ["Buy groceries"],
        }
    ),
]
Description = Annotated[
    str,
    StringConstraints(strict=True, max_length=DESCRIPTION_MAX_LENGTH, pattern=NO_NUL),
    AfterValidator(_encodable),
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


class ErrorResponse(BaseModel):
    """Every error body except 422's: `detail` is a message a frontend can show."""

    detail: str = Field(examples=["Task not found"])


class ServerErrorResponse(ErrorResponse):
    """A 5xx body: the message, and the request's id to quote to whoever runs the service."""

    detail: str = Field(examples=["The service is temporarily unavailable. Please try again shortly."])
    request_id: str = Field(
        description="The same as the response's X-Request-ID; every log line of the request carries it",
        examples=["4bf92f3577b34da6a3ce929d0e0e4736"],
    )
