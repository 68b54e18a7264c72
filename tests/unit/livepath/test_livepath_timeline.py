"""The live path's timeline: facts when the backend knows them, each purchase scored before its order
is reported, the schedules table's firing times in simulated time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.jobs.schedules import SCHEDULES, Schedule, fire_times
from tooling.livepath.timeline import (
    FACT,
    JOB,
    SCORE,
    due_times,
    fact_refs,
    firings,
    timeline,
    warm_up_firings,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)  # a Sunday


def _fact(kind: str, at: float, **data: object) -> dict[str, object]:
    return {
        "event_id": f"{kind}-{at}",
        "type": kind,
        "occurred_at": datetime.fromtimestamp(at, UTC).isoformat(),
        "data": data,
    }


@dataclass
class _Order:
    created_at: float
    transaction_id: str = "t1"


def test_given_a_login_dated_before_its_account_when_due_then_the_account_and_wallet_come_first() -> None:
    # Given an account created at 100 with a wallet, a login of it at 50 and a purchase with the wallet at 200
    base = T0.timestamp()
    facts = [
        _fact("user.created", base + 100, user_id=7),
        _fact("wallet.linked", base + 100, address="0xa", user_id=7),
        _fact("login.attempted", base + 50, user_id=7),
        _fact("order.paid", base + 200, buyer_user_id=7, buyer_wallet="0xa", ticket_id=3),
    ]
    # When the due times are computed
    due = due_times(facts)
    # Then the account is reported with the login (no later), the others at their own time
    assert due == [base + 50, base + 50, base + 50, base + 200]


def test_given_an_order_by_a_wallet_first_when_due_then_its_account_is_reported_before_it() -> None:
    # Given a wallet linked at 300 whose first purchase is dated 250
    base = T0.timestamp()
    facts = [
        _fact("user.created", base + 300, user_id=8),
        _fact("wallet.linked", base + 300, address="0xb", user_id=8),
        _fact("order.paid", base + 250, buyer_user_id=9, buyer_wallet="0xb", ticket_id=3),
    ]
    # When the due times are computed, Then the wallet and its account come no later than the order
    assert due_times(facts)[:2] == [base + 250, base + 250]


def test_given_facts_a_purchase_and_a_job_at_one_instant_when_ordered_then_job_login_score_order() -> None:
    # Given at one instant: the order of a purchase, the buyer's login, a job firing and the purchase itself
    at = T0.timestamp() + 3600
    order_fact = _fact("order.paid", at, buyer_user_id=1, buyer_wallet="0xa", ticket_id=3)
    login = _fact("login.attempted", at, user_id=1)
    job = firings(T0 + timedelta(hours=1), T0 + timedelta(hours=1, seconds=1))
    # When the timeline is built
    steps = timeline([order_fact, login], [_Order(at)], job)
    # Then the job runs first, the login is reported, the purchase is scored, then its order is reported
    assert [kind for _, _, _, kind, _ in steps] == [JOB, FACT, SCORE, FACT]
    assert steps[1][4] is login and steps[3][4] is order_fact


def test_given_facts_when_their_refs_are_read_then_user_wallets_and_ticket_are_named() -> None:
    # Given an order and a transfer, When their refs are read, Then the rows they are about are named
    order = _fact("order.paid", 0, buyer_user_id=1, buyer_wallet="0xa", ticket_id=3)
    assert set(fact_refs(order)) == {("u", 1), ("w", "0xa"), ("t", 3)}
    assert set(fact_refs(_fact("ticket.transferred", 0, ticket_id=4, to_wallet="0xc"))) == {
        ("w", "0xc"),
        ("t", 4),
    }


def _schedule(name: str) -> Schedule:
    return next(s for s in SCHEDULES if s.name == name)


def test_given_the_schedules_table_when_a_day_fires_then_hourly_skips_the_daily_hour() -> None:
    # Given one day, When the ETL and feature jobs fire
    day = firings(T0, T0 + timedelta(days=1))
    by_name: dict[str, list[datetime]] = {}
    for run in day:
        by_name.setdefault(run.schedule.name, []).append(run.at)
    # Then hourly at HH:00 / HH:20 except 02:xx, daily at 02:00 / 02:20, nothing else, in time order
    assert [at.hour for at in by_name["etl-hourly"]] == [h for h in range(24) if h != 2]
    assert {at.minute for at in by_name["features-hourly"]} == {20}
    assert by_name["etl-daily"] == [T0 + timedelta(hours=2)]
    assert by_name["features-daily"] == [T0 + timedelta(hours=2, minutes=20)]
    assert set(by_name) == {"etl-hourly", "etl-daily", "features-hourly", "features-daily"}
    assert [run.at for run in day] == sorted(run.at for run in day)


def test_given_weekly_and_rate_expressions_when_fired_then_days_and_periods_follow_them() -> None:
    # Given the weekly retention (Sundays 03:00) and the 5-minute views refresh, over a week
    week = (T0, T0 + timedelta(days=7))
    # When they fire, Then retention runs on the Sunday only, the refresh every 5 minutes
    assert fire_times(_schedule("retention"), *week) == [T0 + timedelta(hours=3)]
    assert len(fire_times(_schedule("refresh-views"), *week)) == 7 * 24 * 12
    # And an interval excludes its end
    assert fire_times(_schedule("etl-daily"), T0, T0 + timedelta(hours=2)) == []


def test_given_a_warm_up_when_planned_then_only_the_etl_runs_every_period() -> None:
    # Given a 20-day warm-up, When planned weekly, Then the ETL runs on days 7 and 14 only
    etl = _schedule("etl-hourly")
    runs = warm_up_firings(T0, T0 + timedelta(days=20), timedelta(days=7), etl)
    assert [run.at for run in runs] == [T0 + timedelta(days=7), T0 + timedelta(days=14)]
