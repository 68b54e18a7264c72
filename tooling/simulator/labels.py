"""What is known at the end of the window: refunds and chargebacks that happened by then, and the
labels, delayed (by who finds out, per scenario) and noisy (some fraud never labelled or cleared
by mistake, some honest orders labelled fraud: friendly fraud)."""

from __future__ import annotations

from dataclasses import dataclass

from tooling.simulator.config import LEGIT
from tooling.simulator.scenarios import SCENARIO_BY_NAME
from tooling.simulator.world import DAY, World


@dataclass
class Labels:
    rows: list[tuple[str, bool, str, float]]  # transaction_id, is_fraud, source, labelled_at
    pending: int  # would be labelled, but after the end of the window (not known yet)
    never: int  # fraud that nobody will ever label


def finalize(world: World) -> Labels:
    """Dates the refunds and chargebacks (updating the orders) and returns the labels known at the end."""
    rng, cfg, end = world.rng, world.config, world.end
    rows: list[tuple[str, bool, str, float]] = []
    pending = never = 0
    for order in world.orders:
        if order.status == "refunded":
            refunded_at = order.created_at + rng.uniform(0.5, 10) * DAY
            if refunded_at > end:
                order.status = "completed"  # the refund is still to come
            else:
                order.updated_at = round(refunded_at, 3)
        label: tuple[bool, str, float] | None = None
        if order.scenario != LEGIT:
            if rng.random() < cfg.fraud_never_labelled:
                never += 1
                continue
            sources = SCENARIO_BY_NAME[order.scenario].label_sources
            found_by = rng.choices(sources, weights=[s.weight for s in sources])[0]
            source, (lo, hi) = found_by.source, found_by.delay_days
            if order.status == "failed" and source == "chargeback":
                source = "investigation"  # no money moved, so no chargeback
            label = (rng.random() >= cfg.fraud_mislabelled, source, rng.uniform(lo, hi))
        else:
            r = rng.random()
            if r < cfg.legit_mislabelled and order.status == "completed":
                label = (True, "chargeback", rng.uniform(5, 30))
            elif r < cfg.legit_mislabelled + cfg.legit_reviewed:
                label = (False, "review", rng.uniform(0.05, 3))
        if label is None:
            continue
        is_fraud, source, delay_days = label
        labelled_at = round(order.created_at + delay_days * DAY, 3)
        if labelled_at > end:
            pending += 1
            continue
        rows.append((order.transaction_id, is_fraud, source, labelled_at))
        if source == "chargeback" and order.status in {"completed", "refunded"}:
            order.status = "charged_back"
            order.updated_at = labelled_at
    return Labels(rows, pending, never)
