"""A notification's JSON shape."""

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class NotificationRead(BaseModel):
    """A reminder that fired: what it was about, and whether the user has seen it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "task_id": 42,
                    "title": "Pay rent",
                    "due_date": "2026-12-04T16:00:00.000000+00:00",
                    "remind_at": "2026-12-04T15:30:00.000000+00:00",
                    "created_at": "2026-12-04T15:30:00.412398+00:00",
                    "read": False,
                }
            ]
        }
    )

    id: int
    task_id: int = Field(description="The task, which may have been deleted since")
    title: str = Field(description="The task's title when the reminder fired")
    due_date: date | datetime | None = Field(description="The task's due date when the reminder fired")
    remind_at: datetime
    created_at: datetime = Field(description="When the reminder fired")
    read: bool
