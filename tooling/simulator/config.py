"""What a simulation run is asked to do, validated, and what it reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from shared.chain.source import LogSource

ChainMode = Literal["evm", "synthetic"]

# The scenario of honest orders; the others are fraud (the scenario table: tooling.simulator.scenarios).
LEGIT = "legit"

# Marketplace events (orders + sessions + login attempts + listings/delistings) per order, as the
# generator's behaviour mix produces them; `events_per_day` is turned into orders with it.
EVENTS_PER_ORDER = 3.0


def default_end() -> datetime:
    """Now, rounded down to the hour (so that two runs a few minutes apart cover the same window)."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


class SimulationConfig(BaseModel):
    """Same config (seed included, and an explicit `end`) -> identical rows and chain."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = Field(7, ge=0, le=2**63 - 1)
    days: float = Field(7.0, gt=0, le=400)
    transactions_per_day: int | None = Field(None, ge=1, le=5_000_000)
    events_per_day: int | None = Field(None, ge=4, le=20_000_000)
    chain: ChainMode = "synthetic"
    end: datetime = Field(default_factory=default_end)
    fraud_rate: float = Field(0.012, ge=0, le=0.5)
    # Labels: share of fraudulent orders never labelled, and labelled "not fraud" by mistake; share
    # of legitimate orders labelled fraud (friendly fraud) and labelled "not fraud" by a review.
    fraud_never_labelled: float = Field(0.07, ge=0, le=1)
    fraud_mislabelled: float = Field(0.03, ge=0, le=1)
    legit_mislabelled: float = Field(0.0015, ge=0, le=1)
    legit_reviewed: float = Field(0.05, ge=0, le=1)
    replace: bool = False  # truncate what a previous simulation wrote instead of refusing
    # The fixed demo identities of `make run` (tooling.simulator.demo), added after the simulated world.
    # Left out of model_dump (the run record says it only when set), so that runs without it record the
    # same config as before.
    demo_cast: bool = Field(False, exclude=True)
    # Post only the accounts the window touches, with the history their features read (tooling.simulator.trim:
    # `make run`'s seeding); the world is generated in full either way. Left out of model_dump like demo_cast.
    trim_to_window: bool = Field(False, exclude=True)
    # Where that window starts when it is not the world's start: the live-path evaluation's measured days
    # (tooling.livepath.replay); the history before it is trimmed the same way.
    trim_from: datetime | None = Field(None, exclude=True)

    @field_validator("end")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("end must be timezone-aware (UTC)")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _one_volume(self) -> SimulationConfig:
        if self.transactions_per_day is not None and self.events_per_day is not None:
            raise ValueError("give transactions_per_day or events_per_day, not both")
        return self

    @property
    def orders_per_day(self) -> int:
        if self.transactions_per_day is not None:
            return self.transactions_per_day
        if self.events_per_day is not None:
            return max(1, round(self.events_per_day / EVENTS_PER_ORDER))
        return 1_000

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)


@dataclass
class SimulationResult:
    """What `simulate` wrote. `log_source` serves the contract's logs (a Web3LogSource on the
    in-process EVM, or the SyntheticChain); `market` is the TicketMarketClient / SyntheticChain the
    sales went through; `w3` is the EVM's Web3 (None in synthetic mode)."""

    config: SimulationConfig
    start: datetime
    end: datetime
    chain: ChainMode
    log_source: LogSource
    contract_address: str
    market: Any
    w3: Any
    counts: dict[str, int]  # rows written per table ("marketplace.orders", ...)
    orders_by_scenario: dict[str, int]  # every scenario, fraud first (scenarios.SCENARIOS' order)
    labels: dict[str, int]  # written_fraud, written_legit, pending (due after `end`), never
    chain_transactions: int
    first_block: int
    last_block: int
    marketplace_events: int  # orders + sessions + login attempts + listings/delistings
    timings_s: dict[str, float] = field(default_factory=dict)
    trimmed: Any = None  # tooling.simulator.trim.Trimmed when config.trim_to_window

    @property
    def fraud_orders(self) -> int:
        return sum(n for s, n in self.orders_by_scenario.items() if s != LEGIT)

    @property
    def total_orders(self) -> int:
        return sum(self.orders_by_scenario.values())

    @property
    def fraud_share(self) -> dict[str, float]:
        """Per scenario, its orders as a share of all orders (the fraud scenarios sum to ~fraud_rate)."""
        total = max(1, self.total_orders)
        return {s: n / total for s, n in self.orders_by_scenario.items()}
