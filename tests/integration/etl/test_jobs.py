"""The scheduled jobs through their Lambda handlers and the CLI, on the embedded PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from functions.etl.handler import handler as etl_handler
from functions.features.handler import handler as features_handler
from functions.refresh_views.handler import handler as refresh_handler
from shared.errors import ValidationFailed
from shared.jobs.events import parse_job
from tests.fixtures.etl import T0, Market
from tooling.cli import main
from tooling.local.gateway import LocalLambdaContext


def scheduled(detail: dict[str, object]) -> dict[str, object]:
    return {
        "version": "0",
        "id": "e1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-03-02T12:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": detail,
    }


def test_handlers_run_the_jobs_and_report_counts(db: psycopg.Connection, market: Market) -> None:
    # Given a marketplace with one order
    wallet = market.wallet(market.user())
    market.order(market.ticket(market.event()), wallet, at=T0)
    # When the ETL, feature and refresh handlers run on scheduled events
    etl = etl_handler(scheduled({"mode": "hourly"}), LocalLambdaContext("job", "req-1"))
    features = features_handler(
        {"mode": "daily", "as_of": (T0 + timedelta(hours=1)).isoformat()}, LocalLambdaContext("job", "req-1")
    )
    views = refresh_handler(scheduled({}), LocalLambdaContext("job", "req-1"))
    # Then each did its work and says how much
    assert etl["rows_read"] == 5 and etl["rows_written"] == 5 and etl["rows_rejected"] == 0
    assert etl["fees_loaded_usd"] == 5.0
    assert views["confusion_24h"] == {
        "true_positive": 0,
        "false_positive": 0,
        "true_negative": 0,
        "false_negative": 0,
    }
    assert features["rows_written"]["user_payment_diversity"] == 1
    assert views["refreshed"] == ["intel.kpi_hourly", "intel.event_analytics", "intel.user_segments"]
    assert db.execute("SELECT count(*) FROM intel.transactions").fetchone() == (1,)


@pytest.mark.parametrize(
    "event",
    [{"mode": "weekly"}, scheduled({"mode": 3}), {"since": "2026-03-01T00:00:00"}, scheduled([])],  # type: ignore[list-item]
)
def test_bad_job_events_are_refused_clearly(event: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed):
        parse_job(event)


def test_cli_runs_each_job_once(
    db: psycopg.Connection, market: Market, capsys: pytest.CaptureFixture[str]
) -> None:
    wallet = market.wallet(market.user())
    market.order(market.ticket(market.event()), wallet, at=T0)
    assert main(["etl", "--since", "2026-01-01T00:00:00+00:00"]) == 0
    assert main(["features", "--mode", "hourly"]) == 0
    assert (
        main(
            [
                "refresh-views",
                "--kpis",
                "--start",
                "2026-03-02T00:00:00+00:00",
                "--end",
                "2026-03-03T00:00:00+00:00",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert '"rows_written": 5' in out and '"transactions": 1' in out


def test_given_eventbridge_scheduler_event_with_string_detail_when_parsed_then_job_and_time_read() -> None:
    # Given EventBridge Scheduler's shape: the detail as a JSON string
    event = {**scheduled({}), "detail": '{"mode": "daily"}'}
    # When parsed, Then the job is the detail's and its time the event's
    job = parse_job(event)
    assert job.mode == "daily"
    assert job.scheduled_at is not None and job.scheduled_at.isoformat() == "2026-03-02T12:00:00+00:00"


@pytest.mark.parametrize(
    "event",
    [
        {**scheduled({}), "detail": "not json"},
        {**scheduled({}), "detail": [1, 2]},
        {k: v for k, v in scheduled({}).items() if k != "time"},
        {**scheduled({}), "time": "yesterday"},
    ],
)
def test_given_malformed_eventbridge_event_when_parsed_then_validation_error_naming_it(event: dict) -> None:
    with pytest.raises(ValidationFailed):
        parse_job(event)


def test_given_no_chain_configured_when_the_etl_runs_then_it_says_so_in_a_log_line_and_a_metric(
    db: psycopg.Connection,
    market: Market,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    from shared.config import get_settings
    from shared.observability import metrics

    # Given an environment with no chain RPC (chain_ingestion off) and metrics switched on
    monkeypatch.delenv("CHAIN_RPC_URL", raising=False)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    get_settings.cache_clear()
    metrics.clear_metrics()
    market.order(market.ticket(market.event()), market.wallet(market.user()), at=T0)
    # When the scheduled ETL runs
    summary = etl_handler(scheduled({"mode": "hourly"}), LocalLambdaContext("job", "req-1"))
    # Then the backend tables are loaded, the chain is not, and both the log and the metrics say so
    assert summary["chain"] is None and summary["rows_written"] == 5
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert any("ETL without the chain" in message for message in warnings)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    [emf] = lines
    assert emf["EtlChainSkipped"] in (1.0, [1.0])  # Powertools lists the samples of a metric
