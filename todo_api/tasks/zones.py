"""IANA time zones from the pinned `tzdata` package, so that every machine resolves a zone alike.

The operating system's copy of the database varies from machine to machine (and is missing on
some); the one in requirements.lock does not.
"""

import enum
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

_TZDATA = resources.files("tzdata")
# "Factory" is tzdata's placeholder for "zone not configured", not a place.
ZONE_NAMES: tuple[str, ...] = tuple(
    name for name in (_TZDATA / "zones").read_text().split() if name != "Factory"
)
_BY_LOWER_CASE = {name.lower(): name for name in ZONE_NAMES}

# The documented values of `time_zone`: one OpenAPI component, so clients get the list once.
if TYPE_CHECKING:
    TimeZoneName = str
else:
    TimeZoneName = enum.StrEnum("TimeZoneName", [(name, name) for name in ZONE_NAMES])
    TimeZoneName.__doc__ = "An IANA time zone name (matched case-insensitively on input)."


def canonical_zone(name: str) -> str | None:
    """The IANA spelling of `name`, matched case-insensitively (`europe/berlin` -> `Europe/Berlin`)."""
    return _BY_LOWER_CASE.get(name.strip().lower())


@cache
def zone(name: str) -> ZoneInfo:
    """The zone for a canonical name, read from the pinned database."""
    with (_TZDATA / "zoneinfo").joinpath(*name.split("/")).open("rb") as data:
        return ZoneInfo.from_file(data, key=name)
