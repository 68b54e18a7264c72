"""`make run`'s seeding ends with the seeded week's decisions against the simulator's truth (issue 23):
false-positive rate and detection per band, detection per scenario, beside the issue's targets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from tooling.local.seed import against_truth
from tooling.simulator.run import SIM_SCHEMA

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _decide(conn: psycopg.Connection, n: int, scenario: str, decision: str, at: datetime) -> None:
    conn.execute("INSERT INTO sim.truth (transaction_id, scenario) VALUES (%s, %s)", (f"t{n}", scenario))
    conn.execute(
        """INSERT INTO intel.fraud_predictions (transaction_id, wallet_address, ticket_id, price_paid,
               fraud_score, decision, features, top_features, model_version, created_at)
           VALUES (%s, '0xa', '1', 10, 0.5, %s, '{}', '{}', 'v1', %s)""",
        (f"t{n}", decision, at),
    )


def test_given_seeded_decisions_when_summarized_then_fpr_detection_and_scenarios_against_targets(db) -> None:
    # Given 100 honest purchases (3 asked for 2FA), 4 scalper purchases (3 blocked), and one decision
    # outside the seeded window
    db.execute(SIM_SCHEMA)
    n = 0
    for k in range(100):
        n += 1
        _decide(db, n, "legit", "REQUIRE_2FA" if k < 3 else "APPROVED", T0 + timedelta(minutes=n))
    for k in range(4):
        n += 1
        _decide(db, n, "scalper_bot", "BLOCKED" if k < 3 else "APPROVED", T0 + timedelta(minutes=n))
    _decide(db, n + 1, "legit", "BLOCKED", T0 - timedelta(days=1))
    # When the seeded week is set against the truth
    lines = against_truth(str(db.info.dsn), T0, T0 + timedelta(days=7))
    text = "\n".join(lines)
    # Then it reads 3.00% FPR and 75% detection at REQUIRE_2FA with their 95% Wilson intervals (3/100:
    # [1.03%, 8.45%]; 3/4: [30.1%, 95.4%]; 0/100: [0, 3.70%]), the scalper per scenario, and the
    # targets (FPR <= 2.5%, detection >= 80%) both NOT MET
    assert "100 legitimate and 4 fraud purchases" in lines[0]
    assert (
        "REQUIRE_2FA or stricter: FPR 3.00% (3/100) [1.03%, 8.45%], detection 75.0% (3/4) [30.1%, 95.4%]"
        in text
    )
    assert "BLOCKED: FPR 0.00% (0/100) [0.00%, 3.70%]" in text
    assert "scalper_bot detected (REQUIRE_2FA or stricter): 75.0% (3/4) [30.1%, 95.4%]" in text
    assert lines[-1].strip() == "target (issue 23): FPR <= 2.5% NOT MET, detection >= 80% NOT MET"
