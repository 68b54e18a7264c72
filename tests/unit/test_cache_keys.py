"""The key catalogue: the key strings a deployed cache already holds stay what they were, and the
families do not overlap (a batch job's SCAN of the entity family drops nothing else)."""

from __future__ import annotations

from datetime import UTC, datetime
from fnmatch import fnmatchcase

from shared.cache import keys
from shared.features.facts import ScoringContext
from shared.features.redis_store import _read_keys_args
from shared.ratelimit.limiter import Rule, _key
from shared.scoring.lookup import cache_keys

WALLET = "0x" + "ab" * 20


def test_the_key_strings_of_a_deployed_cache_are_unchanged() -> None:
    # Given a purchase as the scoring path sees it
    ctx = ScoringContext(WALLET, 42, 10.0, "192.0.2.1", datetime(2026, 3, 2, tzinfo=UTC))
    # Then the feature store reads the keys it always has (and the new snapshot generation)
    read_keys, args = _read_keys_args(ctx)
    assert read_keys == [
        "tg:f:ticket:42",
        f"tg:f:wallet:{WALLET}",
        f"tg:rt:vel:{WALLET}",
        f"tg:rt:first:{WALLET}",
        "tg:fgen",
    ]
    assert args[3:] == ["tg:f:event:", "tg:rt:loc:"]
    # And the lookup cache and the rate limits too
    assert cache_keys(WALLET, "192.0.2.1") == [f"tg:wu:{WALLET}", f"tg:bl:w:{WALLET}", "tg:bl:ip:192.0.2.1"]
    assert cache_keys(WALLET, None)[2] == "tg:bl:ip:-"
    assert _key(Rule("ip", 100, 60, "ip"), "192.0.2.1").startswith("tg:{rl}:ip:")


def test_the_families_do_not_overlap_and_only_entities_match_the_batch_jobs_scan() -> None:
    prefixes = [space.prefix for space in keys.CATALOGUE]
    assert len(set(prefixes)) == len(prefixes)
    for a in prefixes:
        for b in prefixes:
            assert a == b or not a.startswith(b), (a, b)
    scanned = f"{keys.FEATURE_ENTITY_PREFIX}*"
    entities = {keys.FEATURE_TICKET, keys.FEATURE_WALLET, keys.FEATURE_EVENT}
    for space in keys.CATALOGUE:
        assert fnmatchcase(space.key("x"), scanned) == (space in entities), space.prefix
    assert not fnmatchcase(keys.FEATURE_GENERATION, scanned)
