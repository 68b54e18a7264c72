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
    """Days from the wallet's first Transfer before `at`; 0 for a wallet never seen before `at`."""
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
