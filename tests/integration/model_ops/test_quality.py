"""Model quality per version from labels (shared/kpis/quality.py) against hand-counted decisions."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from shared.kpis.quality import (
    QUALITY_LABEL_DELAY,
    baseline_detection,
    candidate_comparison,
    quality_by_version,
    settled_window,
    store_quality,
)
from tests.integration.model_ops.helpers import hours, label, predict, shadow

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def test_given_decisions_labels_and_a_shadow_when_measured_then_each_version_has_its_confusion_matrix(
    db: psycopg.Connection,
) -> None:
    # Given five decisions of vA in the window, one outside it, one blocklist decision, shadow scores of vB
    for txn, decision in (
        ("t1", "BLOCKED"),
        ("t2", "APPROVED"),
        ("t3", "MANUAL_REVIEW"),
        ("t4", "REQUIRE_2FA"),
    ):
        predict(db, txn, decision, at=T0 + hours(1))
    predict(db, "t5", "APPROVED", at=T0 + hours(2))
    predict(db, "t6", "BLOCKED", at=T0 + hours(30))  # after the window
    predict(db, "t7", "BLOCKED", at=T0 + hours(2), reason="blocklist_wallet")  # not the model's decision
    for txn, decision in (("t1", "APPROVED"), ("t2", "BLOCKED"), ("t3", "BLOCKED")):
        shadow(db, txn, decision, at=T0 + hours(1))
    # t1, t2 fraud; t3 legitimate; t4 fraud but labelled after `known_at`; t5 never labelled
    label(db, "t1", True, at=T0 + hours(5))
    label(db, "t2", True, at=T0 + hours(5))
    label(db, "t3", False, at=T0 + hours(5))
    label(db, "t4", True, at=T0 + hours(100))
    label(db, "t7", True, at=T0 + hours(5))
    # When measured over [T0, T0 + 24 h) with the labels known at T0 + 48 h
    rows = {
        (r.model_version, r.role): r.counts
        for r in quality_by_version(db, T0, T0 + hours(24), known_at=T0 + hours(48))
    }
    # Then vA: TP t1, FN t2, FP t3, TN t4 (unknown yet) and t5 (never labelled)
    served = rows[("vA", "served")]
    assert (served.true_positive, served.false_negative, served.false_positive, served.true_negative) == (
        1,
        1,
        1,
        2,
    )
    assert (served.scored, served.frauds, served.frauds_detected, served.legit, served.legit_flagged) == (
        5,
        2,
        1,
        3,
        2,
    )
    assert (served.precision, served.recall, served.detection_rate) == (0.5, 0.5, 0.5)
    assert served.false_positive_rate == round(2 / 3, 6)
    # And vB in shadow: it missed t1, caught t2, stopped the legitimate t3
    candidate = rows[("vB", "shadow")]
    assert (candidate.true_positive, candidate.false_negative, candidate.false_positive) == (1, 1, 1)
    assert set(rows) == {("vA", "served"), ("vB", "shadow")}


def test_given_an_asymmetric_confusion_matrix_when_measured_then_each_rate_has_its_own_denominator(
    db: psycopg.Connection,
) -> None:
    """Every count differs from every other (FP != FN above all), so no two rates can be swapped or
    share a wrong denominator unseen: TP 2, FP 1, FN 3 -> precision 2/3, recall 2/5."""
    # Given vA's decisions: 2 frauds stopped (TP), 1 legitimate stopped (FP), 3 frauds let through (FN:
    # two asked for 2FA, which detects them but does not stop them, one approved), 9 legitimate let
    # through (TN: five asked for 2FA, four approved; some labelled legitimate, some never labelled)
    decisions = [
        ("tp-1", "BLOCKED", True),
        ("tp-2", "MANUAL_REVIEW", True),
        ("fp-1", "BLOCKED", False),
        ("fn-1", "REQUIRE_2FA", True),
        ("fn-2", "REQUIRE_2FA", True),
        ("fn-3", "APPROVED", True),
        *((f"tn-2fa-{i}", "REQUIRE_2FA", False if i % 2 else None) for i in range(5)),
        *((f"tn-ok-{i}", "APPROVED", False if i % 2 else None) for i in range(4)),
    ]
    for txn, decision, is_fraud in decisions:
        predict(db, txn, decision, at=T0 + hours(1))
        if is_fraud is not None:
            label(db, txn, is_fraud, at=T0 + hours(2))
    # When measured
    [row] = quality_by_version(db, T0, T0 + hours(24), known_at=T0 + hours(48))
    counts = row.counts
    # Then each count is its own, and each rate divides by its own denominator
    assert (counts.true_positive, counts.false_positive, counts.false_negative, counts.true_negative) == (
        2,
        1,
        3,
        9,
    )
    assert (counts.scored, counts.frauds, counts.frauds_detected, counts.legit, counts.legit_flagged) == (
        15,
        5,
        4,
        10,
        6,
    )
    assert counts.precision == round(2 / 3, 6)  # TP / (TP + FP)
    assert counts.recall == round(2 / 5, 6)  # TP / (TP + FN)
    assert counts.detection_rate == round(4 / 5, 6)  # detected frauds / frauds
    assert counts.false_positive_rate == round(6 / 10, 6)  # flagged legitimate / legitimate


def test_given_a_shadow_when_compared_then_the_served_side_is_the_same_transactions(
    db: psycopg.Connection,
) -> None:
    # Given vA decided t1..t4, vB scored t1 and t2 only in shadow
    for txn, decision in (("t1", "BLOCKED"), ("t2", "BLOCKED"), ("t3", "APPROVED"), ("t4", "APPROVED")):
        predict(db, txn, decision, at=T0 + hours(1))
        label(db, txn, True, at=T0 + hours(2))
    shadow(db, "t1", "APPROVED", at=T0 + hours(1))
    shadow(db, "t2", "APPROVED", at=T0 + hours(1))
    # When compared in shadow mode
    sides = candidate_comparison(
        db, candidate="vB", served="vA", canary=False, since=T0, end=T0 + hours(3), known_at=T0 + hours(3)
    )
    # Then each side counts t1 and t2 only: vA caught both, vB neither
    assert (sides["served"].frauds, sides["served"].detection_rate) == (2, 1.0)
    assert (sides["candidate"].frauds, sides["candidate"].detection_rate) == (2, 0.0)


def test_given_a_canary_when_compared_then_each_side_is_its_own_share(db: psycopg.Connection) -> None:
    predict(db, "t1", "BLOCKED", at=T0 + hours(1), version="vA")
    predict(db, "t2", "APPROVED", at=T0 + hours(1), version="vB")
    predict(db, "t3", "APPROVED", at=T0 + hours(1), version="vOld")  # neither side
    for txn in ("t1", "t2", "t3"):
        label(db, txn, True, at=T0 + hours(2))
    sides = candidate_comparison(
        db, candidate="vB", served="vA", canary=True, since=T0, end=T0 + hours(3), known_at=T0 + hours(3)
    )
    assert (sides["served"].frauds, sides["served"].detection_rate) == (1, 1.0)
    assert (sides["candidate"].frauds, sides["candidate"].detection_rate) == (1, 0.0)


def test_given_settled_windows_when_stored_then_the_baseline_is_the_first_windows_detection(
    db: psycopg.Connection,
) -> None:
    # Given two settled days of vA: 3 of 4 frauds detected, then 1 of 4
    for day, caught in ((0, 3), (1, 1)):
        start = T0 + hours(24 * day)
        for i in range(4):
            txn = f"d{day}-{i}"
            predict(db, txn, "BLOCKED" if i < caught else "APPROVED", at=start + hours(1))
            label(db, txn, True, at=start + hours(2))
        store_quality(
            db,
            start,
            start + hours(24),
            quality_by_version(db, start, start + hours(24), known_at=T0 + hours(99)),
        )
    # When the baseline is its first window (and rewriting a window replaces it)
    assert baseline_detection(db, "vA", windows=1, min_frauds=4) == 0.75
    assert baseline_detection(db, "vA", windows=2, min_frauds=4) == 0.5
    assert baseline_detection(db, "vA", windows=1, min_frauds=5) is None
    store_quality(db, T0, T0 + hours(24), quality_by_version(db, T0, T0 + hours(24), known_at=T0 + hours(99)))
    (count,) = db.execute("SELECT count(*) FROM intel.model_quality").fetchone() or (0,)
    assert count == 2


def test_settled_window_ends_the_label_delay_before_now_on_a_whole_hour() -> None:
    now = datetime(2026, 3, 20, 10, 37, tzinfo=UTC)
    start, end = settled_window(now)
    assert end == datetime(2026, 3, 6, 10, tzinfo=UTC) and end - start == hours(24)
    assert now - end >= QUALITY_LABEL_DELAY
