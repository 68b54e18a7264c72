"""The marketplace simulator: users, wallets, events, tickets, sales and resales on the chain, sessions
and logins, fraud scenarios with delayed and noisy labels. `simulate(conn, SimulationConfig(...))`.

The names below load on first use (PEP 562): `simulate` and the tables bring the EVM (web3, seconds of
imports), which the scenario logic and its unit tests do not need."""

from __future__ import annotations

from shared.lazy import lazy_attributes

_HOME = {
    "LEGIT": "config",
    "SimulationConfig": "config",
    "SimulationResult": "config",
    "SIM_SCHEMA": "run",
    "TABLES": "run",
    "simulate": "run",
    "SCENARIO_SHARES": "scenarios",
    "SCENARIOS": "scenarios",
}


__getattr__ = lazy_attributes(__name__, _HOME)

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
