"""Due dates: what clients send (a date, or an RFC 3339 date-time with or without an offset), and the
instants stored for it, computed with `zoneinfo` in the task's time zone.

- A date means "all day": it becomes overdue when that day has ended in the task's zone.
- A date-time with an offset is an instant, whatever the zone.
- A date-time without one (what `<input type="datetime-local">` sends) is wall-clock time in the
  task's zone, fixed to an instant when it is written. As RFC 5545 reads such times, one that a DST
  change makes occur twice is its first occurrence, and one that it skips uses the offset before the
  gap (02:30 on a spring-forward night is 03:30).
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

# RFC 3339's full-date, and its date-time with the offset optional (and minutes without seconds,
# as browsers send them); `T`/`Z` in either case, a space for the `T` too.
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:([Zz])|([+-])(\d{2}):(\d{2}))?"
)


def parse_due(text: str) -> date | datetime:
    """A date, or a date-time (naive when it carries no offset); ValueError when it is neither."""
    try:
        return _parse(text)
    except ValueError as error:
        if "must be" in str(error):
            raise
        raise ValueError(f"{text!r} is not a real date or time") from None


def _parse(text: str) -> date | datetime:
    if match := _DATE.fullmatch(text):
        year, month, day = map(int, match.groups())
        return date(year, month, day)  # ValueError for 2026-02-30
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise ValueError("must be a date (YYYY-MM-DD) or an RFC 3339 date-time")
    year, month, day, hour, minute = map(int, match.groups()[:5])
    second, fraction = int(match[6] or 0), (match[7] or "")[:6].ljust(6, "0")
    microsecond = int(fraction)
    if second == 60:  # a leap second: the last microsecond before it
        second, microsecond = 59, 999_999
    zone: tzinfo | None = None
    if match[8]:
        zone = UTC
    elif match[9]:
        offset = timedelta(hours=int(match[10]), minutes=int(match[11]))
        zone = timezone(-offset if match[9] == "-" else offset)
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=zone)


@dataclass(frozen=True, slots=True)
class Due:
    """The stored form of a due date (see `models.tasks`)."""

    at: datetime | None = None  # the instant; for an all-day task, the start of its day in the zone
    day: date | None = None  # the local date in the task's zone
    all_day: bool = False
    overdue_at: datetime | None = None  # when an open task becomes overdue

    @property
    def value(self) -> date | datetime | None:
        """What the API returns: the date of an all-day task, else the instant."""
        return self.day if self.all_day else self.at


def due_in_zone(value: date | datetime | None, zone: tzinfo) -> Due:
    if value is None:
        return Due()
    if isinstance(value, datetime):
        instant = _in_utc(value if value.tzinfo is not None else value.replace(tzinfo=zone, fold=0))
        return Due(at=instant, day=_local_date(instant, zone), overdue_at=instant)
    end = start_of_day(value + _DAY, zone) if value < date.max else _LATEST
    return Due(at=start_of_day(value, zone), day=value, all_day=True, overdue_at=end)


def start_of_day(day: date, zone: tzinfo) -> datetime:
    """Local midnight as an instant (or the first moment of the day, where DST skips midnight)."""
    return _in_utc(datetime.combine(day, time(), tzinfo=zone))


_DAY = timedelta(days=1)
_EARLIEST, _LATEST = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)


def _in_utc(moment: datetime) -> datetime:
    # Within a day of year 1 or 9999 the instant may fall outside what datetime holds: clamp.
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return _EARLIEST if moment.year == 1 else _LATEST


def _local_date(instant: datetime, zone: tzinfo) -> date:
    try:
        return instant.astimezone(zone).date()
    except OverflowError:
        return instant.date()
