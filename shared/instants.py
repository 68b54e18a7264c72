"""The one time type of every timestamp the service accepts (scoring, ingest's date fields, the
metrics window, the CLI): an ISO 8601 date-time with its zone, from 1970-01-01T00:00:00Z to
9999-12-30T00:00:00Z, read to the nanosecond.

- A zone is required: a naive time would be read in some machine's zone.
- A bare number is refused: 1700000000 is seconds, milliseconds or a year depending on who reads it.
- The range is what every reader holds: PostgreSQL's timestamptz, Python's datetime (years 1-9999,
  with a day of margin for any zone), Athena; 0001-01-01T00:00:00+14:00 is year 1 BC in UTC and
  9999-12-31T23:59:59-14:00 year 10000, both written fine and then unreadable.
- Nanoseconds are kept (`Instant.nanosecond`, below the microsecond) and take part in comparisons:
  two instants 100 ns apart are ordered, never made equal by a cut. PostgreSQL stores microseconds;
  where the order of facts matters, the nanoseconds are stored beside them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)
OUT_OF_RANGE = "must lie between 1970-01-01T00:00:00Z and 9999-12-30T00:00:00Z"
FORMAT = "must be an ISO 8601 date-time with its zone, e.g. 2026-03-01T10:00:00Z or 2026-03-01T11:00:00+01:00"

# RFC 3339's profile of ISO 8601 (what the API document's pattern says): one spelling per instant.
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


class Instant(datetime):
    """An aware datetime in UTC that also holds the nanoseconds below its microsecond. Compared to
    the nanosecond with any datetime (a plain one has none); arithmetic gives microseconds."""

    _nanosecond: int

    def __new__(cls, *args: Any, nanosecond: int = 0, **kwargs: Any) -> Instant:
        self = super().__new__(cls, *args, **kwargs)
        self._nanosecond = nanosecond
        return self

    @property
    def nanosecond(self) -> int:
        """0-999: the nanoseconds after `microsecond`."""
        return getattr(self, "_nanosecond", 0)

    def _compare(self, other: object) -> int:
        if not isinstance(other, datetime):
            return NotImplemented
        if datetime.__eq__(self, other):
            mine, theirs = self.nanosecond, getattr(other, "nanosecond", 0)
            return (mine > theirs) - (mine < theirs)
        return 1 if datetime.__gt__(self, other) else -1

    def __eq__(self, other: object) -> bool:
        order = self._compare(other)
        return order if order is NotImplemented else order == 0

    def __ne__(self, other: object) -> bool:
        order = self._compare(other)
        return order if order is NotImplemented else order != 0

    def __lt__(self, other: object) -> bool:
        order = self._compare(other)
        return order if order is NotImplemented else order < 0

    def __le__(self, other: object) -> bool:
        order = self._compare(other)
        return order if order is NotImplemented else order <= 0

    def __gt__(self, other: object) -> bool:
        order = self._compare(other)
        return order if order is NotImplemented else order > 0

    def __ge__(self, other: object) -> bool:
        order = self._compare(other)
        return order if order is NotImplemented else order >= 0

    __hash__ = datetime.__hash__

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        """With all nine digits when there are nanoseconds (and `timespec` is left to "auto")."""
        if timespec != "auto" or not self.nanosecond:
            return datetime.isoformat(self, sep, timespec)
        text = datetime.isoformat(self, sep, "microseconds")
        return f"{text[:-6]}{self.nanosecond:03d}{text[-6:]}"

    def __str__(self) -> str:
        """To the microsecond: what psycopg sends PostgreSQL (timestamptz would round nine digits, and
        a rounded-up instant is a later one), so a stored instant is its microsecond, never the next."""
        return datetime.isoformat(self, " ")

    def __repr__(self) -> str:
        return f"Instant({self.isoformat()!r})"

    def microseconds(self) -> datetime:
        """The instant cut to the microsecond (what PostgreSQL stores), as a plain datetime."""
        return datetime.fromtimestamp(0, UTC) + (datetime.__sub__(self, EARLIEST))


def parse_instant(value: object) -> Instant:
    """`value` as an Instant in UTC; ValueError saying what is wrong otherwise."""
    if isinstance(value, Instant):
        return value
    if isinstance(value, datetime):
        return _checked(value, 0)
    if isinstance(value, bool) or not isinstance(value, str):
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"{FORMAT}; a bare number is not a time (seconds? milliseconds?)")
        raise ValueError(FORMAT)
    found = _ISO.fullmatch(value)
    if found is None:
        raise ValueError(FORMAT)
    year, month, day, hour, minute, second = (int(part) for part in found.groups()[:6])
    digits = (found[7] or "").ljust(9, "0")
    sign, offset_h, offset_m = found[9], found[10], found[11]
    try:
        offset = timedelta(0)
        if sign is not None:
            if int(offset_m) > 59:
                raise ValueError
            offset = timedelta(hours=int(offset_h), minutes=int(offset_m)) * (-1 if sign == "-" else 1)
        local = datetime(year, month, day, hour, minute, second, int(digits[:6]), tzinfo=timezone(offset))
    except ValueError:
        raise ValueError(f"is not a real date and time ({FORMAT})") from None
    return _checked(local, int(digits[6:]))


def _checked(value: datetime, nanosecond: int) -> Instant:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"needs its zone: {FORMAT}")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise ValueError(OUT_OF_RANGE) from None
    if utc < EARLIEST or utc > LATEST or (utc == LATEST and nanosecond):
        raise ValueError(OUT_OF_RANGE)
    return Instant(
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond,
        tzinfo=UTC, nanosecond=nanosecond,
    )  # fmt: skip


# The pydantic field type: parsed by parse_instant (no coercion from numbers), written back with its
# nanoseconds in JSON.
AwareInstant = Annotated[
    Instant,
    PlainValidator(parse_instant),
    PlainSerializer(lambda value: value.isoformat(), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
