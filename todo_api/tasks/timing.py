"""A task's time fields as stored (due date, zone, recurrence, reminder), and how a write changes them.

Everything here is computed in Python (`zoneinfo`, `dateutil`), from the values a client sent and, for
an update, the row as it was. The database stores the result and derives nothing but a reminder's
state (see migration 0005).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from .due import Due, due_in_zone
from .recurrence import next_due
from .zones import zone

TIME_FIELDS = frozenset({"due_date", "time_zone", "recurrence", "remind_at", "reminder_minutes_before"})


class InvalidChange(ValueError):
    """Values that are each valid but not together (a recurring task without a due date): a 422."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Timing:
    time_zone: str = "UTC"
    due: Due = field(default_factory=Due)
    recurrence: str | None = None
    series_start_at: datetime | None = None  # the series' first due (the anchor of its rule)
    remind_at: datetime | None = None
    reminder_minutes_before: int | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Timing":
        due = Due(row["due_at"], row["due_day"], row["due_all_day"], row["overdue_at"])
        return cls(row["time_zone"], due, row["recurrence"], row["series_start_at"], row["remind_at"],
                   row["reminder_minutes_before"])  # fmt: skip

    def columns(self) -> dict[str, Any]:
        """The stored columns, by name."""
        return {
            "time_zone": self.time_zone,
            "due_at": self.due.at,
            "due_day": self.due.day,
            "due_all_day": self.due.all_day,
            "overdue_at": self.due.overdue_at,
            "recurrence": self.recurrence,
            "series_start_at": self.series_start_at,
            "remind_at": self.remind_at,
            "reminder_minutes_before": self.reminder_minutes_before,
        }


def apply(changes: Mapping[str, Any], stored: Timing = Timing()) -> Timing:
    """The time fields once `changes` (validated API values; absent = kept) are applied to `stored`."""
    time_zone = str(changes.get("time_zone") or stored.time_zone)
    tz = zone(time_zone)
    due = due_in_zone(changes.get("due_date", stored.due.value), tz)
    recurrence = changes.get("recurrence", stored.recurrence)
    if recurrence is not None and due.at is None:
        raise InvalidChange(
            "recurrence" if "recurrence" in changes else "due_date", "a recurring task needs a due date"
        )
    series_start = stored.series_start_at if recurrence == stored.recurrence else due.at
    timing = Timing(time_zone, due, recurrence, series_start if recurrence else None)
    return _with_reminder(timing, changes, stored)


def _with_reminder(timing: Timing, changes: Mapping[str, Any], stored: Timing) -> Timing:
    minutes, remind_at = stored.reminder_minutes_before, stored.remind_at
    if "remind_at" in changes or "reminder_minutes_before" in changes:
        minutes, remind_at = changes.get("reminder_minutes_before"), changes.get("remind_at")
        if minutes is not None and remind_at is not None:
            raise InvalidChange(
                "reminder_minutes_before", "give remind_at or reminder_minutes_before, not both"
            )
        if isinstance(remind_at, datetime) and remind_at.tzinfo is None:  # wall-clock time in the zone
            remind_at = remind_at.replace(tzinfo=zone(timing.time_zone), fold=0)
    if minutes is not None:
        if timing.due.at is None:
            raise InvalidChange("reminder_minutes_before", "a reminder before the due date needs a due date")
        remind_at = timing.due.at - timedelta(minutes=minutes)
    return replace(timing, remind_at=remind_at, reminder_minutes_before=minutes)


def successor(timing: Timing, completed_at: datetime) -> Timing | None:
    """The next occurrence of a recurring task completed at `completed_at`: its first due date after
    both the completed one and the completion (missed ones are skipped), with the reminder at the same
    distance from it. None when the task does not recur, or its rule has ended."""
    if timing.recurrence is None or timing.due.at is None:
        return None
    tz = zone(timing.time_zone)
    start = timing.series_start_at or timing.due.at
    after = max(timing.due.at, completed_at)
    following = next_due(timing.recurrence, start, after, tz, all_day=timing.due.all_day)
    if following is None:
        return None
    due = due_in_zone(following, tz)
    remind_at = None
    if timing.remind_at is not None and due.at is not None:
        remind_at = due.at - (timing.due.at - timing.remind_at)
    return replace(timing, due=due, remind_at=remind_at)
