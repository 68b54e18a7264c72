"""Every Redis key TicketGuard writes: its prefix, its lifetime and who owns it, in one table.

The key strings are a contract with the data already in a deployed cache (a deploy must not strand
or misread it): change a prefix only together with a migration of what it names.

Prefix families:
- `tg:f:`      the online feature store's entity hashes (ticket, wallet, event). The batch feature
               jobs drop them all (SCAN on `tg:f:*`) after publishing a snapshot.
- `tg:rt:`     the real-time windows the scoring path keeps itself (velocity, last location, first
               purchase); exact, never dropped by a batch job.
- `tg:fgen`    the feature snapshot generation (one counter, no TTL, outside `tg:f:*`): bumped by
               each published batch snapshot; a write-back of values read before the bump is refused.
- `tg:wu:`, `tg:bl:`  the scoring lookup's cache (wallet -> user link, blocklist verdicts).
- `tg:{rl}:`   the sliding-window rate limits (hash tag `{rl}`: one slot on a cluster-mode Redis), and
               the traffic counts per minute beside them (`tg:{rl}:traffic:`, shared.ratelimit.traffic).
- `tg:{px}:`   the pricing experiment's hot arm statistics and settled rewards (hash tag `{px}`: its
               Lua script touches both keys); no TTL, rebuilt from PostgreSQL (pricing.rewards) when gone.
- `tg:{siem}:` the SIEM's correlation windows and finding latches (hash tag `{siem}`: one slot, so
               one script call per batch may touch them all).
- `tg:mon:`    the monitoring page's cache (a past day's drift measurement).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KeySpace:
    """A family of keys: `prefix` + the entity's identifier."""

    prefix: str
    ttl: str  # the lifetime, in words when a writer decides it (the constants below hold the numbers)
    owner: str

    def key(self, identifier: object) -> str:
        return f"{self.prefix}{identifier}"


# ------------------------------------------------------------------ lifetimes (seconds)
# The entity hashes live Settings.feature_cache_ttl_seconds (TG_FEATURE_CACHE_TTL_SECONDS, spec 2.1).
VELOCITY_SLACK_S = 60  # the velocity window outlives its hour by this much
LOCATION_TTL_S = 30 * 86_400
# Long enough for the ETL to have loaded the purchase, after which PostgreSQL knows it too.
FIRST_PURCHASE_TTL_S = 7 * 86_400
# A new blocklist entry applies within this time.
BLOCKLIST_CACHE_TTL_S = 30
WALLET_USER_CACHE_TTL_S = 300

# ------------------------------------------------------------------ the catalogue
FEATURE_ENTITY_PREFIX = "tg:f:"
FEATURE_TICKET = KeySpace("tg:f:ticket:", "Settings.feature_cache_ttl_seconds", "features.redis_store")
FEATURE_WALLET = KeySpace("tg:f:wallet:", "Settings.feature_cache_ttl_seconds", "features.redis_store")
FEATURE_EVENT = KeySpace("tg:f:event:", "Settings.feature_cache_ttl_seconds", "features.redis_store")
FEATURE_GENERATION = "tg:fgen"
VELOCITY = KeySpace("tg:rt:vel:", "the 1-hour window + VELOCITY_SLACK_S", "features.redis_store")
LOCATION = KeySpace(
    "tg:rt:loc:", "LOCATION_TTL_S (the feature cache TTL when seeded)", "features.redis_store"
)
FIRST_PURCHASE = KeySpace("tg:rt:first:", "FIRST_PURCHASE_TTL_S", "features.redis_store")
WALLET_USER = KeySpace("tg:wu:", "WALLET_USER_CACHE_TTL_S", "scoring.lookup")
BLOCKLIST_WALLET = KeySpace("tg:bl:w:", "BLOCKLIST_CACHE_TTL_S", "scoring.lookup")
BLOCKLIST_IP = KeySpace("tg:bl:ip:", "BLOCKLIST_CACHE_TTL_S", "scoring.lookup")
RATE_LIMIT = KeySpace("tg:{rl}:", "the rule's window; traffic counts 2 hours", "ratelimit.limiter")
PRICING = KeySpace("tg:{px}:", "none (rebuilt from pricing.rewards when missing)", "pricing.stats")
SIEM_WINDOW = KeySpace("tg:{siem}:w:", "two of the rule's windows past its newest event", "siem.correlation")
SIEM_LATCH = KeySpace("tg:{siem}:l:", "the rule's window", "siem.correlation")
MONITORING_DRIFT = KeySpace(
    "tg:mon:drift:", "8 days (a past day's drift does not change)", "monitoring.model"
)

CATALOGUE: tuple[KeySpace, ...] = (
    FEATURE_TICKET,
    FEATURE_WALLET,
    FEATURE_EVENT,
    VELOCITY,
    LOCATION,
    FIRST_PURCHASE,
    WALLET_USER,
    BLOCKLIST_WALLET,
    BLOCKLIST_IP,
    RATE_LIMIT,
    PRICING,
    SIEM_WINDOW,
    SIEM_LATCH,
    MONITORING_DRIFT,
)
