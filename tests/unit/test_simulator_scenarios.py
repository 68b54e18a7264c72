"""The scenario table: one row per scenario module, and rows that the planning, the payments and
the labels can rely on."""

from __future__ import annotations

import importlib
import math
import pkgutil
from datetime import UTC, datetime

import tooling.simulator.scenarios as scenarios_package
from tooling.simulator.config import LEGIT, SimulationConfig
from tooling.simulator.generate import orders_per_scenario
from tooling.simulator.scenario import Scenario
from tooling.simulator.scenarios import SCENARIO_BY_NAME, SCENARIO_SHARES, SCENARIO_TABLE, SCENARIOS


def test_every_scenario_module_has_its_row_in_the_table() -> None:
    # Given every module of the scenarios package
    rows_by_module = {}
    for module_info in pkgutil.iter_modules(scenarios_package.__path__):
        module = importlib.import_module(f"{scenarios_package.__name__}.{module_info.name}")
        rows_by_module[module_info.name] = [v for v in vars(module).values() if isinstance(v, Scenario)]
    # Then each defines exactly one scenario, and that scenario is in the table (a module whose row
    # was forgotten would never run)
    assert rows_by_module and all(len(rows) == 1 for rows in rows_by_module.values()), rows_by_module
    assert sorted(rows[0].name for rows in rows_by_module.values()) == sorted(s.name for s in SCENARIO_TABLE)
    assert all(rows[0] is SCENARIO_BY_NAME[rows[0].name] for rows in rows_by_module.values())


def test_rows_are_complete_and_consistent() -> None:
    names = [s.name for s in SCENARIO_TABLE]
    assert len(set(names)) == len(names)
    # one honest scenario, planned first (the order of the table is the order of the draws)
    assert [s.name for s in SCENARIO_TABLE if not s.is_fraud] == [LEGIT] == names[:1]
    assert math.isclose(sum(SCENARIO_SHARES.values()), 1.0)
    for scenario in SCENARIO_TABLE:
        assert min(scenario.declined, scenario.refunded) >= 0
        assert scenario.declined + scenario.refunded <= 1
        if scenario.is_fraud:
            # somebody can find it out, never before the purchase
            assert scenario.label_sources, scenario.name
            assert all(0 <= s.delay_days[0] <= s.delay_days[1] for s in scenario.label_sources)
        else:
            assert not scenario.label_sources  # honest orders' labels come from the config's rates


def test_reports_list_the_scenarios_fraud_first_as_before() -> None:
    assert SCENARIOS == ("scalper_bot", "stolen_card", "wash_trading", "account_takeover", "legit")


def test_orders_per_scenario_adds_up_and_every_fraud_scenario_shows_up() -> None:
    end = datetime(2026, 11, 20, tzinfo=UTC)
    # Given a tiny world, where a share of the fraud would round to nothing
    tiny = orders_per_scenario(SimulationConfig(days=1, transactions_per_day=20, end=end))
    # Then every fraud scenario still gets an order, and honest shopping the rest
    assert sum(tiny.values()) == 20 and all(tiny[name] >= 1 for name in SCENARIO_SHARES)
    # And without fraud, every order is honest
    assert orders_per_scenario(SimulationConfig(days=1, transactions_per_day=20, fraud_rate=0, end=end)) == {
        LEGIT: 20,
        **dict.fromkeys(SCENARIO_SHARES, 0),
    }
