"""The arithmetic of the features, one function each, shared by the batch jobs, the real-time
path and the training-set builder (the data each path gathers differs; the formula does not)."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.geo import great_circle_km

VELOCITY_WINDOW = timedelta(hours=1)
POPULARITY_WINDOW = timedelta(hours=24)
PRICE_REFERENCE_WINDOW = timedelta(hours=7 * 24)
PAYMENT_WINDOW = timedelta(hours=30 * 24)
CENTRALITY_WINDOW = timedelta(hours=30 * 24)
GEO_SPEED_LIMIT_KMH = 900.0
GEO_MIN_DISTANCE_KM = 100.0


def wallet_age_days(first_seen_at: datetime | None, at: datetime) -> float:
    """Days from the wallet's first record before `at` (the earliest of its registration, first
    Transfer and first purchase: definitions.py); 0 for a wallet with none before `at`."""
    if first_seen_at is None or first_seen_at >= at:
        return 0.0
    return (at - first_seen_at).total_seconds() / 86_400.0


def resale_time_hours(minted_at: datetime, at: datetime) -> float:
    return (at - minted_at).total_seconds() / 3_600.0


def price_deviation_ratio(price: float, median_7d: float | None, face_value: float | None) -> float | None:
    """(p - ref) / ref with ref = the 7-day median trade price, else the face value; missing when
    there is no positive reference (a free event has no meaningful deviation)."""
    reference = median_7d if median_7d is not None else face_value
    if reference is None or reference <= 0:
        return None
    return (float(price) - float(reference)) / float(reference)


def event_popularity_score(tickets_sold: int, capacity: int, sales_24h: int, max_sales_24h: int) -> float:
    """0.5 x sell-through (capped at 1) + 0.5 x the event's share of the busiest event's 24 h sales."""
    sell_through = min(1.0, tickets_sold / capacity) if capacity > 0 else 0.0
    momentum = sales_24h / max_sales_24h if max_sales_24h > 0 else 0.0
    return 0.5 * sell_through + 0.5 * momentum


def geo_velocity_flag(
    previous: tuple[float, float, datetime] | None, lat: float | None, lon: float | None, at: datetime
) -> float:
    """1.0 when going from the previous location (lat, lon, time) to this one implies > 900 km/h
    over more than 100 km; 0.0 otherwise, including when either location is unknown."""
    if previous is None or lat is None or lon is None:
        return 0.0
    prev_lat, prev_lon, prev_at = previous
    distance = great_circle_km(prev_lat, prev_lon, lat, lon)
    if distance <= GEO_MIN_DISTANCE_KM:
        return 0.0
    hours = (at - prev_at).total_seconds() / 3_600.0
    if hours <= 0:
        return 1.0
    return 1.0 if distance / hours > GEO_SPEED_LIMIT_KMH else 0.0


# ------------------------------------------------------------------ the signals beyond the spec's ten
# (shared.features.signals computes them; each window is held by tests/unit/test_feature_signals.py)
PAYMENT_VELOCITY_WINDOW = timedelta(hours=24)  # payment_instruments_24h
SHARED_INSTRUMENT_WINDOW = timedelta(days=7)  # instrument_wallets_7d
FAILED_LOGIN_WINDOW = timedelta(hours=1)  # failed_logins_1h
RECENT_SESSION_WINDOW = timedelta(hours=2)  # the session a purchase belongs to: started this long before
ACCOUNT_HISTORY_WINDOW = timedelta(days=90)  # new_device / new_ip compare with the sessions before that
RING_WINDOW = timedelta(days=30)  # resale_cycle_length: the resales a closed cycle is looked for in
RING_MAX_LENGTH = 4  # wallets on the longest cycle looked for (3-5 wallet rings close within 4 hops mostly)


def account_age_days(registered_at: datetime | None, at: datetime) -> float | None:
    """Days from the account's registration (the marketplace's own record) to `at`; None without an
    account (or one registered after `at`: not an account at `at`)."""
    if registered_at is None or registered_at > at:
        return None
    return (at - registered_at).total_seconds() / 86_400.0


def novelty_flag(has_history: bool, seen_before: bool | None) -> float:
    """1.0 when an account with history before the recent window shows something (a device, an IP)
    none of that history had; 0.0 when it was seen, when there is no history to differ from, or when
    the thing is unknown (None)."""
    if not has_history or seen_before is None:
        return 0.0
    return 0.0 if seen_before else 1.0


def cycle_length(hops_back: int | None) -> float:
    """The closed cycle a resale makes: the purchase's edge (seller -> buyer) plus the shortest path of
    earlier resales from the buyer back to the seller (`hops_back` edges): hops_back + 1 wallets. 0.0
    when no path within RING_MAX_LENGTH - 1 hops exists (or a primary sale: no seller wallet)."""
    if hops_back is None or hops_back < 1 or hops_back > RING_MAX_LENGTH - 1:
        return 0.0
    return float(hops_back + 1)


def foreign_ip_flag(account_country: str | None, ip_country: str | None) -> float | None:
    """1.0 when the buyer IP geolocates to a country other than the one the account registered in, 0.0
    when the same or when the IP is unknown (not sent, or one the database cannot place: as for new_ip
    and geo_velocity_flag, coarse data never flags); None without an account's country."""
    if not account_country:
        return None
    if not ip_country:
        return 0.0
    return 0.0 if account_country.strip().upper() == ip_country.upper() else 1.0
