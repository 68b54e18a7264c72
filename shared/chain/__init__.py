"""The ticket contract on an EVM: artifact loading, deployment, and log sources for the ETL.

Public API (other rooms import from here):
- units: `usd_to_wei`, `wei_to_usd`, `usd_to_cents`, `WEI_PER_USD`
- artifacts: `load_artifact(name="TicketMarket")` -> ContractArtifact(abi, bytecode), `ticket_market_abi()`
- EVM: `local_chain(genesis_timestamp=None)` -> Web3, `deploy(w3, ...)` -> TicketMarketClient,
  `set_next_block_timestamp(w3, ts)`, `ChainTransactionFailed`
- log sources: `LogSource` (protocol), `Web3LogSource(w3)`, `SyntheticChain(...)` (a LogSource that
  also takes the client's write calls; `reorg(depth)`), `Block`
"""

from shared.chain.artifacts import ContractArtifact, load_artifact, ticket_market_abi
from shared.chain.evm import (
    ChainTransactionFailed,
    Roles,
    TicketMarketClient,
    decode_revert,
    deploy,
    deploy_artifact,
    local_chain,
    set_next_block_timestamp,
)
from shared.chain.source import LOG_KEYS, Block, BlockHeader, LogSource, Web3LogSource
from shared.chain.synthetic import SyntheticChain, SyntheticChainError
from shared.chain.units import WEI_PER_USD, usd_to_cents, usd_to_wei, wei_to_usd

SyntheticLogSource = SyntheticChain  # the name the cross-room interface uses

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
