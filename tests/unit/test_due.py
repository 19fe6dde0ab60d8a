"""Due dates as clients send them, and the instants they become in a time zone (RFC 5545's reading)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from todo_api.tasks.due import due_in_zone, parse_due
from todo_api.tasks.zones import ZONE_NAMES, canonical_zone, zone


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-05", date(2026, 12, 5)),
        ("2026-12-05T10:00", datetime(2026, 12, 5, 10, 0)),  # datetime-local: no seconds, no offset
        ("2026-12-05T10:00:30.5", datetime(2026, 12, 5, 10, 0, 30, 500_000)),
        ("2026-12-05T10:00:00Z", datetime(2026, 12, 5, 10, tzinfo=UTC)),
        ("2026-12-05t10:00:00z", datetime(2026, 12, 5, 10, tzinfo=UTC)),
        ("2026-12-05 10:00:00+05:30", datetime(2026, 12, 5, 4, 30, tzinfo=UTC)),
        ("2026-12-05T10:00:00.123456789-08:00", datetime(2026, 12, 5, 18, 0, 0, 123456, tzinfo=UTC)),
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)),  # a leap second
    ],
)
def test_dates_and_rfc3339_date_times_are_read(text: str, expected: date | datetime) -> None:
    assert parse_due(text) == expected


@pytest.mark.parametrize(
    "text", ["2026-02-30", "2026-13-01", "2026-12-05T24:00", "tomorrow", "2026-12-5", "1733400000", ""]
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"real date|must be"):
        parse_due(text)


def test_an_all_day_task_is_due_from_its_local_midnight_until_the_next() -> None:
    due = due_in_zone(date(2026, 12, 5), zone("Pacific/Auckland"))  # UTC+13 in December
    assert (due.all_day, due.day, due.value) == (True, date(2026, 12, 5), date(2026, 12, 5))
    assert due.at == datetime(2026, 12, 4, 11, tzinfo=UTC)
    assert due.overdue_at == datetime(2026, 12, 5, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone_name", "local", "utc"),
    [
        # Los Angeles: 8 March 2026 02:00 -> 03:00 (PST to PDT), 1 November 02:00 -> 01:00.
        ("America/Los_Angeles", "2026-03-07T09:00", datetime(2026, 3, 7, 17, tzinfo=UTC)),
        ("America/Los_Angeles", "2026-03-09T09:00", datetime(2026, 3, 9, 16, tzinfo=UTC)),
        ("America/Los_Angeles", "2026-03-08T02:30", datetime(2026, 3, 8, 10, 30, tzinfo=UTC)),  # skipped
        ("America/Los_Angeles", "2026-11-01T01:30", datetime(2026, 11, 1, 8, 30, tzinfo=UTC)),  # twice: first
        # Auckland: 5 April 2026 03:00 -> 02:00 (NZDT to NZST), 27 September 02:00 -> 03:00.
        ("Pacific/Auckland", "2026-04-04T09:00", datetime(2026, 4, 3, 20, tzinfo=UTC)),
        ("Pacific/Auckland", "2026-04-06T09:00", datetime(2026, 4, 5, 21, tzinfo=UTC)),
        ("Pacific/Auckland", "2026-04-05T02:30", datetime(2026, 4, 4, 13, 30, tzinfo=UTC)),  # twice: first
        ("Pacific/Auckland", "2026-09-27T02:30", datetime(2026, 9, 26, 14, 30, tzinfo=UTC)),  # skipped
    ],
)
def test_wall_clock_times_on_both_sides_of_a_dst_change(zone_name: str, local: str, utc: datetime) -> None:
    due = due_in_zone(parse_due(local), zone(zone_name))
    assert due.at == utc
    assert due.overdue_at == utc
    assert due.day == utc.astimezone(zone(zone_name)).date()


def test_an_instant_stays_the_same_in_any_zone() -> None:
    instant = datetime(2026, 12, 5, 23, 30, tzinfo=UTC)
    berlin, tokyo = due_in_zone(instant, zone("Europe/Berlin")), due_in_zone(instant, zone("Asia/Tokyo"))
    assert berlin.at == tokyo.at == instant
    assert (berlin.day, tokyo.day) == (date(2026, 12, 6), date(2026, 12, 6))
    assert due_in_zone(instant, zone("America/New_York")).day == date(2026, 12, 5)


def test_the_ends_of_the_calendar_are_kept_in_range() -> None:
    assert due_in_zone(date.max, zone("Pacific/Kiritimati")).overdue_at == datetime.max.replace(tzinfo=UTC)
    earliest = due_in_zone(parse_due("0001-01-01T00:00:00+23:59"), zone("UTC")).at
    assert earliest is not None
    assert earliest - datetime.min.replace(tzinfo=UTC) < timedelta(days=1)


def test_time_zones_come_from_the_pinned_database_by_any_case() -> None:
    assert canonical_zone("europe/BERLIN") == "Europe/Berlin"
    assert canonical_zone("Mars/Olympus") is None
    assert "Factory" not in ZONE_NAMES
    assert "UTC" in ZONE_NAMES
    assert zone("Europe/Berlin").utcoffset(datetime(2026, 7, 1)) == timedelta(hours=2)
