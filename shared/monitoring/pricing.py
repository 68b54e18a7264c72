"""Section 7 of the monitoring page: the pricing experiment (spec 1.5, issue 28), from the same state
the pricing and metrics APIs answer (shared/pricing/service.py experiment_state), plus what the page
shows beside it: each arm's share of the assigned events, its revenue per settled event, and the
share of assignments that explored (epsilon-greedy's exploration, expected near epsilon)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg

from shared.pricing.service import experiment_state


def pricing_section(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    state = experiment_state(conn)
    explored, assigned = conn.execute(
        "SELECT count(*) FILTER (WHERE explored), count(*) FROM pricing.assignments"
    ).fetchone() or (0, 0)
    arms = []
    for arm in state.arms:
        settled = arm.events_settled
        arms.append(
            {
                "arm": arm.arm,
                "strategy": arm.strategy,
                "events_assigned": arm.events_assigned,
                "share": round(arm.events_assigned / assigned, 4) if assigned else None,
                "events_settled": settled,
                "revenue": float(arm.revenue),
                "revenue_per_event": float(round(arm.revenue / Decimal(settled), 2)) if settled else None,
                "sell_through": arm.sell_through,
                "mean_reward": arm.mean_reward,
            }
        )
    return {
        "experiment": state.experiment,
        "routing": state.routing,
        "epsilon": state.epsilon,
        "kill_switch": state.kill_switch,
        "kill_reason": state.kill_reason,
        "best_arm": state.best_arm,
        "statistics_source": state.statistics_source,
        "events_assigned": int(assigned),
        "exploration_share": round(int(explored) / int(assigned), 4) if assigned else None,
        "sell_through_target": 0.85,
        "arms": arms,
    }
