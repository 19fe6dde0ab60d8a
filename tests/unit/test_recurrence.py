"""Recurrence rules and a series' next occurrence, computed in the task's zone (dateutil's rrule)."""

from datetime import UTC, date, datetime

import pytest

from todo_api.tasks.due import Due, due_in_zone
from todo_api.tasks.recurrence import normalize_recurrence
from todo_api.tasks.timing import InvalidChange, Timing, apply, successor
from todo_api.tasks.zones import zone


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("daily", "daily"),
        ("Weekly", "weekly"),
        (" monthly ", "monthly"),
        ("yearly", "yearly"),
        ("none", None),
        (None, None),
        ("RRULE:freq=weekly;byday=mo,we", "FREQ=WEEKLY;BYDAY=MO,WE"),
        ("BYMONTHDAY=-1;FREQ=MONTHLY", "FREQ=MONTHLY;BYMONTHDAY=-1"),
        ("FREQ=DAILY;COUNT=3;INTERVAL=2", "FREQ=DAILY;INTERVAL=2;COUNT=3"),
        ("FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24", "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "FREQ=MONTHLY;BYDAY=-1FR"),
        ("FREQ=DAILY;UNTIL=20261231T230000Z", "FREQ=DAILY;UNTIL=20261231T230000Z"),
    ],
)
def test_rules_are_stored_normalized_and_words_stay_words(given: str | None, stored: str | None) -> None:
    assert normalize_recurrence(given) == stored


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("hourly", "not supported"),
        ("FREQ=HOURLY", "not supported"),
        ("FREQ=SECONDLY", "not supported"),
        ("FREQ=DAILY;BYHOUR=9", "not supported"),
        ("FREQ=DAILY;BYSETPOS=1", "not supported"),
        ("FREQ=DAILY;WKST=MO", "not supported"),
        ("INTERVAL=2", "needs FREQ"),
        ("FREQ=DAILY;INTERVAL=0", "not supported"),
        ("FREQ=WEEKLY;BYDAY=XX", "not supported"),
        ("FREQ=WEEKLY;BYDAY=1MO", "MONTHLY or YEARLY"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20261231", "not both"),
        ("FREQ=DAILY;UNTIL=20260230", "not a real date"),
        ("FREQ=DAILY;FREQ=WEEKLY", "not supported"),
        ("every day", "not supported"),
    ],
)
def test_anything_else_says_what_is_supported(given: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_recurrence(given)


def series(zone_name: str, due: date | datetime, rule: str, **changes: object) -> Timing:
    return apply({"due_date": due, "time_zone": zone_name, "recurrence": rule, **changes})


def local(timing: Timing | None) -> datetime | date | None:
    """The due date as the user sees it: a date, or the wall-clock time in the task's zone."""
    assert timing is not None
    if timing.due.all_day:
        return timing.due.day
    assert timing.due.at is not None
    return timing.due.at.astimezone(zone(timing.time_zone)).replace(tzinfo=None)


def done(timing: Timing, at: datetime) -> Timing | None:
    return successor(timing, at)


@pytest.mark.parametrize(
    ("zone_name", "before", "after"),
    [
        # Berlin: 29 March 2026 02:00 -> 03:00; 25 October 03:00 -> 02:00.
        ("Europe/Berlin", datetime(2026, 3, 28, 9), datetime(2026, 3, 29, 9)),
        ("Europe/Berlin", datetime(2026, 10, 24, 9), datetime(2026, 10, 25, 9)),
        # New York: 8 March 2026, 1 November.
        ("America/New_York", datetime(2026, 3, 7, 9), datetime(2026, 3, 8, 9)),
        ("America/New_York", datetime(2026, 10, 31, 9), datetime(2026, 11, 1, 9)),
    ],
)
def test_a_daily_nine_oclock_stays_at_nine_across_dst(
    zone_name: str, before: datetime, after: datetime
) -> None:
    first = series(zone_name, before, "daily")
    following = done(first, first.due.at)  # type: ignore[arg-type]
    assert local(following) == after
    assert following is not None
    assert following.due.at is not None
    assert first.due.at is not None
    assert following.due.at - first.due.at != after - before  # 23 or 25 hours apart, not 24


def test_shorthands_step_by_their_calendar_unit() -> None:
    start = datetime(2026, 1, 31, 8, 0)
    assert local(done(series("UTC", start, "weekly"), datetime(2026, 1, 31, tzinfo=UTC))) == datetime(
        2026, 2, 7, 8
    )
    assert local(done(series("UTC", start, "yearly"), datetime(2026, 1, 31, tzinfo=UTC))) == datetime(
        2027, 1, 31, 8
    )
    # RFC 5545: a monthly series from the 31st skips the months without one.
    monthly = series("UTC", start, "monthly")
    assert local(done(monthly, datetime(2026, 2, 1, tzinfo=UTC))) == datetime(2026, 3, 31, 8)


def test_the_last_day_of_every_month() -> None:
    rule = series("Europe/Berlin", date(2026, 1, 31), "FREQ=MONTHLY;BYMONTHDAY=-1")
    seen = []
    for _ in range(4):
        rule = done(rule, datetime(2020, 1, 1, tzinfo=UTC))  # type: ignore[assignment]
        seen.append(local(rule))
    assert seen == [date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31)]


def test_interval_and_weekdays() -> None:
    # Every second week on Monday and Thursday, from Monday 7 December 2026.
    rule = series("UTC", datetime(2026, 12, 7, 18), "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH")
    following = done(rule, datetime(2026, 12, 7, 19, tzinfo=UTC))
    assert local(following) == datetime(2026, 12, 10, 18)
    assert local(done(following, datetime(2026, 12, 10, 19, tzinfo=UTC))) == datetime(2026, 12, 21, 18)  # type: ignore[arg-type]


def test_a_late_completion_skips_the_missed_occurrences() -> None:
    rule = series("Europe/Berlin", datetime(2026, 12, 1, 9), "daily")
    # Completed on the 5th at 10:00 Berlin: the 2nd to the 5th are not piled up as overdue copies.
    following = done(rule, datetime(2026, 12, 5, 9, tzinfo=UTC))
    assert local(following) == datetime(2026, 12, 6, 9)
    # Completed at 08:00 on the 5th: the 5th's own 09:00 is still ahead.
    assert local(done(rule, datetime(2026, 12, 5, 7, tzinfo=UTC))) == datetime(2026, 12, 5, 9)


def test_an_all_day_series_stays_all_day() -> None:
    rule = series("Pacific/Auckland", date(2026, 12, 5), "daily")
    following = done(rule, datetime(2026, 12, 5, 10, tzinfo=UTC))  # 23:00 on the 5th in Auckland
    assert following is not None
    assert (following.due.all_day, following.due.day) == (True, date(2026, 12, 6))
    assert following.due == due_in_zone(date(2026, 12, 6), zone("Pacific/Auckland"))


def test_a_series_ends_with_count_and_until() -> None:
    start = datetime(2026, 12, 1, 9)
    three = series("UTC", start, "FREQ=DAILY;COUNT=3")
    second = done(three, datetime(2026, 12, 1, 10, tzinfo=UTC))
    third = done(second, datetime(2026, 12, 2, 10, tzinfo=UTC))  # type: ignore[arg-type]
    assert [local(second), local(third)] == [datetime(2026, 12, 2, 9), datetime(2026, 12, 3, 9)]
    assert done(third, datetime(2026, 12, 3, 10, tzinfo=UTC)) is None  # type: ignore[arg-type]
    until = series("UTC", start, "FREQ=DAILY;UNTIL=20261202")
    assert local(done(until, datetime(2026, 12, 1, 10, tzinfo=UTC))) == datetime(2026, 12, 2, 9)
    assert done(until, datetime(2026, 12, 2, 10, tzinfo=UTC)) is None


def test_the_successor_keeps_the_reminders_distance() -> None:
    relative = series("UTC", datetime(2026, 12, 1, 9), "daily", reminder_minutes_before=30)
    next_relative = done(relative, datetime(2026, 12, 1, 10, tzinfo=UTC))
    assert local(next_relative) == datetime(2026, 12, 2, 9)
    assert next_relative is not None
    assert next_relative.remind_at == datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    absolute = series(
        "UTC", datetime(2026, 12, 1, 9), "daily", remind_at=datetime(2026, 11, 30, 20, tzinfo=UTC)
    )
    following = done(absolute, datetime(2026, 12, 1, 10, tzinfo=UTC))
    assert following is not None
    assert following.remind_at == datetime(2026, 12, 1, 20, tzinfo=UTC)
    assert following.reminder_minutes_before is None


def test_rules_that_need_a_due_date_or_contradict_are_refused() -> None:
    with pytest.raises(InvalidChange, match="needs a due date") as recurring:
        apply({"recurrence": "daily"})
    assert recurring.value.field == "recurrence"
    with pytest.raises(InvalidChange, match="needs a due date") as relative:
        apply({"reminder_minutes_before": 30})
    assert relative.value.field == "reminder_minutes_before"
    with pytest.raises(InvalidChange, match="not both"):
        apply({"due_date": date(2026, 12, 1), "remind_at": datetime(2026, 12, 1, tzinfo=UTC),
               "reminder_minutes_before": 5})  # fmt: skip
    stored = series("UTC", date(2026, 12, 1), "daily")
    with pytest.raises(InvalidChange, match="needs a due date") as cleared:
        apply({"due_date": None}, stored)
    assert cleared.value.field == "due_date"


def test_a_relative_reminder_moves_with_the_due_date_and_the_zone() -> None:
    first = apply({"due_date": date(2026, 12, 5), "time_zone": "UTC", "reminder_minutes_before": 60})
    assert first.remind_at == datetime(2026, 12, 4, 23, tzinfo=UTC)  # an hour before the day starts
    moved = apply({"due_date": date(2026, 12, 6)}, first)
    assert moved.remind_at == datetime(2026, 12, 5, 23, tzinfo=UTC)
    tokyo = apply({"time_zone": "Asia/Tokyo"}, moved)
    assert tokyo.remind_at == datetime(2026, 12, 5, 14, tzinfo=UTC)  # the 6th starts at 15:00 UTC there
    fixed = apply({"remind_at": datetime(2026, 12, 1, 12, 0)}, tokyo)  # wall-clock time in Tokyo
    assert (fixed.remind_at, fixed.reminder_minutes_before) == (datetime(2026, 12, 1, 3, tzinfo=UTC), None)
    assert apply({"due_date": date(2026, 12, 9)}, fixed).remind_at == fixed.remind_at  # a fixed time stays
    assert Due() == apply({}).due
