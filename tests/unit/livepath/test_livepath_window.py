"""The live path's windows: what a matrix cell scores, and where the daily ETL's repair re-read starts
when a replay runs days of simulated time through minutes of wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def test_given_a_volume_when_the_matrix_plans_its_cell_then_it_scores_7_days_or_about_6300_purchases() -> (
    None
):
    from tooling.livepath.matrix import cells, score_days

    # Given the matrix's volumes, When their measured windows are planned
    windows = {volume: score_days(volume) for volume in (200, 900, 3000)}
    # Then 7 days up to the training world's week (900 x 7), else the whole hours holding ~6,300
    assert windows == {200: 7.0, 900: 7.0, 3000: 51 / 24}
    assert 6300 <= 3000 * windows[3000] < 6300 + 3000 / 24
    # And 0 asks for 7 days at every volume; the cells carry their window
    assert score_days(3000, 0) == 7.0
    planned = cells((35.0,), (200, 3000), (101, 102))
    assert {(c.per_day, c.seed, c.score_days) for c in planned} == {
        (200, 101, 7.0),
        (3000, 101, 51 / 24),
        (900, 102, 7.0),
    }


def test_given_posts_stamped_on_the_wall_clock_when_the_daily_etl_runs_then_it_repairs_26_simulated_hours() -> (
    None
):
    import shared.etl.pipeline as pipeline
    from tooling.livepath.path import SimulatedClock, WallLedger, etl_clock

    # Given posts at simulated 00:00, 12:00 and 20:00 of day 1 and 06:00 of day 2, stamped by PostgreSQL
    # at wall-clock 10:00:00, :10, :20 and :30 (a replay runs a day through seconds)
    day = datetime(2026, 5, 1, tzinfo=UTC)
    wall = datetime(2026, 12, 4, 10, tzinfo=UTC)
    ledger = WallLedger()
    for n, hours in enumerate((0, 12, 20, 30)):
        ledger.simulated.append((day + timedelta(hours=hours)).timestamp())
        ledger.wall.append(wall + timedelta(seconds=10 * n))
    clock = SimulatedClock()
    # When the daily ETL fires at simulated day 2 02:00 (its window from day 1 00:00) and at day 2
    # 16:00 (from day 1 14:00)
    starts = []
    with etl_clock(ledger, clock):
        for at in (day + timedelta(hours=26), day + timedelta(hours=40)):
            clock.value = at
            starts.append(pipeline.datetime.now(UTC) - pipeline.DAILY_REPAIR_WINDOW)
    # Then its repair re-reads from the first post inside the 26 simulated hours: all four posts at
    # 02:00, the posts from 20:00 on at 16:00
    assert starts == [wall, wall + timedelta(seconds=20)]
    # And the ETL's clock is the real one again afterwards
    assert pipeline.datetime is datetime
