"""The ticket contract on an EVM: artifact loading, deployment, and log sources for the ETL.

Public API (other rooms import from here):
- units: `usd_to_wei`, `wei_to_usd`, `usd_to_cents`, `WEI_PER_USD`
- artifacts: `load_artifact(name="TicketMarket")` -> ContractArtifact(abi, bytecode), `ticket_market_abi()`
- EVM: `local_chain(genesis_timestamp=None)` -> Web3, `deploy(w3, ...)` -> TicketMarketClient,
  `set_next_block_timestamp(w3, ts)`, `ChainTransactionFailed`
- log sources: `LogSource` (protocol), `Web3LogSource(w3)`, `SyntheticChain(...)` (a LogSource that
  also takes the client's write calls; `reorg(depth)`), `Block`
"""

from __future__ import annotations

from shared.lazy import lazy_attributes

# Loaded on first use (PEP 562): the EVM side brings web3 and py-evm (seconds of imports), which the
# rooms that only need the units or the log-source protocol must not pay for.
_HOME = {
    **dict.fromkeys(("ContractArtifact", "load_artifact", "ticket_market_abi"), "artifacts"),
    **dict.fromkeys(
        (
            "ChainTransactionFailed",
            "Roles",
            "TicketMarketClient",
            "decode_revert",
            "deploy",
            "deploy_artifact",
            "local_chain",
            "set_next_block_timestamp",
        ),
        "evm",
    ),
    **dict.fromkeys(("LOG_KEYS", "Block", "BlockHeader", "LogSource", "Web3LogSource"), "source"),
    **dict.fromkeys(("SyntheticChain", "SyntheticChainError"), "synthetic"),
    **dict.fromkeys(("WEI_PER_USD", "usd_to_cents", "usd_to_wei", "wei_to_usd"), "units"),
}
_ALIASES = {"SyntheticLogSource": "SyntheticChain"}  # the name the cross-room interface uses


__getattr__ = lazy_attributes(__name__, _HOME, _ALIASES)

__all__ = [
    "LOG_KEYS",
    "WEI_PER_USD",
    "Block",
    "BlockHeader",
    "ChainTransactionFailed",
    "ContractArtifact",
    "LogSource",
    "Roles",
    "SyntheticChain",
    "SyntheticChainError",
    "SyntheticLogSource",
    "TicketMarketClient",
    "Web3LogSource",
    "decode_revert",
    "deploy",
    "deploy_artifact",
    "load_artifact",
    "local_chain",
    "set_next_block_timestamp",
    "ticket_market_abi",
    "usd_to_cents",
    "usd_to_wei",
    "wei_to_usd",
]
