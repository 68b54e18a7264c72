"""The marketplace simulator: users, wallets, events, tickets, sales and resales on the chain, sessions
and logins, fraud scenarios with delayed and noisy labels. `simulate(conn, SimulationConfig(...))`.

Its modules, imported by name: `config` (SimulationConfig, SimulationResult, LEGIT) and `scenarios`
(SCENARIOS, SCENARIO_SHARES) are light; `run` (simulate, TABLES, SIM_SCHEMA) brings the EVM (web3,
seconds of imports), which the scenario logic and its unit tests do not need."""
