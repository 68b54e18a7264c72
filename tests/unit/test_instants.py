"""Issue 21 item 2: one time type for every timestamp the service accepts (shared/instants.py), and
the small items of finding 4 about time: a bare epoch number accepted as a time, a metrics window
starting in 1969, nanoseconds cut so that a valid pair is refused, a repeated `start` taken silently."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.api.models import MetricsQuery
from shared.errors import ValidationFailed
from shared.ingest.models import EventListedData
from shared.instants import EARLIEST, LATEST, Instant, parse_instant
from tooling.cli_args import aware_instant

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00+14:00",  # year 1 BC in UTC
        "9999-12-31T23:59:59-14:00",  # year 10000 in UTC
        "1969-12-31T23:59:59.999999999Z",
        "9999-12-30T00:00:00.000000001Z",
    ],
)
def test_given_an_instant_outside_1970_to_9999_12_30_when_parsed_then_refused_naming_the_range(
    text: str,
) -> None:
    with pytest.raises(ValueError, match="1970-01-01T00:00:00Z and 9999-12-30T00:00:00Z"):
        parse_instant(text)


@pytest.mark.parametrize("value", [0, 1767225600, 1767225600.5, "1767225600", True, None, "2026-11-27"])
def test_given_a_bare_epoch_number_or_a_date_when_parsed_then_refused(value: object) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_instant(value)


def test_given_the_range_edges_when_parsed_then_accepted() -> None:
    assert parse_instant("1970-01-01T00:00:00Z") == EARLIEST
    assert parse_instant("9999-12-30T00:00:00Z") == LATEST
    assert parse_instant("1970-01-01T01:00:00+01:00") == EARLIEST


def test_given_two_instants_100_ns_apart_then_they_are_ordered_not_made_equal() -> None:
    # Given two instants in the same microsecond
    earlier = parse_instant("2026-01-01T00:00:00.0000001Z")
    later = parse_instant("2026-01-01T00:00:00.0000002+00:00")
    # Then they compare to the nanosecond, with each other and with a plain datetime
    assert earlier < later and later > earlier and earlier != later
    plain = datetime(2026, 1, 1, tzinfo=UTC)
    assert plain < earlier and earlier > plain and plain != earlier
    # and are written with all nine digits, while PostgreSQL is sent their microsecond
    assert later.isoformat() == "2026-01-01T00:00:00.000000200+00:00"
    assert str(later) == "2026-01-01 00:00:00+00:00"
    assert later.nanosecond == 200 and later.microseconds() == plain


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 29)), st.integers(0, 999))
@settings(max_examples=300, deadline=None)
def test_property_an_instant_reads_back_to_the_nanosecond(moment: datetime, nanosecond: int) -> None:
    text = moment.replace(tzinfo=UTC).isoformat(timespec="microseconds")[:-6] + f"{nanosecond:03d}Z"
    parsed = parse_instant(text)
    assert isinstance(parsed, Instant)
    assert (parsed.microseconds(), parsed.nanosecond) == (moment.replace(tzinfo=UTC), nanosecond)
    assert parse_instant(parsed.isoformat()) == parsed


def test_given_a_sale_and_a_start_100_ns_apart_when_listed_then_the_pair_is_valid() -> None:
    data = {
        "event_id": 1, "name": "n", "venue": "v", "city": "c", "country": "GB", "category": "concert",
        "capacity": 1, "face_value": "1.00",
        "sale_starts_at": "2026-01-01T00:00:00.0000001Z", "starts_at": "2026-01-01T00:00:00.0000002Z",
    }  # fmt: skip
    assert EventListedData.model_validate(data).starts_at.nanosecond == 200
    with pytest.raises(ValidationError, match="starts_at must be after sale_starts_at"):
        EventListedData.model_validate({**data, "starts_at": data["sale_starts_at"]})


def test_given_a_metrics_window_ending_at_1970_01_01_when_resolved_then_400_not_a_window_in_1969() -> None:
    query = MetricsQuery.model_validate({"end": "1970-01-01T00:00:00Z"})
    with pytest.raises(ValidationFailed, match="before 1970-01-01") as refused:
        query.window(NOW)
    assert refused.value.field == "end"
    # a start given makes the same end valid
    query = MetricsQuery.model_validate({"start": "1970-01-01T00:00:00Z", "end": "1970-01-01T01:00:00Z"})
    assert query.window(NOW)[1] - query.window(NOW)[0] == timedelta(hours=1)


def test_given_a_metrics_window_100_ns_long_when_resolved_then_start_is_before_end() -> None:
    query = MetricsQuery.model_validate(
        {"start": "2026-01-01T00:00:00.0000001Z", "end": "2026-01-01T00:00:00.0000002Z"}
    )
    start, end = query.window(NOW)
    assert start < end


def _event(multi: dict[str, list[str]]) -> dict[str, object]:
    return {
        "queryStringParameters": {name: values[-1] for name, values in multi.items()},
        "multiValueQueryStringParameters": multi,
    }


def test_given_start_twice_in_the_query_when_read_then_400_naming_it_not_last_one_wins() -> None:
    event = _event(
        {"start": ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"], "end": ["2026-01-03T00:00:00Z"]}
    )
    with pytest.raises(ValidationFailed, match="given 2 times") as refused:
        MetricsQuery.from_event(event)  # type: ignore[arg-type]
    assert refused.value.field == "start"
    once = _event({"start": ["2026-01-02T00:00:00Z"], "end": ["2026-01-03T00:00:00Z"]})
    assert MetricsQuery.from_event(once).start == parse_instant("2026-01-02T00:00:00Z")  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["1767225600", "2026-03-01T00:00:00", "0001-01-01T00:00:00+14:00"])
def test_given_a_cli_time_argument_outside_the_time_type_then_argparse_refuses_it(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        aware_instant(text)
    assert aware_instant("2026-03-01T00:00:00.000000005+01:00").nanosecond == 5
