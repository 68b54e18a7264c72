"""The scenario table: every kind of behaviour that makes orders, honest or fraudulent, one module
each, one row here. A new scenario is a new module (its episodes, its `Scenario` row) and a row in
`SCENARIO_TABLE`; the planning, the payments, the labels and the reports all read it from here.

The table's order is the order in which the scenarios are planned, and so the order of the random
draws: reordering it changes every seeded marketplace, as adding a scenario does (then the pinned
fingerprints in tests/unit/test_simulator_fingerprint.py are re-recorded, on purpose).
"""

from __future__ import annotations

from tooling.simulator.scenario import Scenario
from tooling.simulator.scenarios.account_takeover import ACCOUNT_TAKEOVER
from tooling.simulator.scenarios.legit import HONEST_SHOPPING
from tooling.simulator.scenarios.scalper_bot import SCALPER_BOT
from tooling.simulator.scenarios.stolen_card import STOLEN_CARD
from tooling.simulator.scenarios.wash_trading import WASH_TRADING

SCENARIO_TABLE: tuple[Scenario, ...] = (
    HONEST_SHOPPING,
    SCALPER_BOT,
    STOLEN_CARD,
    WASH_TRADING,
    ACCOUNT_TAKEOVER,
)
SCENARIO_BY_NAME: dict[str, Scenario] = {s.name: s for s in SCENARIO_TABLE}

# Fraud scenarios and their share of the fraudulent orders (overall fraud is the config's fraud_rate).
SCENARIO_SHARES: dict[str, float] = {
    s.name: s.fraud_share for s in SCENARIO_TABLE if s.fraud_share is not None
}
# Every scenario name, fraud first: the order reports list them in.
SCENARIOS: tuple[str, ...] = (*SCENARIO_SHARES, *(s.name for s in SCENARIO_TABLE if not s.is_fraud))

__all__ = ["SCENARIOS", "SCENARIO_BY_NAME", "SCENARIO_SHARES", "SCENARIO_TABLE"]
