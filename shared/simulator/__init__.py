"""The marketplace simulator: users, wallets, events, tickets, sales and resales on the chain, sessions
and logins, fraud scenarios with delayed and noisy labels. `simulate(conn, SimulationConfig(...))`."""

from shared.simulator.config import LEGIT, SimulationConfig, SimulationResult
from shared.simulator.run import SIM_SCHEMA, TABLES, simulate
from shared.simulator.scenarios import SCENARIO_SHARES, SCENARIOS

__all__ = [
    "LEGIT",
    "SCENARIOS",
    "SCENARIO_SHARES",
    "SIM_SCHEMA",
    "TABLES",
    "SimulationConfig",
    "SimulationResult",
    "simulate",
]
