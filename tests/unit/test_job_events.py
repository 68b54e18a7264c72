"""A scheduled job's event as the tools around Lambda produce it: the SAM CLI's generated sample
(`sam local generate-event events schedule`) has no `version`; every job reads it (issue 21)."""

from __future__ import annotations

import pytest

from shared.errors import ValidationFailed
from shared.jobs.events import parse_job

# The SAM CLI's ScheduledEvent sample, as generated (no "version").
SAM_SCHEDULED_EVENT = {
    "id": "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "1970-01-01T00:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/ExampleRule"],
    "detail": {},
}


def test_given_the_sam_cli_scheduled_event_without_version_when_parsed_then_the_job_runs_at_its_time() -> (
    None
):
    # When the SAM CLI's sample is parsed
    job = parse_job(SAM_SCHEDULED_EVENT)
    # Then it is the default job at the event's time
    assert job.mode == "hourly"
    assert job.scheduled_at is not None and job.scheduled_at.isoformat() == "1970-01-01T00:00:00+00:00"


def test_given_an_event_with_another_version_then_it_is_kept_and_read() -> None:
    job = parse_job({**SAM_SCHEDULED_EVENT, "version": "0", "detail": {"mode": "daily"}})
    assert job.mode == "daily"


@pytest.mark.parametrize("missing", ["time", "detail-type"])
def test_given_an_event_missing_what_a_job_needs_then_it_is_still_refused(missing: str) -> None:
    event = {k: v for k, v in SAM_SCHEDULED_EVENT.items() if k != missing}
    if missing == "detail-type":
        # Without detail-type it is not an EventBridge event but a constant input: its keys are checked
        event = {**event, "mode": "weekly"}
    with pytest.raises(ValidationFailed):
        parse_job(event)
