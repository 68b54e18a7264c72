"""The ticket contract on an EVM: artifact loading, deployment, and log sources for the ETL.

Its modules, imported by name (each says what it brings; the EVM side brings web3 and py-evm, seconds of
imports, which the rooms that only need the units or the log-source protocol do not pay for):
- `units`: `usd_to_wei`, `wei_to_usd`, `usd_to_cents`, `WEI_PER_USD`
- `artifacts`: `load_artifact(name="TicketMarket")` -> ContractArtifact(abi, bytecode), `ticket_market_abi()`
- `evm`: `local_chain(genesis_timestamp=None)` -> Web3, `deploy(w3, ...)` -> TicketMarketClient,
  `set_next_block_timestamp(w3, ts)`, `ChainTransactionFailed`
- `source`: `LogSource` (protocol), `Web3LogSource(w3)`, `Block`
- `synthetic`: `SyntheticChain(...)` (a LogSource that also takes the client's write calls; `reorg(depth)`)
"""
