"""What the pricing experiment tells the on-call and the monitoring page (issue 28): the settlement's
heartbeat and the kill switch's state, a clamped quote counted, and the page's section (the arms'
shares, revenue per event, sell-through, exploration share, kill switch) from the real stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest

from shared.cache.clients import job_redis
from shared.monitoring.pricing import pricing_section
from shared.observability import metrics
from shared.pricing.jobs import settle_job
from shared.pricing.models import AssignRequest
from shared.pricing.rewards import settle
from shared.pricing.service import assign, set_kill_switch
from tests.integration.pricing.test_pricing_service import AFTER, SALE, SHOW, _event, _sale


@pytest.fixture
def emitted() -> Iterator[dict]:
    """The EMF metrics added (Powertools' metric set, before the handler flushes it)."""
    metrics.clear_metrics()
    yield metrics.metric_set
    metrics.clear_metrics()


def _values(emitted: dict, name: str) -> list[float]:
    return list(emitted.get(name, {}).get("Value", []))


def test_given_a_settlement_run_then_its_heartbeat_and_the_kill_switch_state_are_emitted(
    db: psycopg.Connection, redis_url: str, database_url: str, monkeypatch: pytest.MonkeyPatch, emitted: dict
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    # Given the experiment running: a run emits one heartbeat and the switch off
    assert settle_job(AFTER)["kill_switch"] is False
    assert _values(emitted, "PricingSettleRuns") == [1.0] and _values(emitted, "PricingKillSwitch") == [0.0]
    # When the kill switch is engaged, the next run reports it
    set_kill_switch(db, True, "pricing incident")
    metrics.clear_metrics()
    assert settle_job(AFTER)["kill_switch"] is True
    assert _values(metrics.metric_set, "PricingKillSwitch") == [1.0]


def test_given_a_quote_clamped_to_its_ceiling_then_a_guardrail_hit_is_counted_and_an_unclamped_one_is_not(
    db: psycopg.Connection, redis_url: str, emitted: dict
) -> None:
    _event(db, 21)
    db.execute(
        "INSERT INTO pricing.assignments (event_id, arm, explored, price_floor, price_ceiling, assigned_at)"
        " VALUES (21, 'C', false, 95, 105, %s)",
        (SALE,),
    )
    late = SHOW - timedelta(hours=2)  # arm C quotes +20%: 120, above the ceiling
    assert assign(db, AssignRequest(event_id=21), late).price.clamped == "ceiling"
    assert _values(emitted, "PricingGuardrailHits") == [1.0]
    metrics.clear_metrics()
    wide = assign(db, AssignRequest(event_id=21, price_ceiling=Decimal("200.00")), late)
    assert wide.price.clamped is None and _values(metrics.metric_set, "PricingGuardrailHits") == []


def test_given_assigned_and_settled_events_then_the_monitoring_section_shows_shares_revenue_and_exploration(
    db: psycopg.Connection, redis_url: str
) -> None:
    # Given four events: three assigned arm A (one of them by exploration), one arm B, and one settled
    for event_id, arm, explored in ((31, "A", False), (32, "A", False), (33, "A", True), (34, "B", False)):
        _event(db, event_id)
        db.execute(
            "INSERT INTO pricing.assignments (event_id, arm, explored, price_floor, price_ceiling, assigned_at)"
            " VALUES (%s, %s, %s, 80, 150, %s)",
            (event_id, arm, explored, SALE),
        )
    _sale(db, 301, 31, "100.00")
    _sale(db, 302, 31, "100.00")
    settle(db, job_redis(), AFTER)
    # When the page's section is read
    section = pricing_section(db)
    # Then it shows the arms' shares, exploration share, revenue per settled event and sell-through
    arms = {arm["arm"]: arm for arm in section["arms"]}
    assert section["events_assigned"] == 4 and section["exploration_share"] == 0.25
    assert (arms["A"]["share"], arms["B"]["share"], arms["C"]["share"]) == (0.75, 0.25, 0.0)
    assert arms["A"]["events_settled"] >= 1 and arms["A"]["revenue_per_event"] is not None
    assert arms["A"]["sell_through"] is not None and arms["D"]["revenue_per_event"] is None
    assert section["kill_switch"] is False and section["epsilon"] == 0.15
    # And the kill switch shows when engaged
    set_kill_switch(db, True, "incident")
    assert pricing_section(db)["kill_switch"] is True and pricing_section(db)["kill_reason"] == "incident"
