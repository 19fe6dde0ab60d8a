"""The rules of a task's time fields (due date, time zone, recurrence, reminder), shared by REST and MCP."""

from datetime import date, datetime
from typing import Annotated

from pydantic import BeforeValidator, Field, WithJsonSchema

from ..models import MAX_REMINDER_MINUTES
from .due import parse_due
from .recurrence import SUPPORTED, normalize_recurrence
from .zones import TimeZoneName, canonical_zone


def _due(value: object) -> object:
    if isinstance(value, str):
        return parse_due(value)
    if value is None:
        return None
    raise ValueError("must be a date (YYYY-MM-DD), an RFC 3339 date-time, or null")


DueDate = Annotated[
    date | datetime | None,
    BeforeValidator(_due),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time"},
                {"type": "null"},
            ],
            "description": (
                'A date ("2026-12-05": all day, overdue once that day has ended in `time_zone`), or a'
                " date-time: with an offset it is that instant (returned in UTC); without one"
                ' ("2026-12-05T17:00", as datetime-local inputs send) it is wall-clock time in'
                " `time_zone`. null: no due date."
            ),
            "examples": ["2026-12-05", "2026-12-05T17:00:00+01:00"],
        }
    ),
]


def zone_name(value: object) -> str:
    if isinstance(value, str) and (name := canonical_zone(value)) is not None:
        return name
    raise ValueError('must be an IANA time zone name, such as "Europe/Berlin" or "UTC"')


TimeZone = Annotated[TimeZoneName, BeforeValidator(zone_name)]


def _recurrence(value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"must be a string: {SUPPORTED}")
    return normalize_recurrence(value)


# The schema states the forms written as documented (the words, or a rule in its normal form);
# what is accepted besides (an `RRULE:` prefix, any case and order, UNTIL) is in the description.
_N, _DAYS = "[1-9][0-9]{0,3}", "(?:MO|TU|WE|TH|FR|SA|SU)"
_MONTHDAYS = "-?(?:[1-9]|[12][0-9]|3[01])"
_MONTHS = "(?:[1-9]|1[0-2])"
_INTERVAL_AND_MONTHS = f"(?:;INTERVAL={_N})?(?:;BYMONTH={_MONTHS}(?:,{_MONTHS})*)?"
_PARTS = f"{_INTERVAL_AND_MONTHS}(?:;BYMONTHDAY={_MONTHDAYS}(?:,{_MONTHDAYS})*)?"
_ORDINAL_DAY = f"(?:[+-]?(?:[1-9]|[1-4][0-9]|5[0-3]))?{_DAYS}"
RRULE_PATTERN = (
    f"^FREQ=(?:(?:DAILY|WEEKLY){_PARTS}(?:;BYDAY={_DAYS}(?:,{_DAYS})*)?"
    f"|(?:MONTHLY|YEARLY){_PARTS}(?:;BYDAY={_ORDINAL_DAY}(?:,{_ORDINAL_DAY})*)?)(?:;COUNT={_N})?$"
)
STORED_RRULE_PATTERN = RRULE_PATTERN.replace(
    f"(?:;COUNT={_N})?$", f"(?:;COUNT={_N}|;UNTIL=[0-9]{{8}}(?:T[0-9]{{6}}Z?)?)?$"
)
_WORDS = ["daily", "weekly", "monthly", "yearly"]

Recurrence = Annotated[
    str | None,
    BeforeValidator(_recurrence),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "enum": [*_WORDS, "none", ""]},
                {"type": "string", "pattern": RRULE_PATTERN},
                {"type": "null"},
            ],
            "description": (
                'How the task repeats: "daily", "weekly", "monthly" or "yearly", or an RFC 5545 RRULE with'
                " FREQ (DAILY, WEEKLY, MONTHLY, YEARLY) and any of INTERVAL, BYDAY, BYMONTHDAY (negative"
                " counts from the end of the month), BYMONTH, COUNT or UNTIL; an `RRULE:` prefix, any case"
                ' and any order are accepted. null, "none" or "": no recurrence. It needs a due_date. Also'
                " accepted as `recurrence_pattern` or `recurrence_rule`."
            ),
            "examples": ["weekly", "FREQ=MONTHLY;BYMONTHDAY=-1", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH"],
        }
    ),
]
StoredRecurrence = Annotated[
    str | None,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "enum": _WORDS},
                {"type": "string", "pattern": STORED_RRULE_PATTERN},
                {"type": "null"},
            ],
            "description": "As sent: a word stays a word; a rule in its normal form (parts in order)",
        }
    ),
]


def _remind_at(value: object) -> object:
    if value is None:
        return None
    moment = parse_due(value) if isinstance(value, str) else None
    if not isinstance(moment, datetime):
        raise ValueError("must be an RFC 3339 date-time, or null")
    return moment


RemindAt = Annotated[
    datetime | None,
    BeforeValidator(_remind_at),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
            "description": (
                "When to remind: a date-time (without an offset: wall-clock time in `time_zone`); one that"
                " has passed fires at once. Or give reminder_minutes_before instead. null: no reminder."
            ),
        }
    ),
]


def _a_number(value: object) -> object:
    # A JSON integer, which may be written 30.0; not "30", not true.
    if isinstance(value, str | bool):
        raise ValueError("must be an integer number of minutes")
    return value


ReminderMinutes = Annotated[
    Annotated[int, Field(ge=0, le=MAX_REMINDER_MINUTES)] | None,
    BeforeValidator(_a_number),
    Field(
        description=(
            "Remind this many minutes before the due date (for an all-day task, before the start of its"
            " day in `time_zone`); it moves with the due date. 0 to 40320 (four weeks); null: none."
        ),
    ),
]
