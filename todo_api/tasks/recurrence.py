"""Recurrence: the words and the part of RFC 5545's RRULE that tasks take, and a series' next due date.

The calendar is `dateutil.rrule`'s. Occurrences are computed on wall-clock time in the task's zone
(a naive DTSTART, the zone attached afterwards), so a 09:00 series stays at 09:00 local across DST
changes, and anchored at the series' first due date. As RFC 5545 says, a monthly series that starts
on the 31st skips the months without one (`BYMONTHDAY=-1` is the last day of every month).
"""

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from dateutil.rrule import rrule, rrulestr

SHORTHANDS = {word: f"FREQ={word.upper()}" for word in ("daily", "weekly", "monthly", "yearly")}
_ORDER = ("FREQ", "INTERVAL", "BYMONTH", "BYMONTHDAY", "BYDAY", "COUNT", "UNTIL")
SUPPORTED = (
    'use "daily", "weekly", "monthly" or "yearly", or an RRULE with FREQ=DAILY, WEEKLY, MONTHLY or'
    " YEARLY and any of INTERVAL, BYDAY, BYMONTHDAY, BYMONTH, COUNT or UNTIL"
)
_LIST = r"(?:{item})(?:,(?:{item}))*"
_VALUES = {
    "FREQ": re.compile(r"DAILY|WEEKLY|MONTHLY|YEARLY"),
    "INTERVAL": re.compile(r"[1-9]\d{0,3}"),
    "COUNT": re.compile(r"[1-9]\d{0,3}"),
    "BYMONTH": re.compile(_LIST.format(item=r"[1-9]|1[0-2]")),
    "BYMONTHDAY": re.compile(_LIST.format(item=r"-?(?:[1-9]|[12]\d|3[01])")),
    "BYDAY": re.compile(_LIST.format(item=r"(?:[+-]?(?:[1-9]|[1-4]\d|5[0-3]))?(?:MO|TU|WE|TH|FR|SA|SU)")),
    "UNTIL": re.compile(r"\d{8}(?:T\d{6}Z?)?"),
}
MAX_LENGTH = 300


def normalize_recurrence(text: str | None) -> str | None:
    """What is stored: None (also for "none"), a shorthand word, or the rule in a normalized form
    (upper case, no `RRULE:` prefix, parts in a fixed order). ValueError says what is supported."""
    if text is None or text.strip().lower() in {"", "none"}:
        return None
    value = text.strip()
    if value.lower() in SHORTHANDS:
        return value.lower()
    if len(value) > MAX_LENGTH:
        raise ValueError(f"a rule has at most {MAX_LENGTH} characters")
    body = value[6:] if value.upper().startswith("RRULE:") else value
    parts: dict[str, str] = {}
    for piece in body.split(";"):
        name, _, given = (part.strip().upper() for part in piece.partition("="))
        if name not in _VALUES or name in parts or not _VALUES[name].fullmatch(given):
            raise ValueError(f"{piece.strip()!r} is not supported: {SUPPORTED}")
        parts[name] = given
    if "FREQ" not in parts:
        raise ValueError(f"a rule needs FREQ: {SUPPORTED}")
    if "COUNT" in parts and "UNTIL" in parts:
        raise ValueError("a rule takes COUNT or UNTIL, not both")
    if parts["FREQ"] in {"DAILY", "WEEKLY"} and any(c.isdigit() for c in parts.get("BYDAY", "")):
        raise ValueError("a BYDAY with a number (1MO, -1FR) needs FREQ=MONTHLY or YEARLY")
    if "UNTIL" in parts:
        try:
            _until(parts["UNTIL"], UTC)
        except ValueError:
            raise ValueError(f"UNTIL={parts['UNTIL']} is not a real date or time") from None
    return ";".join(f"{name}={parts[name]}" for name in _ORDER if name in parts)


def next_due(
    recurrence: str, start: datetime, after: datetime, zone: tzinfo, *, all_day: bool
) -> datetime | date | None:
    """The series' first due date after `after` (an instant), or None when the rule has ended.

    `start` is the series' first due (an instant: for an all-day series, its start of day). The
    result is an instant, or a date for an all-day series.
    """
    local_start = start.astimezone(zone).replace(tzinfo=None)
    if all_day:
        local_start = datetime.combine(local_start.date(), time())
    rule = _rule(recurrence, local_start, zone)
    found = rule.after(after.astimezone(zone).replace(tzinfo=None))
    if found is None:
        return None
    if all_day:
        return found.date()
    # rrule works in whole seconds: the series keeps its first due date's fraction.
    found = found.replace(microsecond=local_start.microsecond)
    return found.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _rule(recurrence: str, local_start: datetime, zone: tzinfo) -> rrule:
    body = SHORTHANDS.get(recurrence, recurrence)
    parts = dict(part.split("=", 1) for part in body.split(";"))
    until = parts.pop("UNTIL", None)
    rule = rrulestr("RRULE:" + ";".join(f"{k}={v}" for k, v in parts.items()), dtstart=local_start)
    assert isinstance(rule, rrule)  # one RRULE, no set
    return rule.replace(until=_until(until, zone)) if until is not None else rule


def _until(value: str, zone: tzinfo) -> datetime:
    """UNTIL as wall-clock time in the zone: a UTC instant converted, a date to its last moment."""
    if len(value) == 8:
        day = datetime.strptime(value, "%Y%m%d")
        return day + timedelta(days=1) - timedelta(microseconds=1)
    moment = datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S")
    if value.endswith("Z"):
        return moment.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
    return moment
